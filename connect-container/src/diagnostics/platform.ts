// Checks of the way to the platform: its name resolves, TCP connects, and TLS verifies against the
// CA pinned at enrollment (a TLS-inspecting proxy breaks that pin).
import { lookup } from "node:dns/promises";
import { isIP, connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { isoTime } from "@meetpoint/common";
import { type DiagnosticLine, line } from "./line.ts";

function timed<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms),
    ),
  ]);
}

/** The platform's name as IPv4 (3 s at most); the address is null when it did not resolve. */
export async function dnsCheck(
  host: string,
): Promise<{ line: DiagnosticLine; address: string | null }> {
  try {
    const started = performance.now();
    const { address } = await timed(lookup(host, { family: 4 }), 3000, "DNS");
    return {
      line: line(`DNS ${host}`, "ok", `${address} (${Math.round(performance.now() - started)} ms)`),
      address,
    };
  } catch (error) {
    return {
      line: line(
        `DNS ${host}`,
        "fail",
        (error as Error).message,
        "Check the DNS server given to the WAN side, or use an address in the platform URL.",
        "plant IT",
      ),
      address: null,
    };
  }
}

/**
 * A TCP connection to the platform's port (3 s at most). Its failure names its kind: refused
 * (something answered: nothing listens there), no answer (dropped on the way), no route.
 */
export async function tcpCheck(host: string, address: string, port: number) {
  const check = `TCP ${host}:${port}`;
  try {
    const ms = await timed(tcpReach(address, port), 3000, "TCP");
    return line(check, "ok", `connected in ${ms} ms`);
  } catch (error) {
    const message = (error as Error).message;
    if (/ECONNREFUSED|ConnectionRefused/i.test(message))
      return line(
        check,
        "fail",
        `connection refused (${message})`,
        `Nothing listens at ${address}:${port}: the platform is down, or its URL names the wrong port. If the platform is up, a firewall on the way rejects the connection.`,
        "the platform's operator",
      );
    if (/EHOSTUNREACH|ENETUNREACH|unreachable/i.test(message))
      return line(
        check,
        "fail",
        `no route (${message})`,
        "The network says the platform cannot be reached from here: check the WAN side's routing.",
        "plant IT",
      );
    return line(
      check,
      "fail",
      message,
      "Nothing answered: a firewall on the way drops outgoing HTTPS. Allow the gateway TCP to the platform.",
      "plant IT",
    );
  }
}

/** A TLS handshake that trusts only the pinned CA (4 s at most). */
export async function tlsCheck(host: string, address: string, port: number, ca: string) {
  try {
    const cert = await timed(tlsReach(address, port, host, ca), 4000, "TLS");
    return line(
      `TLS ${host}:${port}`,
      "ok",
      `pinned CA verified; server certificate valid ${isoTime(cert.validFrom)} – ${isoTime(cert.validTo)}`,
    );
  } catch (error) {
    return line(
      `TLS ${host}:${port}`,
      "fail",
      (error as Error).message,
      "TCP connects, but the certificate there does not chain to the CA pinned at enrollment: a TLS-inspecting proxy (or another server) is in between. Behind an HTTP proxy, set it (Proxy page) so both channels use it; the proxy must not inspect TLS to the platform.",
      "plant IT",
    );
  }
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
