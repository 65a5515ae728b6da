// The agent's arming for maintenance windows, with an injected clock and timers: it arms at the
// start, disarms at the end only what it armed, lets an operator's Disconnect stand, disarms a
// cancelled window at once, and hands over between overlapping windows.
import { describe, expect, test } from "bun:test";
import { nextStep, nextWake, WindowArming } from "./window-arming.ts";

const T0 = new Date("2026-12-01T08:00:00Z").getTime();
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const occurrence = (id: string, from: number, to: number) => ({
  id,
  start: iso(from),
  end: iso(to),
  reason: "retrofit",
  createdBy: "operator at gateway Hall 1",
});
const W1 = "00000000-0000-4000-8000-000000000001";
const W2 = "00000000-0000-4000-8000-000000000002";

/** An agent's channel, clock and timers, driven by the test. */
function rig(
  options: {
    armedByOperator?: boolean;
    kept?: { load: () => string[]; save: (keys: string[]) => void };
  } = {},
) {
  let now = T0;
  let armed = options.armedByOperator ?? false;
  const calls: string[] = [];
  const lines: string[] = [];
  let timer: { run: () => void; at: number } | null = null;
  const arming = new WindowArming({
    now: () => new Date(now),
    channelArmed: () => armed,
    connect: async (by, windowId) => {
      calls.push(`connect ${windowId}`);
      armed = true;
      return { ok: true, message: `connecting (${by})` };
    },
    disconnect: async (_by, windowId) => {
      calls.push(`disconnect ${windowId}`);
      armed = false;
    },
    log: (_level, text) => lines.push(text),
    kept: options.kept,
    setTimer: (run, ms) => {
      timer = { run, at: now + ms };
      return timer;
    },
    clearTimer: () => {
      timer = null;
    },
  });
  return {
    arming,
    calls,
    lines,
    /** Moves the clock to `s` seconds after T0, firing the timer when it falls due (as setTimeout would). */
    async to(s: number) {
      const target = T0 + s * 1000;
      while (timer && timer.at <= target) {
        const due: { run: () => void; at: number } = timer;
        timer = null;
        now = due.at;
        due.run();
        await arming.tick();
      }
      now = target;
    },
    wakesAt: () => (timer ? (timer as { at: number }).at : null),
    operatorDisconnects() {
      armed = false;
      arming.released();
    },
  };
}

describe("arming for maintenance windows", () => {
  test("arms at the start (not before), disarms at the end, to the millisecond of the timers", async () => {
    const r = rig();
    await r.arming.receive([occurrence(W1, 10, 70)]);
    expect(r.calls).toEqual([]);
    expect(r.wakesAt()).toBe(T0 + 10_000);
    await r.to(9.999);
    expect(r.calls).toEqual([]);
    await r.to(10);
    expect(r.calls).toEqual([`connect ${W1}`]);
    expect(r.arming.current.armedBy?.id).toBe(W1);
    expect(r.wakesAt()).toBe(T0 + 70_000);
    await r.to(69.999);
    expect(r.calls).toEqual([`connect ${W1}`]);
    await r.to(70);
    expect(r.calls).toEqual([`connect ${W1}`, `disconnect ${W1}`]);
    expect(
      r.lines.some((l) => l.includes(`maintenance window ${W1}`) && l.includes("starts")),
    ).toBe(true);
    expect(r.lines.some((l) => l.includes("ends: disconnecting"))).toBe(true);
  });

  test("a window heard of while already open arms at once", async () => {
    const r = rig();
    await r.to(30);
    await r.arming.receive([occurrence(W1, 10, 70)]);
    expect(r.calls).toEqual([`connect ${W1}`]);
  });

  test("a channel the operator armed is left alone: not armed again, not disarmed at the end", async () => {
    const r = rig({ armedByOperator: true });
    await r.arming.receive([occurrence(W1, 10, 70)]);
    await r.to(100);
    expect(r.calls).toEqual([]);
  });

  test("the operator's Disconnect inside the window stands: the window does not arm again", async () => {
    const r = rig();
    await r.arming.receive([occurrence(W1, 0, 70)]);
    expect(r.calls).toEqual([`connect ${W1}`]);
    r.operatorDisconnects();
    await r.to(20);
    await r.arming.receive([occurrence(W1, 0, 70)]);
    await r.to(100);
    expect(r.calls).toEqual([`connect ${W1}`]);
  });

  test("after a restart inside the window it does not arm again what it armed before (kept)", async () => {
    let saved: string[] = [];
    const kept = {
      load: () => saved,
      save: (keys: string[]) => {
        saved = keys;
      },
    };
    const before = rig({ kept });
    await before.arming.receive([occurrence(W1, 0, 70)]);
    expect(before.calls).toEqual([`connect ${W1}`]);
    before.operatorDisconnects();
    const after = rig({ kept });
    await after.arming.receive([occurrence(W1, 0, 70)]);
    expect(after.calls).toEqual([]);
  });

  test("a window cancelled while it armed the channel disarms it at the next heartbeat", async () => {
    const r = rig();
    await r.arming.receive([occurrence(W1, 0, 3600)]);
    await r.to(20);
    await r.arming.receive([]);
    expect(r.calls).toEqual([`connect ${W1}`, `disconnect ${W1}`]);
    expect(r.lines.some((l) => l.includes("was cancelled"))).toBe(true);
  });

  test("overlapping windows: the later one keeps the channel armed until its own end", async () => {
    const r = rig();
    await r.arming.receive([occurrence(W1, 0, 60), occurrence(W2, 30, 120)]);
    await r.to(60);
    expect(r.calls).toEqual([`connect ${W1}`]);
    expect(r.arming.current.armedBy?.id).toBe(W2);
    await r.to(120);
    expect(r.calls).toEqual([`connect ${W1}`, `disconnect ${W2}`]);
  });

  test("the pure step and wake agree with the timings", () => {
    const windows = [
      { ...occurrence(W1, 10, 70), start: new Date(iso(10)), end: new Date(iso(70)) },
    ];
    const state = { windows, armedBy: null, handled: new Set<string>() };
    expect(nextStep(state, new Date(iso(5)), false)).toEqual({ action: "none" });
    expect(nextStep(state, new Date(iso(10)), false).action).toBe("arm");
    expect(nextStep(state, new Date(iso(10)), true)).toEqual({ action: "none" });
    expect(nextWake(state, new Date(iso(5)))?.toISOString()).toBe(iso(10));
    expect(nextWake(state, new Date(iso(10)))?.toISOString()).toBe(iso(70));
    expect(nextWake(state, new Date(iso(70)))).toBeNull();
  });
});
