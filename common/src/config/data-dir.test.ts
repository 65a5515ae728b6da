import { afterEach, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "./config-error.ts";
import { privateDataDirectory } from "./data-dir.ts";

const made: string[] = [];
const umask = process.umask();
afterEach(() => {
  process.umask(umask);
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

test("a missing data directory is made private; everything made afterwards is private too", () => {
  const parent = mkdtempSync(join(tmpdir(), "meetpoint-dd-"));
  made.push(parent);
  process.umask(0o022);
  const dir = join(parent, "data");
  privateDataDirectory("MEETPOINT_DATA_DIR", dir);
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  writeFileSync(join(dir, "secret"), "x");
  expect(statSync(join(dir, "secret")).mode & 0o777).toBe(0o600);
});

test("a data directory other users can read or write is refused, with the fix", () => {
  for (const mode of [0o755, 0o750, 0o707, 0o770]) {
    const dir = mkdtempSync(join(tmpdir(), "meetpoint-dd-"));
    made.push(dir);
    chmodSync(dir, mode);
    expect(() => privateDataDirectory("MEETPOINT_DATA_DIR", dir)).toThrow(ConfigError);
    expect(() => privateDataDirectory("MEETPOINT_DATA_DIR", dir)).toThrow(
      `chmod -R go-rwx "${dir}"`,
    );
  }
});
