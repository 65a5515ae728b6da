import { describe, expect, test } from "bun:test";
import type { AgentReport } from "../db/index.ts";
import { isNews, SEEN_REFRESH_MS } from "./heartbeat.ts";

const seen = new Date("2026-11-30T10:00:00Z");
const report: AgentReport = {
  state: "online",
  agentVersion: "0.1.0",
  openvpnVersion: "2.6.3",
  clockOffsetMs: 120,
  lastError: null,
  ip: "198.18.0.7",
  settingsVersion: 3,
  sshHostKey: null,
  phase: "online",
  phaseSince: "2026-11-30T09:00:00.000Z",
  capabilities: ["modbus-read-only"],
};
const after = (ms: number) => new Date(seen.getTime() + ms);

describe("a heartbeat is written only when it is news", () => {
  test("the same report 10 s later is not; 20 s later it is (lastSeenAt refresh)", () => {
    const stored = { agent: report, lastSeenAt: seen };
    expect(isNews(stored, { ...report }, after(10_000))).toBe(false);
    expect(isNews(stored, { ...report }, after(SEEN_REFRESH_MS))).toBe(true);
  });

  test("stored key order (PostgreSQL jsonb reorders keys) does not make news", () => {
    const reordered = Object.fromEntries(Object.entries(report).reverse()) as AgentReport;
    expect(isNews({ agent: reordered, lastSeenAt: seen }, { ...report }, after(1000))).toBe(false);
  });

  test("any changed field is news; a clock offset only from 500 ms on", () => {
    const stored = { agent: report, lastSeenAt: seen };
    expect(isNews(stored, { ...report, state: "idle" }, after(1000))).toBe(true);
    expect(isNews(stored, { ...report, lastError: "tls" }, after(1000))).toBe(true);
    expect(isNews(stored, { ...report, ip: "198.18.0.8" }, after(1000))).toBe(true);
    expect(isNews(stored, { ...report, capabilities: [] }, after(1000))).toBe(true);
    expect(isNews(stored, { ...report, clockOffsetMs: 560 }, after(1000))).toBe(false);
    expect(isNews(stored, { ...report, clockOffsetMs: 620 }, after(1000))).toBe(true);
  });

  test("a first report is news", () => {
    expect(isNews({ agent: null, lastSeenAt: null }, report, seen)).toBe(true);
  });
});
