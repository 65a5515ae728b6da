// A delete that would orphan something is refused before anything changes: the refusal lists what
// still belongs to the thing (the page links to each), and is audited as denied with that list.
import type { Context } from "../access/index.ts";
import { type AuditAction, recordAuditAlone } from "../audit/index.ts";
import { type Dependent, InUseError } from "../shared/index.ts";

const WHAT: Record<string, string> = {
  customer: "The customer",
  site: "The site",
  gateway: "The gateway",
};

/** Throws InUseError (after auditing the refusal) when `dependents` is not empty. */
export async function refuseWhileInUse(
  ctx: Context,
  refused: {
    action: AuditAction;
    target: { type: string; id: string; name: string };
    customerId: string;
    dependents: Dependent[];
  },
): Promise<void> {
  if (refused.dependents.length === 0) return;
  const { target } = refused;
  await recordAuditAlone(ctx.db, ctx.clock, {
    actor: ctx.caller.actor,
    action: refused.action,
    target: { type: target.type, id: target.id },
    customerId: refused.customerId,
    result: "denied",
    detail: {
      name: target.name,
      reason: "still in use",
      inUse: refused.dependents.slice(0, 20).map((d) => `${d.type} ${d.name}`),
      inUseCount: refused.dependents.length,
    },
  });
  throw new InUseError(`${WHAT[target.type] ?? target.type} ${target.name}`, refused.dependents);
}
