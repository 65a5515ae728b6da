// The "why can't I connect" report an operator can hand to IT: each line ok, warn or fail, with a
// hint. Checks run in the gateway's own network namespace, from the WAN side outwards.
import { X509Certificate } from "node:crypto";
import { lookup } from "node:dns/promises";
import { isIP, connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { Runner } from "@meetpoint/common";
import type { Agent } from "../agent/agent.ts";
import { sntpQuery } from "./sntp.ts";

export type Verdict = "ok" | "warn" | "fail";

export interface DiagnosticLine {
  check: string;
  verdict: Verdict;
  detail: string;
  hint: string | null;
}

export interface DiagnosticsDeps {
  agent: Agent;
  run: Runner;
  wanInterface: string;
  lanInterface: string;
  ntpServers: string[];
  now?: () => Date;
}

/** The certificate allowance the platform grants clocks (MEETPOINT_CLOCK_SKEW_SECONDS default). */
const SKEW_ALLOWANCE_MS = 120_000;

const line = (check: string, verdict: Verdict, detail: string, hint: string | null = null) => ({
  check,
  verdict,
  detail,
  hint,
});

const seconds = (ms: number) => `${ms >= 0 ? "+" : ""}${(ms / 1000).toFixed(2)} s`;

function timed<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms),
    ),
  ]);
}

