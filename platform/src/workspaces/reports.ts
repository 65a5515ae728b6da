// The workspace supervisor's reports (common's WorkspaceReport), authenticated by the run's bearer
// token: they move the run's VPN state and last error; the VPN coming up or going down is audited.
import { createHash } from "node:crypto";
import { workspaceReportSchema } from "@meetpoint/common";
import { DEFAULT_REPORT_SECONDS } from "@meetpoint/workspace/src/spec.ts";
import { and, eq } from "drizzle-orm";
import { recordAudit } from "../audit/index.ts";
import { type Db, inTransaction, workspaceRuns, workspaces } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import { ValidationError } from "../shared/index.ts";
import type { WorkspaceRun } from "./runtime.ts";

/** A running workspace's report is overdue after three of the supervisor's intervals: 90 s. */
export const REPORT_OVERDUE_MS = 3 * DEFAULT_REPORT_SECONDS * 1000;

/**
 * For a running run whose supervisor has not reported for REPORT_OVERDUE_MS at `now`: the time of
 * its last report (or, with none yet, when the desktop answered); else null. Its VPN state may be
 * stale then — the report channel is broken (the platform's certificate changed since the start,
 * the network, the supervisor).
 */
export function reportOverdueSince(
  run: Pick<WorkspaceRun, "state" | "reportedAt" | "runningAt" | "startedAt">,
  now: Date,
): Date | null {
  if (run.state !== "running") return null;
  const last = run.reportedAt ?? run.runningAt ?? run.startedAt;
  return now.getTime() - last.getTime() > REPORT_OVERDUE_MS ? last : null;
}

/** Largest report body accepted, in bytes. */
export const REPORT_MAX_BYTES = 4096;

/**
 * Applies one report. `token`: the bearer token as sent; `body`: the parsed JSON; `ip`: where it
 * came from (audited). Returns false when the token belongs to no live run (the caller answers
 * 401: a wrong token, or a stopped run's); throws a ValidationError naming the invalid field.
 */
export async function acceptReport(
  db: Db,
  clock: Clock,
  token: string,
  body: unknown,
  ip: string | null,
): Promise<boolean> {
  if (token.length < 16 || token.length > 200) return false;
  const hash = createHash("sha256").update(token).digest("hex");
  const [run] = await db
    .select({ run: workspaceRuns, customerId: workspaces.customerId })
    .from(workspaceRuns)
    .innerJoin(workspaces, eq(workspaces.id, workspaceRuns.workspaceId))
    .where(eq(workspaceRuns.reportTokenHash, hash));
  if (!run || run.run.state === "stopped" || run.run.state === "failed") return false;
  const parsed = workspaceReportSchema.safeParse(body);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.join(".") || "(body)";
    throw new ValidationError(field, parsed.error.issues[0]?.message ?? "is invalid");
  }
  const report = parsed.data;
  await inTransaction(db, async (tx) => {
    // The state before, read under the row's lock: reports at once audit a change once.
    const [locked] = await tx
      .select({ vpn: workspaceRuns.vpn })
      .from(workspaceRuns)
      .where(eq(workspaceRuns.id, run.run.id))
      .for("update");
    const before = locked?.vpn ?? null;
    await tx
      .update(workspaceRuns)
      .set({ vpn: report.vpn, vpnError: report.lastError ?? null, reportedAt: clock.now() })
      .where(and(eq(workspaceRuns.id, run.run.id), eq(workspaceRuns.reportTokenHash, hash)));
    const transition = report.vpn !== before && (report.vpn === "up" || before === "up");
    if (transition || report.fatal)
      await recordAudit(tx, clock, {
        actor: { id: null, name: "workspace supervisor", ip },
        action: "workspace.vpn",
        target: { type: "workspace", id: run.run.workspaceId },
        customerId: run.customerId,
        result: report.vpn === "up" ? "ok" : "failed",
        detail: {
          run: run.run.id,
          vpn: report.vpn,
          before,
          lastError: report.lastError ?? null,
          fatal: report.fatal ?? false,
          observedAt: report.at,
        },
      });
  });
  return true;
}
