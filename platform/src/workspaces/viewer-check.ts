// Whether an open desktop connection may go on: what the WebSocket upgrade checked, checked again
// while it lasts — the portal sign-in (signed out, expired, the user disabled), its second factor,
// access to the workspace (a grant revoked, the workspace deleted) and the run it was opened on.
import type { Db } from "../db/index.ts";
import { loadWebSessionById, type SessionPolicy } from "../identity/index.ts";
import { type Clock, ForbiddenError, NotFoundError } from "../shared/index.ts";
import type { WorkspaceDisplays } from "./displays.ts";
import type { ViewerGrant } from "./relay.ts";
import { sessionPassedSecondFactor } from "./second-factor.ts";
import { getWorkspace } from "./workspaces.ts";

/**
 * A check for VncRelay: null while `grant`'s connection may go on, else why it must end. Throws
 * when the database does not answer (the relay then keeps the connection: a lost database is cut
 * by DatabaseWatch, fail closed, not by one failed check). Each check counts as activity of the
 * portal sign-in (an open desktop is use of the portal); its absolute lifetime still ends it.
 */
export function viewerCheck(deps: {
  db: Db;
  clock: Clock;
  session: SessionPolicy;
  displays: WorkspaceDisplays;
}): (grant: ViewerGrant) => Promise<string | null> {
  return async (grant) => {
    const { db, clock } = deps;
    const session = await loadWebSessionById(db, clock, deps.session, grant.webSessionId);
    if (!session) return "the portal sign-in ended (signed out, expired, or the user was disabled)";
    if (!sessionPassedSecondFactor(session))
      return "the portal sign-in no longer has its second factor";
    const ctx = {
      db,
      clock,
      caller: {
        principal: session.principal,
        actor: { id: session.principal.userId, name: session.principal.username, ip: grant.ip },
      },
    };
    try {
      await getWorkspace(ctx, grant.workspaceId);
    } catch (error) {
      if (error instanceof NotFoundError || error instanceof ForbiddenError)
        return "access to the workspace was withdrawn (grant revoked, role removed or workspace deleted)";
      throw error;
    }
    const display = await deps.displays.lookup(grant.workspaceId);
    if (display?.runId !== grant.display.runId) return "the workspace stopped";
    return null;
  };
}
