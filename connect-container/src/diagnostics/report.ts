// The "why can't I connect" report an operator can hand to IT: it opens with one verdict (the
// blocking cause and who must act), then each line ok, warn, fail or skipped, with a hint. Checks
// run in the gateway's own network namespace, from the WAN side outwards; a check whose premise
// failed is skipped rather than run (TLS after a refused TCP), so each cause is named once.
import { isoTime, type Runner } from "@meetpoint/common";
import type { Agent } from "../agent/agent.ts";
import type { EffectiveProxy } from "../agent/proxy-setting.ts";
import { caValidityChecks } from "./certificate.ts";
import { apiAuthCheck, enrollmentCheck, lastErrorCheck, openvpnCheck } from "./gateway.ts";
import { type DiagnosticLine, line, skipped } from "./line.ts";
import { defaultRouteCheck, interfaceChecks, routeToPlatformCheck } from "./network.ts";
import { dnsCheck, tcpCheck, tlsCheck } from "./platform.ts";
import { proxyChecks } from "./proxy.ts";
import { clockCheck, ntpChecks } from "./time.ts";
import { type DiagnosticsVerdict, verdictOf } from "./verdict.ts";

export type { DiagnosticLine, Verdict } from "./line.ts";
export type { DiagnosticsVerdict } from "./verdict.ts";
export { verdictOf } from "./verdict.ts";

export interface DiagnosticsDeps {
  agent: Pick<Agent, "enrollment" | "contact" | "openvpnVersion" | "status">;
  run: Runner;
  wanInterface: string;
  lanInterface: string;
  ntpServers: string[];
  /** The plant's HTTP proxy, when one is set: checked first, and the platform through it. */
  proxy?: () => EffectiveProxy | null;
  /** Which firewall the agent runs: a dry run (demo mode) protects nothing, and the report says so. */
  firewall?: "kernel" | "dry-run";
  now?: () => Date;
}

/** Called as the run goes: the lines so far, and the check running now (null when done). */
export type DiagnosticsProgress = (lines: DiagnosticLine[], running: string | null) => void;

/** Runs every check in order, from the gateway outwards, reporting progress as each one ends. */
export async function runDiagnostics(
  deps: DiagnosticsDeps,
  progress: DiagnosticsProgress = () => {},
): Promise<DiagnosticLine[]> {
  const now = deps.now ?? (() => new Date());
  const { agent, run } = deps;
  const enrollment = agent.enrollment;
  const lines: DiagnosticLine[] = [];
  const step = async (
    name: string,
    check: () =>
      | Promise<DiagnosticLine | DiagnosticLine[] | null>
      | DiagnosticLine
      | DiagnosticLine[]
      | null,
  ) => {
    progress([...lines], name);
    const result = await check();
    if (Array.isArray(result)) lines.push(...result);
    else if (result) lines.push(result);
  };
  await step("Enrollment", () => enrollmentCheck(enrollment));
  if (deps.firewall === "dry-run") lines.push(demoFirewallLine());
  await step("Interfaces", () => interfaceChecks(run, deps.wanInterface, deps.lanInterface));
  await step("Default route", () => defaultRouteCheck(run, deps.lanInterface));
  // Why the platform cannot be reached now (the first failed step on the way), or null.
  let unreachable: string | null = enrollment ? null : "not enrolled";
  if (enrollment) {
    const url = new URL(enrollment.body.platformUrl);
    const host = url.hostname;
    const port = Number(url.port || 443);
    const proxy = deps.proxy?.() ?? null;
    if (proxy) {
      // Through a proxy the gateway never resolves or reaches the platform itself: the proxy does,
      // and its lines stand for DNS, route, TCP and TLS.
      await step(`HTTP proxy ${proxy.proxy.host}:${proxy.proxy.port}`, () =>
        proxyChecks(proxy.proxy, proxy.source, host, port, enrollment.body.caCertificates),
      );
      const last = lines.at(-1);
      if (last?.verdict === "fail") unreachable = `${last.check} failed`;
    } else {
      unreachable = await directChecks(
        step,
        lines,
        run,
        deps.wanInterface,
        host,
        port,
        enrollment.body.caCertificates,
      );
    }
    await step("Platform CA validity", () =>
      caValidityChecks(enrollment.body.caCertificates, now()),
    );
  }
  await step("NTP", () => ntpChecks(deps.ntpServers));
  await step("Clock against the platform", () => clockCheck(agent.contact, unreachable, now()));
  await step("API authentication", () =>
    apiAuthCheck(enrollment, agent.contact, enrollment ? unreachable : "not enrolled", now()),
  );
  await step("OpenVPN", () => openvpnCheck(agent.openvpnVersion, agent.status.state));
  const failing = agent.status.state !== "idle" && agent.status.failingSince !== null;
  await step("Data channel", () => lastErrorCheck(agent.status.lastError, failing));
  progress([...lines], null);
  return lines;
}

