// The README's quick start, as a new user runs it: the install step of `bun run start` prints
// nothing a user cannot act on. Regression: every fresh install printed "Blocked 1 postinstall.
// Run `bun pm untrusted` for details." (protobufjs's version check, which nothing here needs).
import { expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../../", import.meta.url).pathname;

test("a fresh install by the start script is silent when it works, and says why when it does not", async () => {
  const scripts = (await Bun.file(join(root, "package.json")).json()).scripts as Record<
    string,
    string
  >;
  const install = scripts.start?.split(" && bun platform/src/main.ts")[0] ?? "";
  expect(install).toContain("bun install --frozen-lockfile");
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-quick-start-"));
  try {
    for (const file of ["package.json", "bun.lock"]) cpSync(join(root, file), join(dir, file));
    for (const workspace of ["platform", "connect-container", "common", "lab"]) {
      mkdirSync(join(dir, workspace));
      cpSync(join(root, workspace, "package.json"), join(dir, workspace, "package.json"));
    }
    const run = Bun.spawnSync(["sh", "-c", install], { cwd: dir, env: { ...process.env } });
    const output = `${run.stdout.toString()}${run.stderr.toString()}`;
    if (run.exitCode === 0) expect(output).toBe("");
    // Offline without a cache, say: the reason is printed, not swallowed.
    else expect(output).toContain("error:");
    expect(output).not.toContain("Blocked");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
