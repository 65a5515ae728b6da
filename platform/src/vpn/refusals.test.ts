import { expect, test } from "bun:test";
import { HandshakeRefusals } from "./refusals.ts";

// Lines as openvpn 2.6 prints them in server mode (timestamps, then the peer).
const expired = [
  "2026-11-30 12:57:15 198.18.3.2:51234 TLS: Initial packet from [AF_INET]198.18.3.2:51234, sid=1d",
  "2026-11-30 12:57:15 198.18.3.2:51234 VERIFY ERROR: depth=0, error=certificate has expired: CN=technician.0b6f",
  "2026-11-30 12:57:15 198.18.3.2:51234 OpenSSL: error:0A000086:SSL routines::certificate verify failed",
  "2026-11-30 12:57:15 198.18.3.2:51234 TLS_ERROR: BIO read tls_read_plaintext error",
  "2026-11-30 12:57:15 198.18.3.2:51234 TLS Error: TLS object -> incoming plaintext read error",
  "2026-11-30 12:57:15 198.18.3.2:51234 TLS Error: TLS handshake failed",
];

test("one refused handshake counts once, with the cause its VERIFY ERROR gave", () => {
  const refusals = new HandshakeRefusals();
  for (const line of expired) refusals.notice(line);
  expect(refusals.counts.total).toBe(1);
  expect(refusals.counts.byCause).toEqual({ "certificate expired": 1 });
});

test("a wrong tls-crypt key logs every packet; it counts once per peer", () => {
  const refusals = new HandshakeRefusals();
  for (let i = 0; i < 5; i++)
    refusals.notice(
      "2026-11-30 12:58:00 TLS Error: tls-crypt unwrapping failed from [AF_INET]198.18.9.9:40000",
    );
  expect(refusals.counts).toMatchObject({ total: 1, byCause: { "wrong tls-crypt key": 1 } });
});

test("revoked, foreign CA, unusable CRL: each its cause; a handshake failing without one still counts", () => {
  const refusals = new HandshakeRefusals();
  const failing = (peer: string, verify: string | null) => {
    if (verify)
      refusals.notice(`2026-11-30 13:00:00 ${peer} VERIFY ERROR: depth=0, error=${verify}`);
    refusals.notice(`2026-11-30 13:00:00 ${peer} TLS Error: TLS handshake failed`);
  };
  failing("198.18.3.2:1", "certificate revoked: CN=gateway.x");
  failing("198.18.3.2:2", "unable to get local issuer certificate: CN=x");
  failing("198.18.3.2:3", "CRL has expired: CN=technician.y");
  failing("198.18.3.2:4", null);
  expect(refusals.counts.byCause).toEqual({
    "certificate revoked": 1,
    "unknown CA": 1,
    "CRL unusable": 1,
    "TLS handshake failed": 1,
  });
  expect(refusals.counts.total).toBe(4);
});
