// TOTP second factor (RFC 6238, 30 s, 6 digits): keys, enrolment QR codes, replay-safe checks.
import { decodeHex, encodeBase32NoPadding, encodeHexLowerCase } from "@oslojs/encoding";
import { createTOTPKeyURI, generateHOTP } from "@oslojs/otp";
import { encode } from "uqr";

const PERIOD_SECONDS = 30;
const DIGITS = 6;

export function newTotpKey(): string {
  return encodeHexLowerCase(crypto.getRandomValues(new Uint8Array(20)));
}

/** The otpauth:// URI an authenticator app reads from the QR code. */
export function totpUri(keyHex: string, username: string): string {
  return createTOTPKeyURI("Meetpoint", username, decodeHex(keyHex), PERIOD_SECONDS, DIGITS);
}

/** The key in the base32 form authenticator apps accept when typed in. */
export function totpKeyForTyping(keyHex: string): string {
  return encodeBase32NoPadding(decodeHex(keyHex));
}

/**
 * The time step at which `code` is valid (now, or one step either side for clock drift), or null.
 * Steps at or before `lastStep` are refused: every code works once.
 */
export function verifyTotp(
  keyHex: string,
  code: string,
  now: Date,
  lastStep: number | null,
): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const key = decodeHex(keyHex);
  const current = Math.floor(now.getTime() / 1000 / PERIOD_SECONDS);
  for (const step of [current - 1, current, current + 1]) {
    if (lastStep !== null && step <= lastStep) continue;
    const expected = generateHOTP(key, BigInt(step), DIGITS);
    if (crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(code))) return step;
  }
  return null;
}

/** The code for `now`; used by tests and the lab to act as a user's authenticator. */
export function totpCode(keyHex: string, now: Date): string {
  return generateHOTP(
    decodeHex(keyHex),
    BigInt(Math.floor(now.getTime() / 1000 / PERIOD_SECONDS)),
    DIGITS,
  );
}

/** The QR code of `text` as an SVG document (no scripts, no styles: safe under the portal's CSP). */
export function qrSvg(text: string): string {
  const { data, size } = encode(text, { ecc: "M", border: 2 });
  let path = "";
  data.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (dark) path += `M${x},${y}h1v1h-1z`;
    });
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges"><rect width="${size}" height="${size}" fill="#fff"/><path d="${path}" fill="#000"/></svg>`;
}
