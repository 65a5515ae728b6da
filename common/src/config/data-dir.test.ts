import { afterEach, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "./config-error.ts";
import { privateDataDirectory, privateSecretFile } from "./data-dir.ts";

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

test("a secret file other users can read is refused, with the fix; a private or missing one passes", () => {
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-sf-"));
  made.push(dir);
  const file = join(dir, "kek");
  expect(() => privateSecretFile("MEETPOINT_KEK_FILE", file)).not.toThrow();
  writeFileSync(file, "x");
  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    chmodSync(file, mode);
    expect(() => privateSecretFile("MEETPOINT_KEK_FILE", file)).toThrow(ConfigError);
    expect(() => privateSecretFile("MEETPOINT_KEK_FILE", file)).toThrow(
      `mode ${mode.toString(8)}): it holds a secret key. Fix it with: chmod go-rwx "${file}"`,
    );
  }
  chmodSync(file, 0o600);
  expect(() => privateSecretFile("MEETPOINT_KEK_FILE", file)).not.toThrow();
});
