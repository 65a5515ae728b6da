// The traffic chart, pure: missing counters are drawn as missing (never as zero), names are
// escaped, an empty session still draws a valid document, and bytes read in decimal units.
import { describe, expect, test } from "bun:test";
import { XMLValidator } from "fast-xml-parser";
import { byteText, trafficChart } from "./chart.ts";

const span = {
  from: new Date("2026-11-30T09:00:00.000Z"),
  to: new Date("2026-11-30T09:30:00.000Z"),
};

describe("trafficChart", () => {
  test("a service whose counters were not read is an outline marked missing, not a zero bar", () => {
    const svg = trafficChart(
      [
        { name: "Web", protocol: "tcp", port: 443, packets: 5, bytes: 900 },
        { name: "VNC", protocol: "tcp", port: 5900, packets: null, bytes: null },
      ],
      span,
    );
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).toContain('class="traffic"');
    expect(svg).toContain('<rect class="missing"');
    expect(svg).toContain("tcp/5900 VNC: counters missing");
    expect(svg).toContain("1800 s granted (UTC)");
    expect(svg).toContain("2026-11-30T09:00:00Z");
  });

  test("names are escaped; no services still draws a valid document that says so", () => {
    const svg = trafficChart(
      [{ name: `a&b "<x>" 'y'`, protocol: "udp", port: 161, packets: 0, bytes: 0 }],
      span,
    );
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).toContain("a&amp;b &quot;&lt;x&gt;&quot; &apos;y&apos;");
    const empty = trafficChart([], span);
    expect(XMLValidator.validate(empty)).toBe(true);
    expect(empty).toContain("no services were granted");
  });

  test("bytes in decimal units", () => {
    expect([0, 999, 1000, 3400, 1_250_000, 7_000_000_000].map(byteText)).toEqual([
      "0 B",
      "999 B",
      "1.0 kB",
      "3.4 kB",
      "1.3 MB",
      "7.0 GB",
    ]);
  });
});