export async function runDiagnostics(deps: DiagnosticsDeps): Promise<DiagnosticLine[]> {
  const now = deps.now ?? (() => new Date());
  const lines: DiagnosticLine[] = [];
  const { agent } = deps;
  const enrollment = agent.enrollment;

  lines.push(
    enrollment
      ? line(
          "Enrollment",
          "ok",
          `gateway ${enrollment.body.gatewayId}, bundle version ${enrollment.version}, platform ${enrollment.body.platformUrl}`,
        )
      : line(
          "Enrollment",
          "fail",
          "no enrollment bundle imported",
          "Import the bundle from the portal (Enrollment page or import directory).",
        ),
  );

  // Interfaces and routes.
  const addresses = await deps.run(["ip", "-j", "addr", "show"]);
  let links: {
    ifname: string;
    operstate: string;
    addr_info?: { family: string; local: string; prefixlen: number }[];
  }[] = [];
  try {
    links = JSON.parse(addresses.stdout || "[]");
  } catch {}
  for (const [role, name] of [
    ["WAN", deps.wanInterface],
    ["LAN", deps.lanInterface],
  ] as const) {
    const found = links.find((l) => l.ifname === name);
    const v4 = (found?.addr_info ?? [])
      .filter((a) => a.family === "inet")
      .map((a) => `${a.local}/${a.prefixlen}`);
    lines.push(
      !found
        ? line(
            `${role} interface ${name}`,
            "fail",
            "not present",
            `Check MEETPOINT_${role}_INTERFACE and the container's networks.`,
          )
        : v4.length === 0
          ? line(
              `${role} interface ${name}`,
              "fail",
              `${found.operstate}, no IPv4 address`,
              "Give the interface an address (DHCP or static).",
            )
          : line(
              `${role} interface ${name}`,
              found.operstate === "DOWN" ? "fail" : "ok",
              `${found.operstate}, ${v4.join(", ")}`,
            ),
    );
  }
  const routes = await deps.run(["ip", "-j", "route", "show"]);
  let routeList: { dst: string; gateway?: string; dev: string }[] = [];
  try {
    routeList = JSON.parse(routes.stdout || "[]");
  } catch {}
  const defaultRoute = routeList.find((r) => r.dst === "default");
  lines.push(
    defaultRoute
      ? line(
          "Default route",
          defaultRoute.dev === deps.lanInterface ? "warn" : "ok",
          `via ${defaultRoute.gateway ?? "(direct)"} dev ${defaultRoute.dev}`,
          defaultRoute.dev === deps.lanInterface
            ? "The default route leads into the machine LAN: the platform should be reached through the WAN."
            : null,
        )
      : line(
          "Default route",
          "warn",
          "none",
          "Without a default route only directly connected platforms are reachable.",
        ),
  );

  if (enrollment) {
    const url = new URL(enrollment.body.platformUrl);
    const host = url.hostname;
    const port = Number(url.port || 443);
    let address: string | null = null;
    try {
      const started = performance.now();
      address = (await timed(lookup(host, { family: 4 }), 3000, "DNS")).address;
      lines.push(
        line(`DNS ${host}`, "ok", `${address} (${Math.round(performance.now() - started)} ms)`),
      );
    } catch (error) {
      lines.push(
        line(
          `DNS ${host}`,
          "fail",
          (error as Error).message,
          "Check the DNS server given to the WAN side, or use an address in the platform URL.",
        ),
      );
    }
    if (address) {
      const route = await deps.run(["ip", "-j", "route", "get", address]);
      let via: { dev?: string; gateway?: string }[] = [];
      try {
        via = JSON.parse(route.stdout || "[]");
      } catch {}
      const dev = via[0]?.dev;
      lines.push(
        dev === deps.wanInterface
          ? line(
              `Route to ${address}`,
              "ok",
              `dev ${dev}${via[0]?.gateway ? ` via ${via[0].gateway}` : ""}`,
            )
          : line(
              `Route to ${address}`,
              "fail",
              dev ? `dev ${dev} (not the WAN side)` : route.stderr.trim() || "no route",
              "The platform must be reached through the WAN interface.",
            ),
      );
      try {
        const ms = await timed(tcpReach(address, port), 3000, "TCP");
        lines.push(line(`TCP ${host}:${port}`, "ok", `connected in ${ms} ms`));
      } catch (error) {
        lines.push(
          line(
            `TCP ${host}:${port}`,
            "fail",
            (error as Error).message,
            "A firewall on the way may block outgoing HTTPS; allow TCP to the platform.",
          ),
        );
      }
      try {
        const cert = await timed(
          tlsReach(address, port, host, enrollment.body.caCertificates),
          4000,
          "TLS",
        );
        lines.push(
          line(
            `TLS ${host}:${port}`,
            "ok",
            `pinned CA verified; server certificate valid ${cert.validFrom} – ${cert.validTo}`,
          ),
        );
      } catch (error) {
        lines.push(
          line(
            `TLS ${host}:${port}`,
            "fail",
            (error as Error).message,
            "A TLS-inspecting proxy or a wrong platform breaks the pin; the gateway must reach the platform directly.",
          ),
        );
      }
    }
    // Certificate validity windows of the pinned CA(s) against the local clock.
    for (const pem of enrollment.body.caCertificates.match(
      /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g,
    ) ?? []) {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(pem);
      } catch {
        lines.push(
          line(
            "Platform CA validity",
            "fail",
            "the pinned CA certificate cannot be read",
            "Re-import the enrollment bundle.",
          ),
        );
        continue;
      }
      const t = now().getTime();
      const from = new Date(cert.validFrom).getTime();
      const to = new Date(cert.validTo).getTime();
      lines.push(
        t < from || t > to
          ? line(
              "Platform CA validity",
              "fail",
              `${cert.validFrom} – ${cert.validTo}, local time ${now().toISOString()}`,
              "Either the local clock is wrong or the CA expired: check NTP, then re-enroll.",
            )
          : line("Platform CA validity", "ok", `${cert.validFrom} – ${cert.validTo}`),
      );
    }
  }

  // Time: SNTP servers, then the platform's clock.
  let ntpOk = false;
  for (const server of deps.ntpServers) {
    try {
      const result = await sntpQuery(server, 2000);
      ntpOk = true;
      const off = Math.abs(result.offsetMs);
      lines.push(
        line(
          `NTP ${server}`,
          off < 1000 ? "ok" : off < SKEW_ALLOWANCE_MS ? "warn" : "fail",
          `offset ${seconds(result.offsetMs)}, stratum ${result.stratum}, round trip ${result.roundTripMs.toFixed(1)} ms`,
          off < 1000 ? null : "The local clock is off: enable time synchronisation on the host.",
        ),
      );
      break; // The first server that answers decides; the others are fallbacks.
    } catch (error) {
      lines.push(
        line(
          `NTP ${server}`,
          "warn",
          (error as Error).message,
          "Allow UDP 123 outwards, or configure reachable MEETPOINT_NTP_SERVERS.",
        ),
      );
    }
  }
  if (!ntpOk && deps.ntpServers.length > 0)
    lines.push(
      line(
        "NTP",
        "fail",
        "no configured server answered",
        "Certificates are valid for minutes: without a correct clock connections fail.",
      ),
    );

  const contact = agent.contact;
  if (contact?.clockOffsetMs !== null && contact?.clockOffsetMs !== undefined) {
    const off = Math.abs(contact.clockOffsetMs);
    lines.push(
      line(
        "Clock against the platform",
        off < 5000 ? "ok" : off < SKEW_ALLOWANCE_MS ? "warn" : "fail",
        `platform minus local ${seconds(contact.clockOffsetMs)} (allowance ±${SKEW_ALLOWANCE_MS / 1000} s)`,
        off < 5000
          ? null
          : "Certificates will be refused beyond the allowance: fix the local clock (NTP).",
      ),
    );
  }
  lines.push(
    !enrollment
      ? line("API authentication", "warn", "not enrolled", null)
      : !contact
        ? line("API authentication", "warn", "no heartbeat sent yet", null)
        : contact.ok
          ? line(
              "API authentication",
              "ok",
              `last heartbeat answered at ${contact.at.toISOString()}`,
            )
          : line(
              "API authentication",
              "fail",
              contact.error ?? "failed",
              "See the lines above; a refused secret needs the newest enrollment bundle.",
            ),
  );

  lines.push(
    agent.openvpnVersion
      ? line("OpenVPN", "ok", `version ${agent.openvpnVersion}, data channel ${agent.status.state}`)
      : line(
          "OpenVPN",
          "fail",
          "openvpn not found",
          "Install OpenVPN 2.6 (the container image carries it).",
        ),
  );
  if (agent.status.lastError) lines.push(line("Last error", "warn", agent.status.lastError, null));
  return lines;
}

function tcpReach(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = tcpConnect({ host, port }, () => {
      socket.destroy();
      resolve(Math.round(performance.now() - started));
    });
    socket.on("error", (error) =>
      reject(new Error((error as NodeJS.ErrnoException).code ?? error.message)),
    );
  });
}

function tlsReach(host: string, port: number, servername: string, ca: string) {
  return new Promise<{ validFrom: string; validTo: string }>((resolve, reject) => {
    // SNI takes names only; for an address, the certificate's IP entries are checked instead.
    const sni = isIP(servername) ? undefined : servername;
    const socket = tlsConnect({ host, port, servername: sni, ca, rejectUnauthorized: true }, () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      resolve({ validFrom: cert.valid_from, validTo: cert.valid_to });
    });
    socket.on("error", (error) =>
      reject(new Error((error as NodeJS.ErrnoException).code ?? error.message)),
    );
  });
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
