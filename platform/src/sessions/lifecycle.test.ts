import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  END_REASONS,
  nextDeadline,
  nextState,
  type SessionEvent,
  type SessionTimes,
} from "./lifecycle.ts";

const t0 = new Date("2026-05-01T10:00:00Z");
const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);

const requested: SessionTimes = {
  state: "requested",
  requestedAt: t0,
  configExpiresAt: at(10),
  endsAt: at(60),
  activatedAt: null,
  endedAt: null,
  endReason: null,
};

describe("remote session lifecycle", () => {
  test("requested → active on connect, → ended at the end time", () => {
    const active = nextState(requested, { type: "connected", at: at(2) });
    expect(active).toMatchObject({
      changed: true,
      session: { state: "active", activatedAt: at(2) },
    });
    expect(nextState(active.session, { type: "tick", at: at(59) }).changed).toBe(false);
    expect(nextState(active.session, { type: "tick", at: at(61) })).toMatchObject({
      changed: true,
      session: { state: "ended", endReason: "expiry", endedAt: at(60) },
    });
  });

  test("an unused config ends the session when it expires; connecting late is refused", () => {
    expect(nextState(requested, { type: "tick", at: at(10) })).toMatchObject({
      session: { state: "ended", endReason: "config_unused" },
    });
    expect(nextState(requested, { type: "connected", at: at(11) })).toMatchObject({
      session: { state: "ended", endReason: "config_unused" },
    });
  });

  test("an event that arrives after a deadline does not rewrite what happened", () => {
    const active = nextState(requested, { type: "connected", at: at(1) }).session;
    expect(nextState(active, { type: "end", reason: "technician", at: at(70) })).toMatchObject({
      session: { state: "ended", endReason: "expiry", endedAt: at(60) },
    });
  });

  test("a second connect of an active session is refused and changes nothing", () => {
    const active = nextState(requested, { type: "connected", at: at(1) }).session;
    expect(nextState(active, { type: "connected", at: at(2) })).toEqual({
      changed: false,
      session: active,
      refused: "the session is already connected",
    });
  });

  test("every end reason ends requested and active sessions, with its time", () => {
    const active = nextState(requested, { type: "connected", at: at(1) }).session;
    for (const reason of END_REASONS) {
      for (const session of [requested, active]) {
        expect(nextState(session, { type: "end", reason, at: at(5) })).toMatchObject({
          changed: true,
          session: { state: "ended", endReason: reason, endedAt: at(5) },
        });
      }
    }
  });

  test("exhaustively: ended is final, time never runs backwards, active only via connect", () => {
    const event: fc.Arbitrary<SessionEvent> = fc.oneof(
      fc.record({
        type: fc.constant("connected" as const),
        at: fc.integer({ min: 0, max: 90 }).map(at),
      }),
      fc.record({
        type: fc.constant("end" as const),
        reason: fc.constantFrom(...END_REASONS),
        at: fc.integer({ min: 0, max: 90 }).map(at),
      }),
      fc.record({
        type: fc.constant("tick" as const),
        at: fc.integer({ min: 0, max: 90 }).map(at),
      }),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 12 }), (events) => {
        let session = requested;
        for (const e of events) {
          const before = session;
          const result = nextState(session, e);
          session = result.session;
          if (before.state === "ended") expect(session).toBe(before);
          if (session.state === "active" && before.state !== "active")
            expect(e.type).toBe("connected");
          if (session.state === "ended") {
            expect(session.endReason).not.toBeNull();
            expect(session.endedAt).not.toBeNull();
            expect((session.endedAt as Date) <= session.endsAt).toBe(true);
          }
          if (session.state === "active")
            expect((session.activatedAt as Date) < session.configExpiresAt).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  test("the next deadline is what a tick acts on", () => {
    expect(nextDeadline(requested)).toEqual(at(10));
    const active = nextState(requested, { type: "connected", at: at(1) }).session;
    expect(nextDeadline(active)).toEqual(at(60));
    expect(
      nextDeadline(nextState(active, { type: "end", reason: "admin", at: at(3) }).session),
    ).toBeNull();
  });
});

describe("a request that needs approval", () => {
  const pending: SessionTimes = {
    ...requested,
    state: "pending",
    configExpiresAt: at(10),
    endsAt: at(10),
    decideBy: at(10),
    durationSeconds: 30 * 60,
  };

  test("its approval starts the clock: the config's window and the session's end count from it", () => {
    expect(nextState(pending, { type: "approve", at: at(4), configSeconds: 600 })).toMatchObject({
      changed: true,
      session: { state: "requested", approvedAt: at(4), configExpiresAt: at(14), endsAt: at(34) },
    });
  });

  test("it cannot connect while it waits, and expires at its deadline, even when approved late", () => {
    expect(nextState(pending, { type: "connected", at: at(1) })).toMatchObject({
      changed: false,
      refused: "the request is waiting for its approval",
    });
    expect(nextState(pending, { type: "approve", at: at(11), configSeconds: 600 })).toMatchObject({
      changed: true,
      session: { state: "ended", endReason: "request_expired", endedAt: at(10) },
    });
    expect(nextDeadline(pending)).toEqual(at(10));
  });

  test("an approved session is not approved again", () => {
    expect(nextState(requested, { type: "approve", at: at(1), configSeconds: 600 })).toMatchObject({
      changed: false,
      refused: "already approved",
    });
  });
});
