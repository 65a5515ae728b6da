// The rendered ruleset and grant changes applied by the real nft, in a namespace of the test's own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCidr } from "@meetpoint/common";
import { labSkipReason, Netns } from "@meetpoint/lab";
import { type Grant, renderGrantChange, renderRuleset } from "../src/firewall/index.ts";

const skip = labSkipReason(["nft"]);
const technicianPool = parseCidr("100.127.0.0/16") ?? { base: 0, prefix: 0 };
const proxyPool = parseCidr("100.64.0.0/12") ?? { base: 0, prefix: 0 };

describe.skipIf(skip !== null)("platform ruleset in the kernel", () => {
  let ns: Netns;
  let dir: string;
  beforeAll(() => {
    ns = Netns.create("nft");
    dir = mkdtempSync(join(tmpdir(), "meetpoint-nft-"));
  });
  afterAll(() => {
    ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const apply = (text: string) => {
    const file = join(dir, `${crypto.randomUUID()}.nft`);
    writeFileSync(file, text);
    ns.exec("nft", "-f", file);
  };
  const elements = (): string[] => {
    const json = JSON.parse(
      ns.exec("nft", "-j", "list", "set", "inet", "meetpoint", "service_grants"),
    );
    const set = json.nftables.find((item: { set?: unknown }) => item.set)?.set ?? {};
    return (set.elem ?? [])
      .map((e: { elem: { val: { concat: (string | number)[] } } }) => e.elem.val.concat.join(" . "))
      .sort();
  };

  const a: Grant = {
    technicianAddress: "100.127.0.11",
    proxyAddress: "100.64.0.1",
    protocol: "tcp",
    port: 443,
  };
  const b: Grant = {
    technicianAddress: "100.127.0.11",
    proxyAddress: "100.64.0.1",
    protocol: "tcp",
    port: 502,
  };
  const c: Grant = {
    technicianAddress: "100.127.0.12",
    proxyAddress: "100.64.1.1",
    protocol: "udp",
    port: 47808,
  };

  test("the whole ruleset loads, and loads again over itself (reconcile at start)", () => {
    const model = { tunnelInterfaces: "meetpoint-vpn*", technicianPool, proxyPool, grants: [a, c] };
    apply(renderRuleset(model));
    expect(elements()).toEqual([
      "100.127.0.11 . 100.64.0.1 . tcp . 443",
      "100.127.0.12 . 100.64.1.1 . udp . 47808",
    ]);
    apply(renderRuleset({ ...model, grants: [b] }));
    expect(elements()).toEqual(["100.127.0.11 . 100.64.0.1 . tcp . 502"]);
    const listed = ns.exec("nft", "list", "chain", "inet", "meetpoint", "forward");
    expect(listed).toContain("policy drop");
    expect(listed).toContain("spoofed tunnel source");
  });

  test("grant changes add and remove exactly their elements", () => {
    apply(renderGrantChange([a, c], [b]));
    expect(elements()).toEqual([
      "100.127.0.11 . 100.64.0.1 . tcp . 443",
      "100.127.0.12 . 100.64.1.1 . udp . 47808",
    ]);
    apply(renderGrantChange([], [a]));
    expect(elements()).toEqual(["100.127.0.12 . 100.64.1.1 . udp . 47808"]);
  });
});
