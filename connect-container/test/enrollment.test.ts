// Enrollment bundles on the gateway: verified whole before anything changes; the import directory
// reads every plain file directly inside it whose name ends in .jws (any case), and logs each entry
// it skips with the reason.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "@meetpoint/common";
import { scanImportDir } from "../src/enrollment/watch.ts";
import { bundle, platformKeys, type TestAgent, testAgent } from "./support/fakes.ts";

let t: TestAgent;
afterEach(() => t?.dispose());

describe("enrollment bundle import", () => {
  test("each bad bundle is rejected with its reason; the enrollment file stays byte for byte", async () => {
    t = await testAgent();
    const before = readFileSync(join(t.dir, "state", "enrollment.json"), "utf8");
    const good = await bundle(t.keys, t.gatewayId, { version: 10_000 });
    const stranger = await platformKeys();
    const [h, p, s] = good.split(".");
    const cases: [string, string][] = [
      [`${h}.${p}.${s?.startsWith("A") ? "B" : "A"}${s?.slice(1)}`, "bad signature"],
      [good.slice(0, good.length - 30), "bad signature"],
      [good.slice(0, 40), "malformed"],
      ["", "malformed"],
      [
        await bundle(t.keys, t.gatewayId, {
          issuedAt: new Date(Date.now() - 30 * 86_400_000),
          validMs: 86_400_000,
        }),
        "expired at",
      ],
      [await bundle(t.keys, crypto.randomUUID()), "wrong audience"],
      [await bundle(t.keys, t.gatewayId, { version: 1 }), "rollback refused"],
      [await bundle(stranger, t.gatewayId, { signingKey: stranger.jwk }), "bad signature"],
      ["x".repeat(70_000), "too large"],
    ];
    for (const [text, reason] of cases) {
      const result = await t.agent.importBundle(text, "test");
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toContain(reason);
      expect(readFileSync(join(t.dir, "state", "enrollment.json"), "utf8")).toBe(before);
    }
    // A newer bundle for the same gateway, signed by the pinned key, replaces it.
    const newer = await t.agent.importBundle(good, "test");
    expect(newer.ok && newer.enrollment.version).toBe(10_000);
  });

  test("the import directory: plain *.jws files in any case and name, each once; every other entry logged with its reason", async () => {
    t = await testAgent({ enrolled: false });
    const dir = join(t.dir, "usb");
    mkdirSync(join(dir, "sub.jws"), { recursive: true });
    writeFileSync(join(dir, "gateway.jws"), "token");
    // Regressions: a re-download saved by the browser, and a stick that writes upper case.
    writeFileSync(join(dir, "meetpoint-enrollment-7f3e (1).jws"), "again");
    writeFileSync(join(dir, "HALL-2.JWS"), "upper");
    writeFileSync(join(dir, "Hall 3 – Presse.Jws"), "mixed");
    writeFileSync(join(dir, ".hidden.jws"), "token");
    writeFileSync(join(dir, "bundle.jws.crdownload"), "partial");
    writeFileSync(join(dir, "readme.txt"), "hello");
    writeFileSync(join(dir, "huge.jws"), "x".repeat(70_000));
    symlinkSync("/etc/passwd", join(dir, "passwd.jws"));
    symlinkSync("../../etc", join(dir, "up"));
    const seen = new Set<string>();
    const found = scanImportDir(dir, seen);
    const byName = Object.fromEntries(
      found.map((f) => [f.name, "text" in f ? `text:${f.text}` : f.ignored]),
    );
    expect(byName).toEqual({
      "gateway.jws": "text:token",
      "meetpoint-enrollment-7f3e (1).jws": "text:again",
      "HALL-2.JWS": "text:upper",
      "Hall 3 – Presse.Jws": "text:mixed",
      ".hidden.jws":
        "a hidden file (names starting with a dot are skipped, as partial downloads often are)",
      "bundle.jws.crdownload": "not a bundle: the name does not end in .jws",
      "readme.txt": "not a bundle: the name does not end in .jws",
      "sub.jws": "a directory (only plain files directly inside are imported)",
      "huge.jws": "too large (70000 bytes)",
      "passwd.jws": "a symbolic link (only plain files are imported)",
      up: "a symbolic link (only plain files are imported)",
    });
    expect(scanImportDir(dir, seen)).toEqual([]);
    writeFileSync(join(dir, "gateway.jws"), "changed token");
    expect(scanImportDir(dir, seen)).toEqual([{ name: "gateway.jws", text: "changed token" }]);
  });

  test("a bundle dropped into the watched directory enrolls the gateway", async () => {
    t = await testAgent({ enrolled: false });
    mkdirSync(join(t.dir, "import"), { recursive: true });
    writeFileSync(join(t.dir, "import", ".~lock.hall-1.jws#"), "");
    writeFileSync(
      join(t.dir, "import", `meetpoint-enrollment-${t.gatewayId} (1).JWS`),
      `${await bundle(t.keys, t.gatewayId)}\n`,
    );
    await waitFor(() => t.agent.enrollment !== null, { timeoutMs: 5000, intervalMs: 50 });
    expect(t.agent.enrollment?.body.gatewayId).toBe(t.gatewayId);
    // The skipped hidden file is in the operator's event log, with its reason.
    expect(t.events.recent().map((e) => e.text)).toContain(
      'import directory: ".~lock.hall-1.jws#" ignored: a hidden file (names starting with a dot are skipped, as partial downloads often are)',
    );
  });
});
