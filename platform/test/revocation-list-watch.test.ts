// A revocation list that stops being usable makes every new connection fail — correctly — and is
// never silent: the data plane notices it, logs it once with the time, shows it on the status page,
// and says when it is usable again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { parseCidr } from "@meetpoint/common";
import { commandRunner } from "../src/system/index.ts";
import { KernelDataPlane } from "../src/vpn/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
beforeAll(async () => {
  p = await testPlatform();
});
afterAll(() => p.dispose());

test("regression: an unusable CRL is logged once, with since when, and shown until it is renewed", async () => {
  const logged: string[] = [];
  const plane = new KernelDataPlane({
    commands: commandRunner(),
    runtimeDir: "/nonexistent",
    pki: p.pki,
    proxyPool: p.proxyPool.pool,
    tunnelPool: parseCidr("100.127.0.0/16") ?? p.proxyPool.pool,
    listen: [],
    log: (line) => logged.push(line),
    clock: p.clock,
  });
  await plane.checkRevocationList();
  expect(plane.health().revocationList).toEqual({ ok: true });

  const files = p.pki.trustFiles;
  if (!files) throw new Error("no trust files");
  const good = readFileSync(files.crl, "utf8");
  writeFileSync(files.crl, "garbage");
  await plane.checkRevocationList();
  await plane.checkRevocationList();
  expect(plane.health().revocationList).toMatchObject({
    ok: false,
    since: p.clock.now(),
    problem: expect.any(String),
  });
  expect(logged.filter((l) => l.startsWith("Revocation list unusable"))).toHaveLength(1);

  writeFileSync(files.crl, good);
  await plane.checkRevocationList();
  expect(plane.health().revocationList).toEqual({ ok: true });
  expect(logged.at(-1)).toContain("Revocation list usable again");
});
