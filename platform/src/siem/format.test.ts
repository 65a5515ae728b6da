import { describe, expect, test } from "bun:test";
import type { AuditEntry } from "../audit/index.ts";
import { parseSiemConfig, selects } from "./destinations.ts";
import { cef, cefValue, octetCounted, rfc5424, sdValue, severityOf } from "./format.ts";

const entry: AuditEntry = {
  seq: 42,
  at: new Date("2026-05-01T10:00:00.123Z"),
  actorId: null,
  actorName: "ad min",
  action: "sign_in",
  targetType: null,
  targetId: null,
  customerId: null,
  ip: "198.18.0.1",
  result: "denied",
  detail: { reason: "wrong = password\nagain" },
  prevHash: "0".repeat(64),
  hash: "a".repeat(64),
};

describe("syslog rendering", () => {
  test("RFC 5424: PRI from facility and result, header fields, SD-PARAM escaping, BOM before the JSON", () => {
    const message = rfc5424(entry, { hostname: "platform host", facility: 13 });
    expect(
      message.startsWith(
        '<108>1 2026-05-01T10:00:00.123Z platform_host meetpoint - sign_in [meetpoint@32473 seq="42" action="sign_in" result="denied" actor="ad min" ip="198.18.0.1" hash=',
      ),
    ).toBe(true);
    expect(message).toContain("] \uFEFF{");
    expect(JSON.parse(message.slice(message.indexOf("\uFEFF") + 1)).detail.reason).toBe(
      "wrong = password\nagain",
    );
    expect(sdValue('a"b\\c]d')).toBe('a\\"b\\\\c\\]d');
    expect([severityOf("ok"), severityOf("denied"), severityOf("failed")]).toEqual([6, 4, 3]);
  });

  test("CEF: header pipes and extension equals signs and line breaks are escaped", () => {
    const line = cef({ ...entry, action: "a|b" }, "1.0", "sign|in");
    expect(
      line.startsWith(
        "CEF:0|Meetpoint|Meetpoint platform|1.0|a\\|b|sign\\|in|6|rt=1777629600123 externalId=42 suser=ad min src=198.18.0.1 outcome=denied",
      ),
    ).toBe(true);
    expect(line).toContain('cs3={"reason":"wrong \\= password\\\\nagain"}');
    expect(cefValue("x\\y=z\r\n")).toBe("x\\\\y\\=z\\r\\n");
  });

  test("octet counting counts UTF-8 bytes, not characters", () => {
    expect(octetCounted("äb").toString("utf8")).toBe("3 äb");
  });
});

describe("SIEM configuration", () => {
  const ok = { destinations: [{ name: "soc", url: "tls://siem.example.test" }] };

  test("defaults: RFC 5424, facility 13, alarm at 10,000", () => {
    const config = parseSiemConfig(JSON.stringify(ok));
    expect(config.alarmBacklog).toBe(10_000);
    expect(config.destinations[0]).toMatchObject({ format: "rfc5424", facility: 13 });
  });

  test("every bad file names the field at fault", () => {
    const cases: [unknown, string][] = [
      ["{", "not JSON"],
      [{ destinations: [{ name: "soc", url: "http://x" }] }, "destinations.0.url"],
      [{ destinations: [{ name: "soc", url: "tcp://x:99999" }] }, "port must be 1-65535"],
      [
        { destinations: [{ name: "soc", url: "udp://x", actions: ["no_such.thing"] }] },
        "destinations.0.actions.0",
      ],
      [
        { destinations: [{ name: "soc", url: "udp://x", customers: ["ACME"] }] },
        "destinations.0.customers.0",
      ],
      [
        { destinations: [{ name: "soc", url: "tls://x", cert: "/c.pem" }] },
        "cert and key go together",
      ],
      [{ destinations: [ok.destinations[0], ok.destinations[0]] }, "names must be unique"],
      [{ destinations: [], extra: 1 }, "extra"],
    ];
    for (const [value, message] of cases) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      expect(() => parseSiemConfig(text)).toThrow("MEETPOINT_SIEM_CONFIG:");
      expect(() => parseSiemConfig(text)).toThrow(message);
    }
  });

  test("filters: action names and prefixes, customers (platform-wide entries excluded)", () => {
    const filter = { actions: ["remote_session.", "sign_in"], customers: ["c1"] };
    expect(selects(filter, { action: "remote_session.end", customerId: "c1" })).toBe(true);
    expect(selects(filter, { action: "sign_in", customerId: "c1" })).toBe(true);
    expect(selects(filter, { action: "customer.create", customerId: "c1" })).toBe(false);
    expect(selects(filter, { action: "sign_in", customerId: "c2" })).toBe(false);
    expect(selects(filter, { action: "sign_in", customerId: null })).toBe(false);
    expect(selects({}, { action: "anything", customerId: null })).toBe(true);
  });
});
