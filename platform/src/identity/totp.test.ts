import { describe, expect, test } from "bun:test";
import { lockDuration } from "./lockout.ts";
import { newTotpKey, qrSvg, totpCode, totpUri, verifyTotp } from "./totp.ts";

describe("TOTP", () => {
  const key = newTotpKey();
  const now = new Date("2026-03-01T12:00:10Z");
  const step = Math.floor(now.getTime() / 30_000);

  test("accepts the current code and one step of drift either side, nothing further", () => {
    expect(verifyTotp(key, totpCode(key, now), now, null)).toBe(step);
    expect(verifyTotp(key, totpCode(key, new Date(now.getTime() - 30_000)), now, null)).toBe(
      step - 1,
    );
    expect(verifyTotp(key, totpCode(key, new Date(now.getTime() + 30_000)), now, null)).toBe(
      step + 1,
    );
    expect(verifyTotp(key, totpCode(key, new Date(now.getTime() - 90_000)), now, null)).toBeNull();
  });

  test("refuses a code at or before the last used step", () => {
    expect(verifyTotp(key, totpCode(key, now), now, step)).toBeNull();
    expect(verifyTotp(key, totpCode(key, new Date(now.getTime() + 30_000)), now, step)).toBe(
      step + 1,
    );
  });

  test("refuses what is not six digits", () => {
    for (const bad of ["", "12345", "1234567", "abcdef", " 123456"])
      expect(verifyTotp(key, bad, now, null)).toBeNull();
  });

  test("enrolment URI and QR code", () => {
    expect(totpUri(key, "jdoe")).toMatch(/^otpauth:\/\/totp\/Meetpoint:jdoe\?/);
    const svg = qrSvg(totpUri(key, "jdoe"));
    expect(svg).toStartWith("<svg");
    expect(svg).not.toContain("<script");
    expect(svg).not.toContain("style");
  });
});

describe("lockout", () => {
  test("five free failures, then 30 s doubling up to an hour", () => {
    expect([1, 4].map((n) => lockDuration(n))).toEqual([0, 0]);
    expect(lockDuration(5)).toBe(30_000);
    expect(lockDuration(6)).toBe(60_000);
    expect(lockDuration(30)).toBe(3_600_000);
    // During the global slow-down a source has one free try.
    expect([1, 2, 9].map((n) => lockDuration(n, 1))).toEqual([30_000, 60_000, 3_600_000]);
  });
});
