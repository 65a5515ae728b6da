import { describe, expect, test } from "bun:test";
import type { RandomReader } from "@oslojs/crypto/random";
import { GENERATED_PASSWORD_LENGTH, PASSWORD_ALPHABET, randomPassword } from "./passwords.ts";

describe("generated passwords", () => {
  test("20 characters, all from the unambiguous alphabet, different every time", () => {
    const first = randomPassword();
    expect(first).toHaveLength(20);
    expect(GENERATED_PASSWORD_LENGTH).toBe(20);
    for (const char of first) expect(PASSWORD_ALPHABET).toContain(char);
    expect(randomPassword()).not.toBe(first);
  });

  // Regression: `byte % 55` made the first 36 characters of the alphabet 25 % more likely.
  test("every character is equally likely: byte values in turn give each exactly as often", () => {
    let next = 0;
    const everyByteInTurn: RandomReader = {
      read(bytes) {
        for (let i = 0; i < bytes.length; i++) bytes[i] = next++ % 256;
      },
    };
    const counts = new Map<string, number>();
    // 220 passwords = 4,400 characters: 80 of each of the 55 characters when unbiased.
    for (let i = 0; i < 220; i++)
      for (const char of randomPassword(everyByteInTurn))
        counts.set(char, (counts.get(char) ?? 0) + 1);
    expect(counts.size).toBe(PASSWORD_ALPHABET.length);
    expect(new Set(counts.values())).toEqual(new Set([80]));
  });
});