type Step = (
  name: string,
  check: () => Promise<DiagnosticLine | null> | DiagnosticLine,
) => Promise<void>;

/** DNS, route, TCP and TLS to the platform, each skipped when its premise failed; why it is unreachable, or null. */
async function directChecks(
  step: Step,
  lines: DiagnosticLine[],
  run: Runner,
  wanInterface: string,
  host: string,
  port: number,
  ca: string,
): Promise<string | null> {
  let address: string | null = null;
  await step(`DNS ${host}`, async () => {
    const dns = await dnsCheck(host);
    address = dns.address;
    return dns.line;
  });
  const resolved = address as string | null;
  if (!resolved) {
    const unreachable = `the platform's name ${host} does not resolve`;
    lines.push(skipped("Route to the platform", unreachable));
    lines.push(skipped(`TCP ${host}:${port}`, unreachable));
    lines.push(skipped(`TLS ${host}:${port}`, unreachable));
    return unreachable;
  }
  await step(`Route to ${resolved}`, () => routeToPlatformCheck(run, resolved, wanInterface));
  await step(`TCP ${host}:${port}`, () => tcpCheck(host, resolved, port));
  if (lines.at(-1)?.verdict !== "ok") {
    const unreachable = `TCP to ${host}:${port} failed`;
    lines.push(skipped(`TLS ${host}:${port}`, unreachable));
    return unreachable;
  }
  await step(`TLS ${host}:${port}`, () => tlsCheck(host, resolved, port, ca));
  return lines.at(-1)?.verdict !== "ok" ? `TLS to ${host}:${port} failed` : null;
}

/** Demo mode, said as a failure that does not keep the demo from working. */
function demoFirewallLine(): DiagnosticLine {
  return line(
    "Firewall",
    "fail",
    "DEMO MODE (MEETPOINT_FIREWALL=dry-run): the firewall only records; this gateway protects nothing",
    "Never use it at a real machine network; a real gateway runs with MEETPOINT_FIREWALL=kernel (the default).",
    "the operator at the machine",
    false,
  );
}

const VERDICT_WORDS = { ok: "OK", warn: "WARN", fail: "FAIL", skip: "SKIP" } as const;

/** The report as text, for download and for a ticket: the verdict first, then every line. */
export function reportText(lines: DiagnosticLine[], at: Date, gateway: string): string {
  const width = Math.max(...lines.map((l) => l.check.length), 0);
  const verdict: DiagnosticsVerdict = verdictOf(lines);
  return [
    `Meetpoint gateway diagnostics — ${gateway} — ${isoTime(at)}`,
    "",
    `Verdict: ${verdict.headline}`,
    ...(verdict.act ? [verdict.act] : []),
    "",
    ...lines.map(
      (l) =>
        `[${VERDICT_WORDS[l.verdict].padEnd(4)}] ${l.check.padEnd(width)}  ${l.detail}${l.hint ? `\n       ${"".padEnd(width)}  hint: ${l.hint}` : ""}`,
    ),
    "",
  ].join("\n");
}
