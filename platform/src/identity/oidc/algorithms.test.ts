import { describe, expect, test } from "bun:test";
import { idTokenAlgorithms } from "./algorithms.ts";

describe("ID token algorithms from a provider's discovery document", () => {
  test("Keycloak's list: every asymmetric entry, whatever comes first; no HMAC", () => {
    const keycloak = ["ES384", "RS384", "HS256", "HS512", "ES256", "RS256", "HS384", "PS256"];
    expect(idTokenAlgorithms(keycloak, null)).toEqual({
      ok: true,
      algorithms: ["ES384", "RS384", "ES256", "RS256", "PS256"],
    });
  });

  test("Auth0's list starts with HS256: RS256 and PS256 remain", () => {
    expect(idTokenAlgorithms(["HS256", "RS256", "PS256"], null)).toEqual({
      ok: true,
      algorithms: ["RS256", "PS256"],
    });
  });

  test("none and HMAC alone: refused with what the admin must change", () => {
    const choice = idTokenAlgorithms(["none", "HS256"], null);
    expect(choice.ok).toBe(false);
    if (!choice.ok) expect(choice.problem).toContain("only with none, HS256");
  });

  test("no list in the metadata: RS256", () => {
    expect(idTokenAlgorithms(undefined, null)).toEqual({ ok: true, algorithms: ["RS256"] });
  });

  test("a pinned algorithm is the only one, and must be one the provider lists", () => {
    expect(idTokenAlgorithms(["RS256", "ES256"], "ES256")).toEqual({
      ok: true,
      algorithms: ["ES256"],
    });
    const missing = idTokenAlgorithms(["RS256"], "PS256");
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.problem).toContain("lists only RS256");
  });
});
