// Signed webhooks: POST of the alert as JSON with `Meetpoint-Signature: t=<unix seconds>,v1=<hex>`,
// v1 = HMAC-SHA256(key, "<t>.<body>") (RFC 2104), and `Meetpoint-Delivery: <id>` to drop repeats.
// A receiver recomputes v1 and refuses a `t` outside its replay window (default 300 s).
import { createHmac, timingSafeEqual } from "node:crypto";
import ipaddr from "ipaddr.js";
import type { WebhookTarget } from "./ssrf.ts";

export const SIGNATURE_HEADER = "meetpoint-signature";
export const DELIVERY_HEADER = "meetpoint-delivery";

export function signatureHeader(key: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", key).update(`${timestamp}.${body}`).digest("hex");
  return `t=${timestamp},v1=${mac}`;
}

/**
 * What a receiver does (and what the README shows): true when the header's MAC fits the body and
 * its time is within `toleranceSeconds` of `now`.
 */
export function verifySignature(
  key: string,
  header: string,
  body: string,
  now: Date,
  toleranceSeconds = 300,
): boolean {
  const t = Number(header.match(/(?:^|,)t=(\d+)/)?.[1]);
  const v1 = header.match(/(?:^|,)v1=([0-9a-f]{64})/)?.[1];
  if (!Number.isFinite(t) || !v1) return false;
  if (Math.abs(now.getTime() / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signatureHeader(key, t, body).split("v1=")[1] ?? "", "hex");
  return timingSafeEqual(expected, Buffer.from(v1, "hex"));
}

/**
 * Where the request goes: the checked address itself, with the URL's host name kept for the Host
 * header and for TLS (SNI and the certificate's name), so no second DNS lookup happens.
 */
export function pinnedRequest(target: WebhookTarget): {
  url: URL;
  host: string;
  serverName: string | undefined;
} {
  const url = new URL(target.url);
  const named = url.hostname.replace(/^\[|\]$/g, "");
  url.hostname = target.address.includes(":") ? `[${target.address}]` : target.address;
  return { url, host: target.url.host, serverName: ipaddr.isValid(named) ? undefined : named };
}

/** Sends one webhook; resolves when the receiver answered 2xx, rejects with the reason otherwise. */
export async function postWebhook(options: {
  target: WebhookTarget;
  key: string;
  deliveryId: string;
  body: string;
  now: Date;
  timeoutMs?: number;
}): Promise<void> {
  const timestamp = Math.floor(options.now.getTime() / 1000);
  const pinned = pinnedRequest(options.target);
  const response = await fetch(pinned.url, {
    method: "POST",
    headers: {
      host: pinned.host,
      "content-type": "application/json",
      [SIGNATURE_HEADER]: signatureHeader(options.key, timestamp, options.body),
      [DELIVERY_HEADER]: options.deliveryId,
      "user-agent": "Meetpoint-Alerts/1",
    },
    body: options.body,
    // A redirect could lead to an address the URL check refused: not followed.
    redirect: "manual",
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    // Bun's fetch: the name the certificate must carry, and the SNI, when connecting by address.
    tls: pinned.serverName ? { serverName: pinned.serverName } : undefined,
  });
  await response.body?.cancel();
  if (response.status < 200 || response.status >= 300)
    throw new Error(`the receiver answered ${response.status}`);
}
