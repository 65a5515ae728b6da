import { beforeAll, describe, expect, test } from "bun:test";
import { CompactSign, exportJWK } from "jose";
import type { PublicJwk } from "./contract.ts";
import { verifyEnrollmentBundle } from "./enrollment.ts";
import { signEnvelope, verifyEnvelope } from "./envelope.ts";
import { ENVELOPE_FAILURES, type EnvelopeFailureCode } from "./errors.ts";

const gatewayId = "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
const otherGateway = "7f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
const now = new Date("2026-06-01T12:00:00Z");
const later = (s: number) => new Date(now.getTime() + s * 1000);
const cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

let keys: CryptoKeyPair;
let stranger: CryptoKeyPair;
let jwk: PublicJwk;

beforeAll(async () => {
  keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  stranger = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const { kty, crv, x, y } = await exportJWK(keys.publicKey);
  jwk = { kty, crv, x, y } as PublicJwk;
});

const command = (version = 5, audience = gatewayId, expiresAt = later(60)) =>
  signEnvelope(keys.privateKey, {
    kind: "command",
    audience,
    version,
    issuedAt: now,
    expiresAt,
    body: { command: "disconnect", reason: "admin terminated", gatewaySessionId: null },
  });

const bundle = (version = 1, signer = keys.privateKey, signingKey = jwk, id = gatewayId) =>
  signEnvelope(signer, {
    kind: "enrollment",
    audience: id,
    version,
    issuedAt: now,
    expiresAt: later(7 * 86400),
    body: {
      platformUrl: "https://platform.lab.test",
      gatewayId: id,
      secret: "a".repeat(43),
      caCertificates: cert,
      signingKey,
    },
  });

const verifyCommand = (
  token: string,
  overrides: Partial<Parameters<typeof verifyEnvelope>[1]> = {},
) =>
  verifyEnvelope(token, {
    kind: "command",
    key: jwk,
    audience: gatewayId,
    lastVersion: 4,
    now,
    ...overrides,
  });

async function rawSign(payload: unknown, typ = "meetpoint-command+jws") {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: "ES256", typ })
    .sign(keys.privateKey);
}

const basePayload = {
  iss: "meetpoint",
  kind: "command",
  aud: gatewayId,
  iat: now.getTime() / 1000,
  nbf: now.getTime() / 1000,
  exp: now.getTime() / 1000 + 60,
  ver: 9,
  body: { command: "refresh", reason: "", gatewaySessionId: null },
};

describe("signed envelopes", () => {
  test("a good envelope verifies and yields its body", async () => {
    const result = await verifyCommand(await command());
    expect(result).toMatchObject({
      ok: true,
      claims: { version: 5, body: { command: "disconnect" } },
    });
  });

  test("every defect is refused with a precise reason", async () => {
    const token = await command();
    const [h, p, s] = token.split(".") as [string, string, string];
    const flipped = `${h}.${p.slice(0, 10)}${p[10] === "A" ? "B" : "A"}${p.slice(11)}.${s}`;
    const cases: [Promise<{ ok: boolean; reason?: string }>, string][] = [
      [
        verifyCommand(token, {
          key: await exportJWK(stranger.publicKey).then(
            ({ kty, crv, x, y }) => ({ kty, crv, x, y }) as PublicJwk,
          ),
        }),
        "bad signature",
      ],
      [verifyCommand(flipped), "bad signature"],
      [verifyCommand(token.slice(0, -20)), "bad signature"],
      [verifyCommand(`${h}.${p}`), "malformed"],
      [verifyCommand(""), "malformed"],
      [verifyCommand("not a token at all"), "malformed"],
      [verifyCommand(token, { kind: "data-channel" } as never), "wrong kind"],
      [verifyCommand(await command(5, otherGateway)), "wrong audience"],
      [verifyCommand(await command(5, gatewayId, later(-300))), "expired"],
      [verifyCommand(token, { now: later(-3600) }), "not valid before"],
      [verifyCommand(await command(4)), "older version 4"],
      [verifyCommand(await command(3)), "rollback refused"],
      [
        verifyCommand(await rawSign({ ...basePayload, extra: 1 })),
        "invalid content: unexpected field(s) extra",
      ],
      [
        verifyCommand(
          await rawSign({ ...basePayload, body: { ...basePayload.body, shell: "rm" } }),
        ),
        "invalid content: body.unexpected field(s) shell",
      ],
      [
        verifyCommand(
          await rawSign({ ...basePayload, body: { command: "format-disk", reason: "" } }),
        ),
        "invalid content: body.command",
      ],
      [verifyCommand(await rawSign(basePayload, "meetpoint-enrollment+jws")), "wrong kind"],
      [
        verifyCommand(
          `${Buffer.from(JSON.stringify({ alg: "none", typ: "meetpoint-command+jws" })).toString("base64url")}.${p}.x`,
        ),
        "unsupported signature algorithm none",
      ],
    ];
    for (const [promise, reason] of cases) {
      const result = await promise;
      expect(result.ok).toBe(false);
      expect(result.reason).toContain(reason);
    }
  });

  test("clock skew within the allowance is tolerated", async () => {
    expect((await verifyCommand(await command(5, gatewayId, later(-60)))).ok).toBe(true);
    expect(
      (await verifyCommand(await command(5, gatewayId, later(-60)), { clockSkewSeconds: 0 })).ok,
    ).toBe(false);
  });
});

