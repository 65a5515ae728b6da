import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Runner } from "@meetpoint/common";
import { KEYS_FILE_MARK } from "./dropbear.ts";
import { DropbearServer } from "./server.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9nYXRld2F5LW1haW50ZW5hbmNlLWtleS0xMjM0NTY3";
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A server whose login account's home is a temporary directory (getent answered here). */
function server() {
  dir = mkdtempSync(join(tmpdir(), "meetpoint-sshd-"));
  const home = join(dir, "home");
  const run: Runner = async (args) =>
    args[0] === "getent"
      ? { code: 0, stdout: `root:x:0:0:root:${home}:/bin/sh\n`, stderr: "" }
      : { code: 1, stdout: "", stderr: "not in this test" };
  return {
    home,
    keys: join(home, ".ssh", "authorized_keys"),
    server: new DropbearServer({ dir: join(dir, "ssh"), user: "root", run, log: () => {} }),
  };
}

test("switched off with no file of its own: nothing is written, nothing is emptied", async () => {
  const { server: s, keys } = server();
  await s.apply({ enabled: false, keys: [], addresses: [] });
  expect(() => readFileSync(keys)).toThrow();
});

test("an authorized_keys someone else wrote (an appliance's admin) is never replaced or emptied", async () => {
  const { server: s, keys } = server();
  mkdirSync(join(keys, ".."), { recursive: true });
  writeFileSync(keys, "ssh-ed25519 AAAA… the box owner's own key\n");
  await s.apply({ enabled: false, keys: [], addresses: [] });
  expect(readFileSync(keys, "utf8")).toContain("the box owner's own key");
  const refused = await s
    .apply({ enabled: true, keys: [KEY], addresses: ["192.168.0.1"] })
    .catch((e) => e);
  expect(String(refused.message)).toContain("was not written by the agent");
  expect(readFileSync(keys, "utf8")).toContain("the box owner's own key");
});

test("its own file is emptied when SSH is switched off", async () => {
  const { server: s, keys } = server();
  mkdirSync(join(keys, ".."), { recursive: true });
  writeFileSync(keys, `${KEYS_FILE_MARK}\nno-port-forwarding ${KEY}\n`);
  await s.apply({ enabled: false, keys: [], addresses: [] });
  expect(readFileSync(keys, "utf8")).toBe(`${KEYS_FILE_MARK}\n`);
});
