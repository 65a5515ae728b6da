import { describe, expect, test } from "bun:test";
import { DatabaseWatch } from "./database-watch.ts";

/** Sessions whose tick succeeds, fails or hangs as the test says; a clock the test moves. */
function harness() {
  let mode: "ok" | "fail" | "hang" = "ok";
  let release: () => void = () => {};
  const calls: string[] = [];
  let time = 0;
  const sessions = {
    tick: () => {
      calls.push("tick");
      if (mode === "fail") return Promise.reject(new Error("connect ECONNREFUSED"));
      if (mode === "hang") return new Promise<void>((resolve) => (release = resolve));
      return Promise.resolve();
    },
    cutForLostDatabase: async () => void calls.push("cut"),
    recordDatabaseCut: async () => {
      calls.push("record");
      return 2;
    },
  };
  const watch = new DatabaseWatch(
    sessions,
    5000,
    () => time,
    () => {},
  );
  return {
    watch,
    calls,
    set: (m: typeof mode) => (mode = m),
    release: () => release(),
    /** One beat per simulated second. */
    async seconds(n: number) {
      for (let i = 0; i < n; i++) {
        time += 1000;
        await watch.beat();
      }
    },
  };
}

describe("fail closed without the database", () => {
  test("failing ticks: cut once after the grace period, recorded once when it is back", async () => {
    const h = harness();
    await h.seconds(3);
    h.set("fail");
    await h.seconds(4);
    expect(h.calls).not.toContain("cut");
    await h.seconds(2);
    expect(h.calls.filter((c) => c === "cut")).toHaveLength(1);
    await h.seconds(10);
    expect(h.calls.filter((c) => c === "cut")).toHaveLength(1);
    h.set("ok");
    await h.seconds(2);
    expect(h.calls.filter((c) => c === "record")).toHaveLength(1);
  });

  test("a tick that hangs (a server gone silent) is cut after the grace period too", async () => {
    const h = harness();
    await h.seconds(1);
    h.set("hang");
    const hung = h.seconds(1);
    await h.seconds(5);
    expect(h.calls).toContain("cut");
    // Only one tick was started while it hung.
    expect(h.calls.filter((c) => c === "tick")).toHaveLength(2);
    h.set("ok");
    h.release();
    await hung;
    await h.seconds(1);
    expect(h.calls).toContain("record");
  });
});