describe("each refusal names the check that failed", () => {
  test("one stable code per check, and every code in the catalogue is reachable", async () => {
    const token = await command();
    const [h, p, s] = token.split(".") as [string, string, string];
    const flipped = `${h}.${p.slice(0, 10)}${p[10] === "A" ? "B" : "A"}${p.slice(11)}.${s}`;
    const header = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const { kty, crv, x, y } = await exportJWK(stranger.publicKey);
    const strangerJwk = { kty, crv, x, y } as PublicJwk;
    const { exp: _exp, ...withoutExpiry } = basePayload;
    const cases: [string, Promise<{ ok: boolean; code?: string }>, EnvelopeFailureCode][] = [
      ["empty", verifyCommand(""), "ERR_ENVELOPE_MALFORMED"],
      ["two parts", verifyCommand(`${h}.${p}`), "ERR_ENVELOPE_MALFORMED"],
      [
        "header not JSON",
        verifyCommand(`${header("x").slice(1)}.${p}.${s}`),
        "ERR_ENVELOPE_MALFORMED",
      ],
      [
        "alg none",
        verifyCommand(`${header({ alg: "none", typ: "meetpoint-command+jws" })}.${p}.x`),
        "ERR_ENVELOPE_ALGORITHM",
      ],
      [
        "HS256",
        verifyCommand(`${header({ alg: "HS256", typ: "meetpoint-command+jws" })}.${p}.${s}`),
        "ERR_ENVELOPE_ALGORITHM",
      ],
      [
        "a key that is no point on the curve",
        verifyCommand(token, { key: { ...jwk, x: "A".repeat(43), y: "A".repeat(43) } }),
        "ERR_ENVELOPE_KEY",
      ],
      ["another key", verifyCommand(token, { key: strangerJwk }), "ERR_ENVELOPE_SIGNATURE"],
      ["payload altered", verifyCommand(flipped), "ERR_ENVELOPE_SIGNATURE"],
      ["signature cut", verifyCommand(token.slice(0, -20)), "ERR_ENVELOPE_SIGNATURE"],
      [
        "header of another kind",
        verifyCommand(token, { kind: "data-channel" } as never),
        "ERR_ENVELOPE_KIND",
      ],
      [
        "kind claim of another kind",
        verifyCommand(await rawSign({ ...basePayload, kind: "data-channel" })),
        "ERR_ENVELOPE_KIND",
      ],
      [
        "another issuer",
        verifyCommand(await rawSign({ ...basePayload, iss: "someone" })),
        "ERR_ENVELOPE_ISSUER",
      ],
      ["another gateway", verifyCommand(await command(5, otherGateway)), "ERR_ENVELOPE_AUDIENCE"],
      ["expired", verifyCommand(await command(5, gatewayId, later(-300))), "ERR_ENVELOPE_EXPIRED"],
      ["not valid yet", verifyCommand(token, { now: later(-3600) }), "ERR_ENVELOPE_NOT_YET_VALID"],
      ["same version", verifyCommand(await command(4)), "ERR_ENVELOPE_ROLLBACK"],
      ["older version", verifyCommand(await command(3)), "ERR_ENVELOPE_ROLLBACK"],
      [
        "extra claim",
        verifyCommand(await rawSign({ ...basePayload, extra: 1 })),
        "ERR_ENVELOPE_CLAIMS",
      ],
      ["no expiry", verifyCommand(await rawSign(withoutExpiry)), "ERR_ENVELOPE_CLAIMS"],
      [
        "expiry not a number",
        verifyCommand(await rawSign({ ...basePayload, exp: "tomorrow" })),
        "ERR_ENVELOPE_CLAIMS",
      ],
      ["claims not an object", verifyCommand(await rawSign([basePayload])), "ERR_ENVELOPE_CLAIMS"],
      [
        "extra body field",
        verifyCommand(
          await rawSign({ ...basePayload, body: { ...basePayload.body, shell: "rm" } }),
        ),
        "ERR_ENVELOPE_BODY",
      ],
      [
        "unknown command",
        verifyCommand(
          await rawSign({ ...basePayload, body: { command: "format-disk", reason: "" } }),
        ),
        "ERR_ENVELOPE_BODY",
      ],
      [
        "bundle whose gateway id is not its audience",
        verifyEnrollmentBundle(
          await signEnvelope(keys.privateKey, {
            kind: "enrollment",
            audience: otherGateway,
            version: 1,
            issuedAt: now,
            expiresAt: later(60),
            body: {
              platformUrl: "https://platform.lab.test",
              gatewayId,
              secret: "a".repeat(43),
              caCertificates: cert,
              signingKey: jwk,
            },
          }),
          { pinned: null, now },
        ),
        "ERR_ENVELOPE_BODY",
      ],
      [
        "bundle without a key inside",
        verifyEnrollmentBundle(`${h}.${header({ body: {} })}.${s}`, { pinned: null, now }),
        "ERR_ENVELOPE_MALFORMED",
      ],
    ];
    const seen = new Set<string>();
    for (const [what, promise, code] of cases) {
      const result = await promise;
      expect({ what, ok: result.ok, code: result.code }).toEqual({ what, ok: false, code });
      seen.add(code);
    }
    expect([...seen].sort()).toEqual(Object.keys(ENVELOPE_FAILURES).sort());
  });

  test("the reason says what was found, for people", async () => {
    const result = await verifyCommand(await command(5, otherGateway));
    expect(result).toEqual({
      ok: false,
      code: "ERR_ENVELOPE_AUDIENCE",
      reason: `wrong audience: made for gateway ${otherGateway}, this is ${gatewayId}`,
    });
    expect(await verifyCommand(await command(5, gatewayId, later(-300)))).toEqual({
      ok: false,
      code: "ERR_ENVELOPE_EXPIRED",
      reason: `expired at ${later(-300).toISOString()}`,
    });
  });
});

