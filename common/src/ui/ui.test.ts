import { describe, expect, test } from "bun:test";
import { passwordProblems, passwordRules } from "./password-rules.ts";
import { isoTime } from "./time.ts";
import { splitTokens } from "./tokens.ts";
import { whoMustAct, whoMustActText } from "./who-must-act.ts";

describe("one date format", () => {
  test("ISO 8601 in UTC to the second, from a Date, an ISO string or OpenSSL's format", () => {
    expect(isoTime(new Date("2026-11-30T09:45:12.345Z"))).toBe("2026-11-30T09:45:12Z");
    expect(isoTime("2026-11-30T10:45:12+01:00")).toBe("2026-11-30T09:45:12Z");
    expect(isoTime("Nov 30 09:45:12 2026 GMT")).toBe("2026-11-30T09:45:12Z");
    expect(isoTime("not a time")).toBe("not a time");
  });
});

describe("one password rule", () => {
  test("every broken part is named at once, not one after the other", () => {
    expect(passwordProblems("aaaa", { accountName: "aa", accountLabel: "your username" })).toEqual([
      "has 4 characters: it needs at least 12",
      "uses too few different characters: it needs at least 5",
      "contains your username",
    ]);
    expect(passwordProblems("Gateway-Passw0rd")).toEqual([]);
    expect(passwordProblems("x".repeat(257))).toHaveLength(2);
  });

  test("the rule as shown up front names the same length as the check", () => {
    expect(passwordRules()[0]).toContain("at least 12");
    expect(passwordRules({ accountName: "x", accountLabel: "your username" })).toContain(
      "not containing your username",
    );
  });
});

describe("who must act on a gateway's error", () => {
  // The agent's own words (connect-container/src/control/client.ts, data-channel.ts).
  test.each([
    ["the platform's name platform.example cannot be resolved (check DNS)", "plant IT"],
    ["the platform platform.example:443 did not answer in time", "plant IT"],
    [
      "the platform platform.example:443 refused the connection (wrong port, or the platform is down)",
      "the platform's operator",
    ],
    [
      "the platform's certificate is not trusted: it does not chain to the CA pinned at enrollment (UNABLE_TO_VERIFY_LEAF_SIGNATURE)",
      "plant IT",
    ],
    [
      "the platform does not accept this gateway's secret: was it re-keyed? Import the new enrollment bundle",
      "the platform's operator",
    ],
    ["the data channel did not come up within 30 s", "plant IT"],
    ["remote session ended by technician", "the operator at the machine"],
    ["the platform closed the data channel (gateway_lost)", "nobody"],
    ["something nobody foresaw", "nobody"],
  ] as const)("%s → %s", (reason, who) => {
    expect(whoMustAct(reason).who).toBe(who);
  });

  test("the sentence names who first", () => {
    expect(whoMustActText("the data channel did not come up within 30 s")).toStartWith(
      "Plant IT must act:",
    );
    expect(whoMustActText(null)).toStartWith("Nobody needs to act");
  });
});

describe("tokens in running text", () => {
  test("addresses, blocks, ports and times are cut out whole; nothing is lost", () => {
    const text =
      "TCP 127.0.0.1:8443 refused at 2026-11-30T09:45:12Z; block 100.64.0.0/24, service tcp/502.";
    const parts = splitTokens(text);
    expect(parts.filter((p) => p.token).map((p) => p.text)).toEqual([
      "127.0.0.1:8443",
      "2026-11-30T09:45:12Z",
      "100.64.0.0/24",
      "tcp/502",
    ]);
    expect(parts.map((p) => p.text).join("")).toBe(text);
    expect(splitTokens("no tokens here")).toEqual([{ text: "no tokens here", token: false }]);
  });
});
