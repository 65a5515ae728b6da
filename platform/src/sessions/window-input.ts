// What a maintenance window may be: the input a window is created from (portal form or gateway
// API), the limits on its length and start, and its state at an instant. Pure.
import { z } from "zod";
import { type maintenanceWindows, WINDOW_MODES } from "../db/index.ts";
import { FORMAT_CHARACTER, FORMAT_MESSAGE } from "../shared/index.ts";
import { occurrenceAt } from "./window-times.ts";

type MaintenanceWindow = typeof maintenanceWindows.$inferSelect;

/** How far in the past a window may start (a form filled in a minute ago), in milliseconds. */
export const PAST_SLACK_MS = 60_000;
/** The longest single window, in milliseconds (31 days); a weekly one is at most a week. */
export const LONGEST_ONCE_MS = 31 * 24 * 3600 * 1000;
/** How far ahead the gateway is told its windows' occurrences (the heartbeat), in milliseconds. */
export const WINDOW_HORIZON_MS = 24 * 3600 * 1000;

const instant = z
  .string({ error: "is required" })
  .trim()
  .min(1, "is required")
  // A form's datetime-local has no zone: it is read as UTC (the pages say so).
  .transform((s) => (/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(s) ? `${s}Z` : s))
  .pipe(z.coerce.date({ error: "must be a date and time (UTC), e.g. 2026-12-01T08:00Z" }));

const ids = z
  .union([z.array(z.string()), z.string()], { error: "must be a list of ids" })
  .optional()
  .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : v ? [v] : []))
  .pipe(z.array(z.string().uuid("must be ids")).max(100, "at most 100"));

/**
 * A window as asked for: `start` and `end` (ISO times; a zone-less form value is UTC), `weekly`,
 * `technicians` (user ids; none: every technician of the customer), `services` (service ids of
 * the gateway's machines; none: all enabled), `mode` ("full" | "read_only") and `reason`.
 */
export const windowInput = z.object({
  start: instant,
  end: instant,
  weekly: z
    .union([z.boolean(), z.literal("on"), z.literal("true"), z.literal("")])
    .optional()
    .transform((v) => v === true || v === "on" || v === "true"),
  technicians: ids,
  services: ids,
  mode: z
    .enum(WINDOW_MODES, { error: `must be one of ${WINDOW_MODES.join(", ")}` })
    .default("full"),
  reason: z
    .string({ error: "is required" })
    .refine((v) => !FORMAT_CHARACTER.test(v), FORMAT_MESSAGE)
    .trim()
    .min(3, "say what the window is for (at least 3 characters)")
    .max(200),
});

/** Whether a window still applies at `at` (not cancelled, and open now or later). */
export function windowState(
  w: MaintenanceWindow,
  at: Date,
): "cancelled" | "open" | "upcoming" | "over" {
  if (w.cancelledAt) return "cancelled";
  if (occurrenceAt(w, at)) return "open";
  if (w.weekly || w.startsAt > at) return "upcoming";
  return "over";
}
