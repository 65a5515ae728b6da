import { describe, expect, test } from "bun:test";
import { DatabaseWatch } from "./database-watch.ts";

/**
 * Sessions whose ticks succeed, fail or hang as the test says; a database probe that answers or
 * has gone silent; a clock the test moves.
 */
function harness() {
  let mode: "ok" | "fail" | "hang" = "ok";
  let probe: "answers" | "silent" = "answers";
  let lastAnswer = 0;
  let slowRecord = false;
  const hung: (() => void)[] = [];
  const calls: string[] = [];
  let time = 0;
  const sessions = {
    tick: () => {
      calls.push("tick");
      if (mode === "fail") return Promise.reject(new Error("connect ECONNREFUSED"));
      if (mode === "hang") return new Promise<void>((resolve) => hung.push(resolve));
      return Promise.resolve();
    },
    cutForLostDatabase: async () => void calls.push("cut"),
    recordDatabaseCut: async () => {
      calls.push("record");
      if (slowRecord) await new Promise<void>((resolve) => hung.push(resolve));
      return 2;
    },
  };
  const watch = new DatabaseWatch(
    sessions,
    5000,
    () => {
      if (probe === "answers") lastAnswer = time;
      return lastAnswer;
    },
    () => time,
    () => {},
  );
  const beats: Promise<void>[] = [];
  return {
    calls,
    count: (call: string) => calls.filter((c) => c === call).length,
    set: (m: typeof mode) => (mode = m),
    probe: (p: typeof probe) => (probe = p),
    slowRecord: (slow: boolean) => (slowRecord = slow),
    releaseAll: () => {
      for (const resolve of hung.splice(0)) resolve();
    },
    /** One beat per simulated second; a hanging tick does not hold the clock. */
    async seconds(n: number) {
      for (let i = 0; i < n; i++) {
        time += 1000;
        beats.push(watch.beat());
        await Bun.sleep(0);
      }
    },
    settle: () => Promise.all(beats),
  };
}

describe("fail closed without the database", () => {
  test("failing ticks: cut once after the grace period, recorded once when it is back", async () => {
    const h = harness();
    await h.seconds(3);
    h.set("fail");
    await h.seconds(4);
    expect(h.count("cut")).toBe(0);
    await h.seconds(2);
    expect(h.count("cut")).toBe(1);
    await h.seconds(10);
    expect(h.count("cut")).toBe(1);
    h.set("ok");
    await h.seconds(2);
    expect(h.count("record")).toBe(1);
    await h.settle();
  });

  test("ticks that all hang (a server gone silent) are cut after the grace period too", async () => {
    const h = harness();
    await h.seconds(1);
    h.set("hang");
    h.probe("silent");
    await h.seconds(8);
    expect(h.count("cut")).toBe(1);
    // Stuck ticks get company, but never more than three at once.
    expect(h.count("tick")).toBe(1 + 3);
    h.set("ok");
    h.probe("answers");
    h.releaseAll();
    await h.seconds(1);
    await h.settle();
    expect(h.count("record")).toBe(1);
  });

  test("overload: ticks that hang for a minute while the probe answers never cut", async () => {
    const h = harness();
    await h.seconds(1);
    h.set("hang");
    await h.seconds(60);
    expect(h.count("cut")).toBe(0);
    expect(h.count("tick")).toBe(1 + 3);
    h.set("ok");
    h.releaseAll();
    await h.seconds(3);
    await h.settle();
    expect(h.count("cut")).toBe(0);
  });

  test("the probe silent but ticks succeeding (the probe's own connection refused): no cut", async () => {
    const h = harness();
    h.probe("silent");
    await h.seconds(30);
    expect(h.count("cut")).toBe(0);
  });

  test("ticks failing while the probe answers (PGlite failing, or queries refused): cut", async () => {
    const h = harness();
    await h.seconds(2);
    h.set("fail");
    await h.seconds(4);
    expect(h.count("cut")).toBe(0);
    await h.seconds(2);
    expect(h.count("cut")).toBe(1);
    h.set("ok");
    await h.seconds(1);
    await h.settle();
    expect(h.count("record")).toBe(1);
  });

  test("regression: beats while the cut is being recorded (seconds, after the database is back) do not cut again", async () => {
    const h = harness();
    await h.seconds(1);
    h.set("fail");
    h.probe("silent");
    await h.seconds(7);
    expect(h.count("cut")).toBe(1);
    // Back: the first tick succeeds and starts recording, which takes 5 s; the probe is still
    // reconnecting meanwhile.
    h.set("ok");
    h.slowRecord(true);
    await h.seconds(6);
    expect(h.count("record")).toBe(1);
    expect(h.count("cut")).toBe(1);
    h.releaseAll();
    await h.settle();
  });

  test("one tick stuck on a dead connection does not cut while the next ones succeed", async () => {
    const h = harness();
    await h.seconds(1);
    h.set("hang");
    await h.seconds(1);
    h.set("ok");
    await h.seconds(10);
    expect(h.count("cut")).toBe(0);
    h.releaseAll();
    await h.settle();
  });
});
