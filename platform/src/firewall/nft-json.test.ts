import { describe, expect, test } from "bun:test";
import { parseGrantCounters, parseWorkstationMap } from "./nft-json.ts";
import { grantElement, renderWorkstationChange } from "./ruleset.ts";

// `nft -j list set inet meetpoint service_grants` as nftables 1.0.6 (Debian bookworm) prints it for
// the set renderRuleset declares (concatenated type, `counter`), with two grants, one used.
const META = `{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}`;
const SET_HEAD = `"family": "inet", "name": "service_grants", "table": "meetpoint", "type": ["ipv4_addr", "ipv4_addr", "inet_proto", "inet_service"], "handle": 1`;
const TWO_GRANTS = `{"nftables": [${META}, {"set": {${SET_HEAD}, "elem": [{"elem": {"val": {"concat": ["100.127.0.3", "100.64.0.1", "tcp", 443]}, "counter": {"packets": 12, "bytes": 3400}}}, {"elem": {"val": {"concat": ["100.127.0.3", "100.64.0.1", "udp", 502]}, "counter": {"packets": 0, "bytes": 0}}}]}}]}`;
// An empty set: nft leaves "elem" out.
const NO_GRANTS = `{"nftables": [${META}, {"set": {${SET_HEAD}}}]}`;
// Newer nft (1.0.9) also lists the set's own statements; fields we do not use are no reason to fail.
const NEWER = `{"nftables": [${META}, {"set": {${SET_HEAD}, "elem": [{"elem": {"val": {"concat": ["100.127.0.3", "100.64.0.1", "tcp", 443]}, "counter": {"packets": 1, "bytes": 60}}}], "stmt": [{"counter": null}]}}]}`;

const web = grantElement({
  technicianAddress: "100.127.0.3",
  proxyAddress: "100.64.0.1",
  protocol: "tcp",
  port: 443,
});

describe("grant counters from nft -j", () => {
  test("each grant element with its packets and bytes, keyed as grantElement writes it", () => {
    const counters = parseGrantCounters(TWO_GRANTS);
    expect([...counters]).toEqual([
      [web, { packets: 12, bytes: 3400 }],
      ["100.127.0.3 . 100.64.0.1 . udp . 502", { packets: 0, bytes: 0 }],
    ]);
    expect(parseGrantCounters(NO_GRANTS).size).toBe(0);
    expect(parseGrantCounters(NEWER).get(web)).toEqual({ packets: 1, bytes: 60 });
  });

  test("a protocol printed as its number (no /etc/protocols) still names the grant", () => {
    expect(parseGrantCounters(TWO_GRANTS.replace('"tcp"', "6")).get(web)).toEqual({
      packets: 12,
      bytes: 3400,
    });
  });

  test("an unexpected shape is an error that says what was unexpected, never zero", () => {
    const cases: [string, string][] = [
      ["", "not JSON"],
      [`{"nftables": [${META}]}`, "found 0 sets"],
      [`{"nftables": [${META}, {"set": {${SET_HEAD}}}, {"set": {${SET_HEAD}}}]}`, "found 2 sets"],
      [`{"error": "no such set"}`, "nftables: Invalid input: expected array"],
      [`{"nftables": [${META}, {"table": {"family": "inet"}}]}`, "unexpected field(s) table"],
      [
        NO_GRANTS.replace('"meetpoint"', '"other"'),
        'nftables.1.set.table: Invalid input: expected "meetpoint"',
      ],
      [
        TWO_GRANTS.replace(', "counter": {"packets": 12, "bytes": 3400}', ""),
        "elem.counter: Invalid input: expected object",
      ],
      [
        TWO_GRANTS.replace('"packets": 12', '"packets": "12"'),
        "counter.packets: Invalid input: expected number",
      ],
      [
        TWO_GRANTS.replace('"bytes": 3400', '"bytes": 3400, "extra": 1'),
        "unexpected field(s) extra",
      ],
      [TWO_GRANTS.replace(", 443]", "]"), "val.concat: Too small"],
      [
        TWO_GRANTS.replace('{"elem": {"val": {"concat"', '{"elem": {"val": {"set"'),
        "val.concat: Invalid input: expected tuple",
      ],
      [
        TWO_GRANTS.replace(/\{"elem": \{"val": (\{[^}]*\}), "counter": [^}]*\}\}\}/, "$1"),
        "set.elem.0.elem: Invalid input: expected object",
      ],
    ];
    for (const [json, what] of cases) {
      expect(() => parseGrantCounters(json)).toThrow(what);
    }
  });
});

// `nft -j list map inet meetpoint workstation_addresses` as nftables 1.0.6 prints it.
const MAP_HEAD = `"family": "inet", "name": "workstation_addresses", "table": "meetpoint", "type": "ipv4_addr", "handle": 2, "map": "ipv4_addr"`;

describe("workstation translations", () => {
  test("the map lists proxy → tunnel address; an empty map has no elem", () => {
    const two = `{"nftables": [${META}, {"map": {${MAP_HEAD}, "elem": [["100.64.0.1", "100.127.0.5"], ["100.64.0.17", "100.127.0.6"]]}}]}`;
    expect([...parseWorkstationMap(two)]).toEqual([
      ["100.64.0.1", "100.127.0.5"],
      ["100.64.0.17", "100.127.0.6"],
    ]);
    expect(parseWorkstationMap(`{"nftables": [${META}, {"map": {${MAP_HEAD}}}]}`).size).toBe(0);
    expect(() => parseWorkstationMap(`{"nftables": [${META}]}`)).toThrow("found 0");
    expect(() =>
      parseWorkstationMap(
        `{"nftables": [${META}, {"map": {${MAP_HEAD.replace("workstation_addresses", "other")}}}]}`,
      ),
    ).toThrow('expected "workstation_addresses"');
  });

  test("a change deletes only what the map holds and adds only what is new (nft 1.0.6 has no destroy)", () => {
    const map = "inet meetpoint workstation_addresses";
    expect(renderWorkstationChange("100.64.0.1", null, "100.127.0.5")).toBe(
      `add element ${map} { 100.64.0.1 : 100.127.0.5 }\n`,
    );
    expect(renderWorkstationChange("100.64.0.1", "100.127.0.5", "100.127.0.5")).toBe("");
    expect(renderWorkstationChange("100.64.0.1", "100.127.0.5", "100.127.0.9")).toBe(
      `delete element ${map} { 100.64.0.1 : 100.127.0.5 }\nadd element ${map} { 100.64.0.1 : 100.127.0.9 }\n`,
    );
    expect(renderWorkstationChange("100.64.0.1", "100.127.0.5", null)).toBe(
      `delete element ${map} { 100.64.0.1 : 100.127.0.5 }\n`,
    );
    expect(renderWorkstationChange("100.64.0.1", null, null)).toBe("");
    expect(() => renderWorkstationChange("100.64.0.1; flush ruleset", null, "100.127.0.5")).toThrow(
      "bad address",
    );
  });
});
