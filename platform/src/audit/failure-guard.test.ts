import { describe, expect, test } from "bun:test";
import { ManualClock } from "../shared/index.ts";
import { FailureWindows } from "./failure-guard.ts";

const policy = { intervalMs: 60_000, allowedFailures: 3, maxSources: 2 };

describe("failed authentications, per source and interval", () => {
  test("a source may fail its allowance, then waits for the end of its interval", () => {
    const clock = new ManualClock(new Date("2030-01-01T00:00:00Z"));
    const windows = new FailureWindows(clock, policy);
    for (let i = 0; i < 3; i++) {
      expect(windows.waitFor("203.0.113.5")).toBe(0);
      windows.failed("203.0.113.5", null);
    }
    clock.advance(20_000);
    expect(windows.waitFor("203.0.113.5")).toBe(40);
    expect(windows.waitFor("203.0.113.6")).toBe(0);
    clock.advance(40_000);
    expect(windows.waitFor("203.0.113.5")).toBe(0);
    expect(windows.closed()).toEqual([
      {
        source: "203.0.113.5",
        from: new Date("2030-01-01T00:00:00Z"),
        to: new Date("2030-01-01T00:01:00Z"),
        failures: 3,
        throttled: 1,
        names: [],
        moreNames: 0,
      },
    ]);
    expect(windows.closed()).toEqual([]);
  });

  test("beyond maxSources, further sources are counted together and never throttled", () => {
    const clock = new ManualClock(new Date("2030-01-01T00:00:00Z"));
    const windows = new FailureWindows(clock, policy);
    for (const ip of ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"])
      for (let i = 0; i < 5; i++) windows.failed(ip, null);
    expect(windows.waitFor("198.51.100.3")).toBe(0);
    expect(windows.waitFor("198.51.100.1")).toBeGreaterThan(0);
    const summaries = windows.closed(true);
    expect(summaries.map((s) => [s.source, s.failures])).toEqual([
      ["198.51.100.1", 5],
      ["198.51.100.2", 5],
      [null, 10],
    ]);
  });

  test("a source that fails again after its interval: the old one is summed up, a new one opens", () => {
    const clock = new ManualClock(new Date("2030-01-01T00:00:00Z"));
    const windows = new FailureWindows(clock, policy);
    windows.failed("192.0.2.9", "a");
    clock.advance(61_000);
    windows.failed("192.0.2.9", "b");
    const summaries = windows.closed(true);
    expect(summaries.map((s) => [s.failures, s.names])).toEqual([
      [1, ["a"]],
      [1, ["b"]],
    ]);
  });

  test("names: at most ten kept, requests naming others counted", () => {
    const clock = new ManualClock(new Date("2030-01-01T00:00:00Z"));
    const windows = new FailureWindows(clock, { ...policy, allowedFailures: 100 });
    for (let i = 0; i < 25; i++) windows.failed("192.0.2.1", `id-${i % 15}`);
    const [summary] = windows.closed(true);
    expect(summary?.names).toHaveLength(10);
    expect(summary?.moreNames).toBe(5);
  });

  test("attempts count before they are checked, successes are taken back, only unaudited ones are summed up", () => {
    const clock = new ManualClock(new Date("2030-01-01T00:00:00Z"));
    const windows = new FailureWindows(clock, policy);
    // Three in flight at once use the allowance; the fourth waits.
    expect([1, 2, 3].map(() => windows.attempt("203.0.113.9"))).toEqual([0, 0, 0]);
    expect(windows.attempt("203.0.113.9")).toBe(60);
    // One of them was right: its place is free again.
    windows.takeBack("203.0.113.9");
    expect(windows.attempt("203.0.113.9")).toBe(0);
    // One named an unknown account (audited only here); the others were audited one by one.
    windows.unaudited("203.0.113.9", "nobody");
    // A source whose failures were all audited one by one, and never throttled: no summary.
    windows.attempt("203.0.113.10");
    expect(windows.closed(true)).toEqual([
      {
        source: "203.0.113.9",
        from: new Date("2030-01-01T00:00:00Z"),
        to: new Date("2030-01-01T00:01:00Z"),
        failures: 1,
        throttled: 1,
        names: ["nobody"],
        moreNames: 0,
      },
    ]);
  });
});
