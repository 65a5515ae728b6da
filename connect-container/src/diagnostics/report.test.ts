import { describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import type { AgentStatus } from "../agent/status.ts";
import { initialStatus } from "../agent/status.ts";
import type { Enrollment } from "../state/store.ts";
import { apiAuthCheck } from "./gateway.ts";
import { reportText, runDiagnostics, verdictOf } from "./report.ts";
import { clockCheck } from "./time.ts";

const now = new Date("2026-11-30T10:00:00Z");
const enrollment = (platformUrl: string) =>
  ({
    body: { platformUrl, gatewayId: "7d4f8b1e-3c2a-4e5f-9a6b-1c2d3e4f5a6b", caCertificates: "" },
    version: 1,
    importedAt: now.toISOString(),
  }) as unknown as Enrollment;

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const ip = async (args: string[]) => ({
  code: 0,
  stderr: "",
  stdout: JSON.stringify(
    args[2] === "addr"
      ? ["eth0", "eth1"].map((ifname, i) => ({
          ifname,
          operstate: "UP",
          addr_info: [{ family: "inet", local: `198.18.${i}.2`, prefixlen: 24 }],
        }))
      : args[2] === "route" && args[3] === "show"
        ? [{ dst: "default", gateway: "198.18.0.1", dev: "eth0" }]
        : [{ dev: "eth0" }],
  ),
});

describe("the diagnostics report", () => {
  test("regression: a refused TCP connection is the verdict, named for the platform's operator; TLS, clock and API are skipped, not blamed", async () => {
    const port = await closedPort();
    const status: AgentStatus = initialStatus(now);
    const running: string[] = [];
    const lines = await runDiagnostics(
      {
        agent: {
          enrollment: enrollment(`https://127.0.0.1:${port}`),
          // An answer from before the platform went down: it must not show as an OK now.
          contact: { at: new Date(now.getTime() - 5000), ok: true, error: null, clockOffsetMs: 0 },
          openvpnVersion: "2.6.12",
          status,
        },
        run: ip,
        wanInterface: "eth0",
        lanInterface: "eth1",
        ntpServers: [],
        now: () => now,
      },
      (_, check) => {
        if (check) running.push(check);
      },
    );
    const byCheck = Object.fromEntries(lines.map((l) => [l.check.split(" ")[0], l]));
    expect(byCheck.TCP).toMatchObject({ verdict: "fail", who: "the platform's operator" });
    expect(byCheck.TCP?.hint).toContain(`Nothing listens at 127.0.0.1:${port}`);
    expect(byCheck.TLS).toMatchObject({ verdict: "skip", hint: null });
    expect(lines.find((l) => l.check === "Clock against the platform")?.verdict).toBe("skip");
    expect(lines.find((l) => l.check === "API authentication")?.verdict).toBe("skip");
    const verdict = verdictOf(lines);
    expect(verdict.headline).toStartWith(`Blocked: TCP 127.0.0.1:${port} — connection refused`);
    expect(verdict.act).toStartWith("The platform's operator must act:");
    // Progress was reported check by check, in order.
    expect(running.slice(0, 3)).toEqual(["Enrollment", "Interfaces", "Default route"]);
    expect(running).toContain(`TCP 127.0.0.1:${port}`);
    // The text for IT opens with the verdict; times in the one format.
    const text = reportText(lines, now, "gw");
    expect(text.split("\n")[0]).toBe("Meetpoint gateway diagnostics — gw — 2026-11-30T10:00:00Z");
    expect(text.split("\n")[2]).toBe(`Verdict: ${verdict.headline}`);
    expect(text).toContain("[SKIP] TLS");
  });

  test("the clock and the API line only from a fresh answer of a reachable platform", () => {
    const fresh = { at: new Date(now.getTime() - 5000), ok: true, error: null, clockOffsetMs: 300 };
    const stale = { ...fresh, at: new Date(now.getTime() - 10 * 60_000) };
    expect(clockCheck(fresh, null, now).verdict).toBe("ok");
    expect(clockCheck(stale, null, now)).toMatchObject({
      verdict: "skip",
      detail: "skipped: no fresh answer from the platform (last at 2026-11-30T09:50:00Z)",
    });
    expect(clockCheck(fresh, "TCP to x failed", now).verdict).toBe("skip");
    const e = enrollment("https://platform.example");
    expect(apiAuthCheck(e, fresh, null, now).verdict).toBe("ok");
    expect(apiAuthCheck(e, stale, null, now).verdict).toBe("skip");
  });

  test("nothing blocking: the verdict says so, and points at what to look at", () => {
    expect(verdictOf([]).headline).toBe("No problem found: the gateway can reach the platform.");
    const ntp = {
      check: "NTP",
      verdict: "fail" as const,
      detail: "no configured server answered",
      hint: "h",
      who: "plant IT" as const,
      blocks: false,
    };
    expect(verdictOf([ntp])).toMatchObject({ ok: true });
  });
});
