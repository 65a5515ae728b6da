// The "why can't I connect" report an operator can hand to IT: each line ok, warn or fail, with a
// hint. Checks run in the gateway's own network namespace, from the WAN side outwards.
import type { Runner } from "@meetpoint/common";
import type { Agent } from "../agent/agent.ts";
import type { EffectiveProxy } from "../agent/proxy-setting.ts";
import { caValidityChecks } from "./certificate.ts";
import { apiAuthCheck, enrollmentCheck, lastErrorCheck, openvpnCheck } from "./gateway.ts";
import type { DiagnosticLine } from "./line.ts";
import { defaultRouteCheck, interfaceChecks, routeToPlatformCheck } from "./network.ts";
import { dnsCheck, tcpCheck, tlsCheck } from "./platform.ts";
import { proxyChecks } from "./proxy.ts";
import { clockCheck, ntpChecks } from "./time.ts";

export type { DiagnosticLine, Verdict } from "./line.ts";

export interface DiagnosticsDeps {
  agent: Pick<Agent, "enrollment" | "contact" | "openvpnVersion" | "status">;
  run: Runner;
  wanInterface: string;
  lanInterface: string;
  ntpServers: string[];
  /** The plant's HTTP proxy, when one is set: checked first, and the platform through it. */
  proxy?: () => EffectiveProxy | null;
  now?: () => Date;
}

/** Runs every check in order, from the gateway outwards; a check that cannot run is left out. */
export async function runDiagnostics(deps: DiagnosticsDeps): Promise<DiagnosticLine[]> {
  const now = deps.now ?? (() => new Date());
  const { agent, run } = deps;
  const enrollment = agent.enrollment;
  const lines: (DiagnosticLine | null)[] = [enrollmentCheck(enrollment)];
  lines.push(...(await interfaceChecks(run, deps.wanInterface, deps.lanInterface)));
  lines.push(await defaultRouteCheck(run, deps.lanInterface));
  if (enrollment) {
    const url = new URL(enrollment.body.platformUrl);
    const host = url.hostname;
    const port = Number(url.port || 443);
    const proxy = deps.proxy?.() ?? null;
    // Through a proxy the gateway never resolves or reaches the platform itself: the proxy does.
    if (proxy)
      lines.push(
        ...(await proxyChecks(
          proxy.proxy,
          proxy.source,
          host,
          port,
          enrollment.body.caCertificates,
        )),
      );
    const dns = proxy ? { line: null, address: null } : await dnsCheck(host);
    lines.push(dns.line);
    if (dns.address) {
      lines.push(await routeToPlatformCheck(run, dns.address, deps.wanInterface));
      lines.push(await tcpCheck(host, dns.address, port));
      lines.push(await tlsCheck(host, dns.address, port, enrollment.body.caCertificates));
    }
    lines.push(...caValidityChecks(enrollment.body.caCertificates, now()));
  }
  lines.push(...(await ntpChecks(deps.ntpServers)));
  lines.push(clockCheck(agent.contact));
  lines.push(apiAuthCheck(enrollment, agent.contact));
  lines.push(openvpnCheck(agent.openvpnVersion, agent.status.state));
  lines.push(lastErrorCheck(agent.status.lastError));
  return lines.filter((l): l is DiagnosticLine => l !== null);
}

/** The report as text, for download and for a ticket. */
export function reportText(lines: DiagnosticLine[], at: Date, gateway: string): string {
  const width = Math.max(...lines.map((l) => l.check.length));
  return [
    `Meetpoint gateway diagnostics — ${gateway} — ${at.toISOString()}`,
    "",
    ...lines.map(
      (l) =>
        `[${l.verdict.toUpperCase().padEnd(4)}] ${l.check.padEnd(width)}  ${l.detail}${l.hint ? `\n       ${"".padEnd(width)}  hint: ${l.hint}` : ""}`,
    ),
    "",
  ].join("\n");
}
