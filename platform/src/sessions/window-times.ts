// When a maintenance window is open: its occurrences (once, or every 7 days from its start), which
// one covers an instant, which fall in a span, and whether two windows ever overlap. Pure.

/** A week, in milliseconds. */
export const WEEK_MS = 7 * 24 * 3600 * 1000;

/** A window's timing: its first occurrence, and whether it repeats weekly (until cancelled). */
export interface WindowTiming {
  startsAt: Date;
  endsAt: Date;
  weekly: boolean;
}

/** One occurrence: from `start` (inclusive) to `end` (exclusive). */
export interface Occurrence {
  start: Date;
  end: Date;
}

const durationOf = (w: WindowTiming) => w.endsAt.getTime() - w.startsAt.getTime();

/** The occurrence of `w` that covers instant `at`, or null when the window is closed then. */
export function occurrenceAt(w: WindowTiming, at: Date): Occurrence | null {
  const t = at.getTime();
  const first = w.startsAt.getTime();
  if (t < first) return null;
  const k = w.weekly ? Math.floor((t - first) / WEEK_MS) : 0;
  const start = first + k * WEEK_MS;
  const end = start + durationOf(w);
  return t < end ? { start: new Date(start), end: new Date(end) } : null;
}

/** The occurrences of `w` that overlap the span [from, to), in order. */
export function occurrencesBetween(w: WindowTiming, from: Date, to: Date): Occurrence[] {
  const first = w.startsAt.getTime();
  const duration = durationOf(w);
  if (!w.weekly)
    return first < to.getTime() && first + duration > from.getTime()
      ? [{ start: w.startsAt, end: w.endsAt }]
      : [];
  const out: Occurrence[] = [];
  // The first occurrence that may still be open at `from`.
  let k = Math.max(0, Math.floor((from.getTime() - first - duration) / WEEK_MS));
  for (; first + k * WEEK_MS < to.getTime(); k++) {
    const start = first + k * WEEK_MS;
    if (start + duration > from.getTime())
      out.push({ start: new Date(start), end: new Date(start + duration) });
  }
  return out;
}

/** Whether some occurrence of `a` overlaps some occurrence of `b` (weekly windows never stop). */
export function windowsOverlap(a: WindowTiming, b: WindowTiming): boolean {
  if (!a.weekly && !b.weekly) return a.startsAt < b.endsAt && b.startsAt < a.endsAt;
  if (a.weekly && b.weekly) {
    // Both repeat for ever: they meet when their phases within a week overlap.
    const d = (((b.startsAt.getTime() - a.startsAt.getTime()) % WEEK_MS) + WEEK_MS) % WEEK_MS;
    return d < durationOf(a) || WEEK_MS - d < durationOf(b);
  }
  const [weekly, once] = a.weekly ? [a, b] : [b, a];
  return occurrencesBetween(weekly, once.startsAt, once.endsAt).length > 0;
}
