// Handshakes an OpenVPN server refuses before the platform is even asked (TLS level: an expired,
// revoked or foreign certificate, a CRL that stopped being usable, the wrong tls-crypt key), read
// from the server's log lines and counted once per refused handshake, by cause.
import type { RefusedHandshakes } from "../sessions/index.ts";

/** What a VERIFY ERROR says, as a cause an admin understands. */
const CAUSES: [RegExp, string][] = [
  [/certificate has expired/, "certificate expired"],
  [/certificate is not yet valid/, "certificate not yet valid"],
  [/certificate revoked/, "certificate revoked"],
  [/CRL has expired|unable to get certificate CRL|CRL is not yet valid/, "CRL unusable"],
  [/unable to get local issuer|self.signed|unable to verify the first certificate/, "unknown CA"],
];

/** A peer as OpenVPN prefixes its lines in server mode: "198.18.3.2:51234". */
const PEER = /(\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}) /;

/** At most this many peers are remembered between a VERIFY ERROR and its handshake's end. */
const MAX_PENDING = 1000;

export class HandshakeRefusals {
  readonly counts: RefusedHandshakes = { total: 0, byCause: {}, last: null };
  private pending = new Map<string, string>();
  private tlsCryptPeers = new Set<string>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Reads one line of a server's output (openvpn(8), verb 3). */
  notice(line: string): void {
    const peer = line.match(PEER)?.[1] ?? "";
    if (line.includes("VERIFY ERROR")) {
      const cause = CAUSES.find(([pattern]) => pattern.test(line))?.[1] ?? "certificate refused";
      if (this.pending.size >= MAX_PENDING) this.pending.clear();
      this.pending.set(peer, cause);
      this.last(line);
    } else if (line.includes("TLS Error: TLS handshake failed")) {
      this.count(this.pending.get(peer) ?? "TLS handshake failed", line);
      this.pending.delete(peer);
    } else if (/tls-crypt unwrapping failed/.test(line)) {
      // Logged for every packet of such a peer: one refused handshake per peer address.
      if (this.tlsCryptPeers.has(peer)) return;
      if (this.tlsCryptPeers.size >= MAX_PENDING) this.tlsCryptPeers.clear();
      this.tlsCryptPeers.add(peer);
      this.count("wrong tls-crypt key", line);
    }
  }

  private count(cause: string, line: string): void {
    this.counts.total++;
    this.counts.byCause[cause] = (this.counts.byCause[cause] ?? 0) + 1;
    this.last(line);
  }

  private last(line: string): void {
    this.counts.last = { at: this.now(), line: line.slice(0, 300) };
  }
}
