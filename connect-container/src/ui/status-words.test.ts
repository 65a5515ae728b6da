import { describe, expect, test } from "bun:test";
import { initialStatus, nextStatus, type StatusEvent } from "../agent/status.ts";
import { statusWords } from "./status-words.ts";

const t0 = new Date("2026-11-30T09:49:00Z");
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const run = (events: StatusEvent[]) => events.reduce(nextStatus, initialStatus(t0));

describe("the operator panel's words", () => {
  test("regression: after Connect, a channel that never comes up says 'Cannot connect since …', the since stays, and who must act", () => {
    const failing = run([
      { type: "connect", by: "operator UI", at: at(60) },
      {
        type: "fault",
        error: "the platform platform.example:443 did not answer in time",
        retryAt: at(92),
        at: at(90),
      },
      { type: "retry", at: at(92) },
      {
        type: "fault",
        error: "the platform platform.example:443 did not answer in time",
        retryAt: at(130),
        at: at(126),
      },
    ]);
    const words = statusWords(failing, true);
    expect(words.headline).toBe("Cannot connect — retrying");
    expect(words.since).toEqual(at(90));
    expect(words.detail).toBe(
      "Reason: the platform platform.example:443 did not answer in time. Next attempt at 2026-11-30T09:51:10Z.",
    );
    expect(words.act).toStartWith("Plant IT must act:");
    // Between two attempts it is still failing, since the same moment — not "Connecting…".
    const retrying = nextStatus(failing, { type: "retry", at: at(130) });
    expect(statusWords(retrying, true)).toMatchObject({ phase: "failing", since: at(90) });
  });

  test("off, connecting, online, and off after a technician ended it", () => {
    expect(statusWords(initialStatus(t0), true)).toMatchObject({
      phase: "off",
      act: "Press Connect to allow remote access.",
    });
    const connecting = run([{ type: "connect", by: "operator UI", at: at(1) }]);
    expect(statusWords(connecting, true)).toMatchObject({ phase: "connecting", since: at(1) });
    const online = nextStatus(connecting, { type: "tunnel-up", address: "100.127.0.2", at: at(3) });
    expect(statusWords(online, true)).toMatchObject({ phase: "online", since: at(3), act: null });
    const ended = nextStatus(online, {
      type: "disconnect",
      error: "remote session ended by technician",
      at: at(9),
    });
    expect(statusWords(ended, true).detail).toStartWith(
      "Ended: remote session ended by technician.",
    );
  });

  test("not enrolled says what to import", () => {
    expect(statusWords(initialStatus(t0), false)).toMatchObject({ phase: "not-enrolled" });
  });
});
