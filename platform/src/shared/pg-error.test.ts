import { describe, expect, test } from "bun:test";
import { databaseUnreachable, pgError } from "./pg-error.ts";

const wrapped = (cause: object) => Object.assign(new Error("Failed query: select 1"), { cause });

describe("database errors", () => {
  test("an unreachable server, however the driver says it, through drizzle's wrapper", () => {
    for (const code of [
      "ECONNREFUSED",
      "ECONNRESET",
      "ENOTFOUND",
      "EAI_AGAIN",
      "CONNECT_TIMEOUT",
      "57P01",
      "08006",
    ])
      expect(databaseUnreachable(wrapped({ code }))).toBe(true);
    expect(databaseUnreachable(wrapped(new Error("Connection terminated unexpectedly")))).toBe(
      true,
    );
  });

  test("a statement that failed is not an unreachable server", () => {
    const unique = wrapped({ code: "23505", constraint: "users_username_unique" });
    expect(databaseUnreachable(unique)).toBe(false);
    expect(pgError(unique)).toEqual({ code: "23505", constraint: "users_username_unique" });
    expect(databaseUnreachable(new Error("syntax error"))).toBe(false);
  });
});
