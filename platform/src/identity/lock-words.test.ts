import { expect, test } from "bun:test";
import { FIRST_LOCK_MS } from "./lockout.ts";
import { lockedMessage, SIGN_IN_REFUSED } from "./sign-in.ts";

test("regression: a 30 s lock said '1 minute'; the words follow the lock's real length", () => {
  const now = new Date("2026-11-30T10:00:00Z");
  const after = (ms: number) => new Date(now.getTime() + ms);
  expect(lockedMessage(after(FIRST_LOCK_MS), now)).toBe(
    "Too many failed attempts: this account is locked. Try again in 30 s.",
  );
  expect(lockedMessage(after(4 * 60_000), now)).toContain("Try again in 4 minutes.");
  // The first answer states the same rule the README does.
  expect(SIGN_IN_REFUSED).toContain(
    "locked for 30 s, doubling with each further failure up to 1 hour",
  );
});