describe("enrollment bundles", () => {
  test("first import: verified with the key inside the bundle", async () => {
    const result = await verifyEnrollmentBundle(await bundle(), { pinned: null, now });
    expect(result).toMatchObject({ ok: true, claims: { body: { gatewayId } } });
  });

  test("first import: a bundle whose content was altered is refused", async () => {
    const token = await bundle();
    const [h, p, s] = token.split(".") as [string, string, string];
    const body = JSON.parse(Buffer.from(p, "base64url").toString());
    body.body.platformUrl = "https://evil.example.test";
    const altered = `${h}.${Buffer.from(JSON.stringify(body)).toString("base64url")}.${s}`;
    expect(await verifyEnrollmentBundle(altered, { pinned: null, now })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("bad signature"),
    });
    expect(
      await verifyEnrollmentBundle(token.slice(0, token.length / 2), { pinned: null, now }),
    ).toMatchObject({ ok: false });
  });

  test("re-enrollment: must be signed by the pinned key, for the same gateway, and newer", async () => {
    const pinned = { gatewayId, signingKey: jwk, version: 2 };
    expect((await verifyEnrollmentBundle(await bundle(3), { pinned, now })).ok).toBe(true);
    expect(await verifyEnrollmentBundle(await bundle(2), { pinned, now })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("rollback refused"),
    });
    const { kty, crv, x, y } = await exportJWK(stranger.publicKey);
    const foreignKey = await bundle(9, stranger.privateKey, { kty, crv, x, y } as PublicJwk);
    expect(await verifyEnrollmentBundle(foreignKey, { pinned, now })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("bad signature"),
    });
    const foreignGateway = await bundle(9, keys.privateKey, jwk, otherGateway);
    expect(await verifyEnrollmentBundle(foreignGateway, { pinned, now })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("wrong audience"),
    });
  });

  test("an expired bundle is refused", async () => {
    expect(
      await verifyEnrollmentBundle(await bundle(), { pinned: null, now: later(8 * 86400) }),
    ).toMatchObject({
      ok: false,
      reason: expect.stringContaining("expired"),
    });
  });
});
