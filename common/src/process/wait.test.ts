import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnProcess, stopProcess } from "./spawn.ts";
import { fileExists, socketAccepts, waitFor } from "./wait.ts";

test("waits until the condition holds; false once the deadline passed", async () => {
  let checks = 0;
  expect(await waitFor(() => ++checks >= 3, { timeoutMs: 2000, intervalMs: 5 })).toBe(true);
  expect(checks).toBe(3);
  const started = Date.now();
  expect(await waitFor(() => false, { timeoutMs: 100 })).toBe(false);
  expect(Date.now() - started).toBeGreaterThanOrEqual(95);
});

test("a condition that throws or rejects has not held yet", async () => {
  let checks = 0;
  const condition = async () => {
    if (++checks < 3) throw new Error("not yet");
    return true;
  };
  expect(await waitFor(condition, { timeoutMs: 2000, intervalMs: 5 })).toBe(true);
});

test("giveUpIf ends the wait early with false", async () => {
  const child = spawnProcess(["sh", "-c", "exit 1"]);
  const started = Date.now();
  const waited = await waitFor(() => false, {
    timeoutMs: 10_000,
    giveUpIf: () => child.end !== null,
  });
  expect(waited).toBe(false);
  expect(Date.now() - started).toBeLessThan(5000);
});

test("a file to exist, a Unix socket to accept", async () => {
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-wait-"));
  try {
    const file = join(dir, "server.pid");
    expect(await waitFor(fileExists(file), { timeoutMs: 50 })).toBe(false);
    setTimeout(() => writeFileSync(file, "1"), 30);
    expect(await waitFor(fileExists(file), { timeoutMs: 5000 })).toBe(true);

    const path = join(dir, "management.sock");
    expect(await socketAccepts(path)()).toBe(false);
    const server = spawnProcess([
      "bun",
      "-e",
      `require("node:net").createServer((s) => s.end()).listen(${JSON.stringify(path)})`,
    ]);
    expect(await waitFor(socketAccepts(path), { timeoutMs: 10_000, intervalMs: 50 })).toBe(true);
    await stopProcess(server);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
