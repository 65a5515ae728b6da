// What a gateway's maintenance SSH server saw (logins, failed attempts) and the operator's own key
// changes, reported with the heartbeat: each becomes an audit entry, attributed to the gateway.
import type { SshEvent } from "@meetpoint/common";
import { recordAudit } from "../audit/index.ts";
import { type Db, inTransaction } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";

/**
 * Writes one audit entry per reported event, all in one transaction: a report is recorded whole or
 * not at all, and the gateway sends its events again until a heartbeat is answered (at least once).
 */
export async function recordSshEvents(
  deps: { db: Db; clock: Clock },
  gateway: { id: string; name: string; customerId: string },
  events: SshEvent[],
  ip: string | null,
): Promise<void> {
  if (events.length === 0) return;
  await inTransaction(deps.db, async (tx) => {
    for (const event of events) {
      const login = event.kind === "login" || event.kind === "failed";
      await recordAudit(tx, deps.clock, {
        actor: login
          ? { id: null, name: `ssh ${event.user ?? "?"} from ${event.from ?? "?"}`, ip: null }
          : { id: null, name: `operator at gateway ${gateway.name}`, ip },
        action: login ? "gateway.ssh_login" : "gateway.ssh_local_key",
        target: { type: "gateway", id: gateway.id },
        customerId: gateway.customerId,
        result: event.kind === "failed" ? "failed" : "ok",
        detail: {
          at: event.at,
          kind: event.kind,
          user: event.user,
          from: event.from,
          fingerprint: event.fingerprint,
          detail: event.detail,
          reportedBy: `gateway ${gateway.name}`,
        },
      });
    }
  });
}
