// The supervisor's reports to the platform: its state as JSON, POSTed with the bearer token on
// every change and at a fixed interval. A failed POST is retried at the next tick; the token is
// never logged. Over https, the platform's own certificate handed at start is pinned (a
// development certificate is not among the image's CAs). Its issuers are trusted too because Bun's
// TLS takes no leaf as a trust anchor (no partial chains): the served chain must end in a root.
import { X509Certificate } from "node:crypto";
import { type PeerCertificate, rootCertificates } from "node:tls";
import type { WorkspaceReport } from "@meetpoint/common";

export interface Reporter {
  /** Sets the state; posts it at once when it changed (vpn or lastError). */
  set(next: Omit<WorkspaceReport, "at">): Promise<void>;
  /** Posts the current state again (the periodic report). */
  tick(): Promise<void>;
  current(): WorkspaceReport;
}

/**
 * Bun's fetch `tls` option pinning `certificatePem` (the platform's serving certificate as served,
 * leaf first): its certificates are trusted besides the system roots, and a server whose leaf has
 * the first one's SHA-256 fingerprint is accepted whatever the host, and no other leaf (the chain
 * must still verify: the system roots complete a public CA's chain). Throws "report.certificate: not a PEM certificate" on a PEM that does
 * not parse.
 */
export function pinnedTls(certificatePem: string) {
  let pinned: string;
  try {
    // X509Certificate reads the first certificate of the PEM: the leaf.
    pinned = new X509Certificate(certificatePem).fingerprint256;
  } catch (cause) {
    throw new Error("report.certificate: not a PEM certificate", { cause });
  }
  return {
    ca: [...rootCertificates, certificatePem],
    // Exactly the pinned leaf: another certificate from the same CA (or any public one) is refused
    // even when it names the host.
    checkServerIdentity: (_host: string, cert: PeerCertificate) =>
      cert.fingerprint256 === pinned
        ? undefined
        : new Error(`not the platform's pinned certificate (${cert.fingerprint256})`),
  };
}

/**
 * A reporter for `url` with `token`, pinning `certificate` when given (see pinnedTls); `log` takes
 * one line per failed POST (status or error text, no token). Each POST has a 5 s deadline. Throws
 * like pinnedTls.
 */
export function createReporter(
  target: { url: string; token: string; certificate?: string },
  log: (line: string) => void,
  now: () => Date = () => new Date(),
): Reporter {
  let state: WorkspaceReport = { vpn: "connecting", at: now().toISOString() };
  const tls = target.certificate ? pinnedTls(target.certificate) : undefined;
  const post = async () => {
    try {
      const response = await fetch(target.url, {
        method: "POST",
        headers: { authorization: `Bearer ${target.token}`, "content-type": "application/json" },
        body: JSON.stringify(state),
        signal: AbortSignal.timeout(5000),
        ...(tls ? { tls } : {}),
      });
      if (!response.ok) log(`report: ${response.status} from the platform`);
    } catch (error) {
      log(`report: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  return {
    async set(next) {
      const changed =
        next.vpn !== state.vpn || next.lastError !== state.lastError || next.fatal !== state.fatal;
      state = { ...next, at: now().toISOString() };
      if (changed) await post();
    },
    async tick() {
      state = { ...state, at: now().toISOString() };
      await post();
    },
    current: () => state,
  };
}
