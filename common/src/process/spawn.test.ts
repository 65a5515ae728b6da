import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { exitReason, spawnProcess, stopProcess } from "./spawn.ts";
import { waitFor } from "./wait.ts";

/** A shell that sets `trap`, says "ready", then idles until stopped. */
async function readyShell(trap: string) {
  const child = spawnProcess(["sh", "-c", `${trap}; echo ready; while :; do sleep 0.05; done`]);
  expect(await waitFor(() => child.hasLine("ready"), { timeoutMs: 5000 })).toBe(true);
  return child;
}

test("how a process ended, in words", () => {
  expect(exitReason({ code: 1, signal: null })).toBe("exit 1");
  expect(exitReason({ code: 0, signal: null })).toBe("exit 0");
  expect(exitReason({ code: null, signal: "SIGKILL" })).toBe("killed by SIGKILL");
});

test("the output of both streams is kept as a bounded tail of lines, each line seen once", async () => {
  const seen: string[] = [];
  const child = spawnProcess(
    ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2; printf last; exit 2"],
    { tailLines: 3, onLine: (line) => seen.push(line) },
  );
  expect(await child.exited).toEqual({ code: 2, signal: null });
  expect(child.end).toEqual({ code: 2, signal: null });
  expect(seen.filter((l) => l.startsWith("line"))).toEqual([
    "line 1",
    "line 2",
    "line 3",
    "line 4",
    "line 5",
  ]);
  expect(seen).toContain("oops");
  expect(seen).toContain("last");
  expect(child.tail()).toHaveLength(3);
  expect(child.hasLine("line 1")).toBe(false);
  expect(child.hasLine(/^last$/)).toBe(true);
});

test("a line in the output can be waited for", async () => {
  const child = spawnProcess([
    "sh",
    "-c",
    "sleep 0.1; echo Initialization Sequence Completed; exec sleep 10",
  ]);
  expect(child.end).toBeNull();
  expect(
    await waitFor(() => child.hasLine("Initialization Sequence Completed"), { timeoutMs: 5000 }),
  ).toBe(true);
  expect(await stopProcess(child)).toEqual({ code: null, signal: "SIGTERM" });
});

test("stop: SIGTERM first; a process that ignores it is killed after the grace period", async () => {
  const stubborn = await readyShell("trap '' TERM");
  const started = Date.now();
  const end = await stopProcess(stubborn, { graceMs: 300 });
  expect(exitReason(end)).toBe("killed by SIGKILL");
  expect(Date.now() - started).toBeGreaterThanOrEqual(290);
});

test("stop asks in the way given, and a process that already ended resolves with its end", async () => {
  const child = await readyShell("trap 'exit 7' USR1");
  const end = await stopProcess(child, { terminate: (p) => p.kill("SIGUSR1") });
  expect(exitReason(end)).toBe("exit 7");
  let asked = 0;
  expect(await stopProcess(child, { terminate: () => void asked++ })).toEqual(end);
  expect(asked).toBe(1);
});

test("an executable that does not exist cannot be started", () => {
  expect(() => spawnProcess(["meetpoint-no-such-command"])).toThrow("meetpoint-no-such-command");
});

test("a process bound to its parent dies with it, even when the parent is killed with SIGKILL", async () => {
  const parent = spawnProcess([
    "bun",
    "-e",
    `const { spawnProcess } = await import(${JSON.stringify(`${import.meta.dir}/spawn.ts`)});
     const child = spawnProcess(["sleep", "60"], { diesWithParent: true });
     console.log("child " + child.pid);
     await Bun.sleep(60_000);`,
  ]);
  expect(await waitFor(() => parent.hasLine(/^child \d+$/), { timeoutMs: 10_000 })).toBe(true);
  const pid = Number(
    parent
      .tail()
      .find((l) => l.startsWith("child "))
      ?.slice(6),
  );
  const alive = () => {
    try {
      process.kill(pid, 0);
      return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
    } catch {
      return false;
    }
  };
  expect(alive()).toBe(true);
  parent.kill("SIGKILL");
  expect(await waitFor(() => !alive(), { timeoutMs: 5000 })).toBe(true);
});
