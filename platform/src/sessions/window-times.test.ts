import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  occurrenceAt,
  occurrencesBetween,
  WEEK_MS,
  type WindowTiming,
  windowsOverlap,
} from "./window-times.ts";

const T0 = Date.parse("2026-12-01T08:00:00Z");
const HOUR = 3600_000;
const timing = (startH: number, hours: number, weekly: boolean): WindowTiming => ({
  startsAt: new Date(T0 + startH * HOUR),
  endsAt: new Date(T0 + (startH + hours) * HOUR),
  weekly,
});

/** Brute force: whether both windows are open at some hour in the first `weeks` weeks. */
function bruteOverlap(a: WindowTiming, b: WindowTiming, weeks: number): boolean {
  for (let h = 0; h < weeks * 168 * 4; h++) {
    const at = new Date(T0 + (h * HOUR) / 4);
    if (occurrenceAt(a, at) && occurrenceAt(b, at)) return true;
  }
  return false;
}

describe("maintenance window times", () => {
  test("a weekly window is open in each week's occurrence, from its start (inclusive) to its end (exclusive)", () => {
    const w = timing(0, 2, true);
    expect(occurrenceAt(w, new Date(T0 - 1))).toBeNull();
    expect(occurrenceAt(w, new Date(T0))?.start.getTime()).toBe(T0);
    expect(occurrenceAt(w, new Date(T0 + 2 * HOUR))).toBeNull();
    expect(occurrenceAt(w, new Date(T0 + 3 * WEEK_MS + HOUR))?.end.getTime()).toBe(
      T0 + 3 * WEEK_MS + 2 * HOUR,
    );
    expect(occurrenceAt(timing(0, 2, false), new Date(T0 + WEEK_MS))).toBeNull();
  });

  test("occurrences between two instants: those that overlap the span, in order", () => {
    const w = timing(1, 2, true);
    const found = occurrencesBetween(w, new Date(T0 + 2 * HOUR), new Date(T0 + 2 * WEEK_MS));
    expect(found.map((o) => o.start.getTime())).toEqual([T0 + HOUR, T0 + WEEK_MS + HOUR]);
  });

  test("overlap agrees with a brute-force scan (quarter hours over 6 weeks)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 168 * 2 }),
        fc.integer({ min: 1, max: 168 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 168 * 2 }),
        fc.integer({ min: 1, max: 168 }),
        fc.boolean(),
        (s1, d1, w1, s2, d2, w2) => {
          const a = timing(s1, d1, w1);
          const b = timing(s2, d2, w2);
          expect(windowsOverlap(a, b)).toBe(bruteOverlap(a, b, 6));
          expect(windowsOverlap(b, a)).toBe(windowsOverlap(a, b));
        },
      ),
      { numRuns: 150 },
    );
  });
});
