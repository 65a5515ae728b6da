// Which maintenance window covers a request now, and the occurrences a gateway is told of. Queries
// over a gateway's windows; the timing rules are window-times.ts.
import { and, eq, isNull } from "drizzle-orm";
import { type Db, maintenanceWindows } from "../db/index.ts";
import { WINDOW_HORIZON_MS } from "./window-input.ts";
import { type Occurrence, occurrenceAt, occurrencesBetween } from "./window-times.ts";

type MaintenanceWindow = typeof maintenanceWindows.$inferSelect;

/** What a request is matched on: gateway, technician, services (with their modes), when. */
export interface WindowRequestFacts {
  gatewayId: string;
  technicianId: string;
  services: { serviceId: string; mode?: string }[];
  at: Date;
}

/** A window that covers a request, and its occurrence open at the request's time. */
export interface WindowMatch {
  window: MaintenanceWindow;
  occurrence: Occurrence;
}

/** A window's occurrence the gateway is told of: it arms at `start` and disarms at `end`. */
export interface UpcomingWindow {
  id: string;
  start: Date;
  end: Date;
  reason: string;
  createdBy: string;
}

function openWindows(db: Db, gatewayId: string) {
  return db
    .select()
    .from(maintenanceWindows)
    .where(
      and(eq(maintenanceWindows.gatewayId, gatewayId), isNull(maintenanceWindows.cancelledAt)),
    );
}

/**
 * The window that pre-approves `request`: on its gateway, not cancelled, open at its time, naming
 * the technician (or naming none), covering every asked service (or naming none), and read_only
 * only for a request whose every service is read-only Modbus. A window never approves a request of
 * its own creator (no self-approval: that request follows the site's policy). The earliest-ending
 * match wins (the request ends with it). Null: none.
 */
export async function matchingWindow(
  db: Db,
  request: WindowRequestFacts,
): Promise<WindowMatch | null> {
  const candidates = await openWindows(db, request.gatewayId);
  const readOnly = request.services.every((s) => s.mode === "modbus-read-only");
  const matches = candidates.flatMap((window) => {
    const occurrence = occurrenceAt(window, request.at);
    if (!occurrence) return [];
    if (window.createdBy === request.technicianId) return [];
    if (window.technicianIds.length && !window.technicianIds.includes(request.technicianId))
      return [];
    if (
      window.serviceIds.length &&
      !request.services.every((s) => window.serviceIds.includes(s.serviceId))
    )
      return [];
    if (window.mode === "read_only" && !readOnly) return [];
    return [{ window, occurrence }];
  });
  matches.sort((a, b) => a.occurrence.end.getTime() - b.occurrence.end.getTime());
  return matches[0] ?? null;
}

/**
 * Whether a session approved by a window (`windowId`) ends at that window's end: `endsAt` is the
 * end of the window's occurrence open just before it. False without a window, or when the session
 * ends earlier (its own minutes ran out first). Used to say `window_ended`, not `expiry`.
 */
export async function endsWithItsWindow(
  db: Db,
  session: { windowId: string | null; endsAt: Date },
): Promise<boolean> {
  if (!session.windowId) return false;
  const [window] = await db
    .select()
    .from(maintenanceWindows)
    .where(eq(maintenanceWindows.id, session.windowId));
  if (!window) return false;
  const occurrence = occurrenceAt(window, new Date(session.endsAt.getTime() - 1));
  return occurrence?.end.getTime() === session.endsAt.getTime();
}

/** The occurrences of a gateway's windows open at `now` or starting within the horizon (24 h). */
export async function upcomingOccurrences(
  db: Db,
  gatewayId: string,
  now: Date,
): Promise<UpcomingWindow[]> {
  const until = new Date(now.getTime() + WINDOW_HORIZON_MS);
  return (await openWindows(db, gatewayId))
    .flatMap((w) =>
      occurrencesBetween(w, now, until).map((o) => ({
        id: w.id,
        start: o.start,
        end: o.end,
        reason: w.reason,
        createdBy: w.createdByName,
      })),
    )
    .sort((a, b) => a.start.getTime() - b.start.getTime());
}
