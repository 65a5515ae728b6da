// The read-only Modbus filter's evidence as a gateway reports it in its heartbeat: per remote session
// of that gateway, reads passed and requests refused by function code. Kept on the session (the
// portal shows it; the end's audit entry carries it as last reported); counts that arrive after the
// end are audited on their own, so the log holds the final figures too.
import type { ModbusEvidence as ReportedEvidence } from "@meetpoint/common";
import { and, eq, inArray } from "drizzle-orm";
import { type Actor, recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import {
  type Db,
  gatewaySessions,
  type gateways,
  inTransaction,
  type ModbusEvidence,
  remoteSessions,
} from "../db/index.ts";
import type { Clock } from "../shared/index.ts";

type Gateway = typeof gateways.$inferSelect;

const same = (a: ModbusEvidence | null, b: ReportedEvidence) =>
  a !== null &&
  a.closed === b.closed &&
  JSON.stringify(a.passed) === JSON.stringify(b.passed) &&
  JSON.stringify(a.refused) === JSON.stringify(b.refused);

/**
 * Records what `gateway` reported for its own remote sessions; reports naming a session of another
 * gateway (or none) are ignored — a gateway's secret reaches only its own sessions.
 */
export async function recordModbusEvidence(
  deps: { db: Db; clock: Clock },
  gateway: Pick<Gateway, "id" | "name" | "customerId">,
  reports: ReportedEvidence[],
  ip: string | null,
): Promise<void> {
  if (reports.length === 0) return;
  const { db, clock } = deps;
  const rows = await db
    .select({ session: remoteSessions })
    .from(remoteSessions)
    .innerJoin(gatewaySessions, eq(gatewaySessions.id, remoteSessions.gatewaySessionId))
    .where(
      and(
        eq(gatewaySessions.gatewayId, gateway.id),
        inArray(
          remoteSessions.id,
          reports.map((r) => r.remoteSessionId),
        ),
      ),
    );
  const actor: Actor = { ...SYSTEM_ACTOR, name: `gateway ${gateway.name}`, ip };
  const reportedAt = clock.now().toISOString();
  for (const { session } of rows) {
    const report = reports.find((r) => r.remoteSessionId === session.id);
    if (!report || same(session.modbusEvidence, report)) continue;
    const evidence: ModbusEvidence = {
      passed: report.passed,
      refused: report.refused,
      closed: report.closed,
      reportedAt,
    };
    await inTransaction(db, async (tx) => {
      await tx
        .update(remoteSessions)
        .set({ modbusEvidence: evidence })
        .where(eq(remoteSessions.id, session.id));
      if (session.state === "ended" && session.machineId)
        await recordAudit(tx, clock, {
          actor,
          action: "remote_session.modbus_evidence",
          target: { type: "machine", id: session.machineId },
          customerId: session.customerId,
          detail: { remoteSessionId: session.id, modbusEvidence: evidence },
        });
    });
  }
}
