// The control channel trusts only the pinned CA: a server with any other certificate is refused
// with plain words, as are refused connections and answers that do not fit the contract.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jittered, waitAfter } from "../src/agent/control-loops.ts";
import { ControlClient, ControlError } from "../src/control/client.ts";
import type { Enrollment } from "../src/state/store.ts";
import { uiCertificate } from "../src/ui/tls.ts";

let dirs: string[] = [];
let server: ReturnType<typeof Bun.serve>;
let pinned: string;
let foreign: string;
let answer: unknown = {};
/** Retry-After of a 429 the platform answers with while it sheds load; null: it does not. */
let shedding: string | null = null;
const port = () => server.port ?? 0;

async function certificate() {
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-cc-"));
  dirs.push(dir);
  return uiCertificate(dir);
}

const enrollment = (ca: string, port: number): Enrollment => ({
  body: {
    platformUrl: `https://localhost:${port}`,
    gatewayId: "0b6f2a5e-8c1d-4e2f-9a3b-4c5d6e7f8a9b",
    secret: "s".repeat(43),
    caCertificates: ca,
    signingKey: { kty: "EC", crv: "P-256", x: "x".repeat(43), y: "y".repeat(43) },
  },
  version: 1,
  importedAt: new Date().toISOString(),
});

const report = {
  state: "idle" as const,
  gatewaySessionId: null,
  agentVersion: "0.1.0",
  openvpnVersion: null,
  localTime: new Date().toISOString(),
  lastError: null,
};

beforeAll(async () => {
  const platform = await certificate();
  pinned = platform.cert;
  foreign = (await certificate()).cert;
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: platform.cert, key: platform.key },
    fetch: async (request) => {
      if (
        request.headers.get("authorization") !==
        `Bearer 0b6f2a5e-8c1d-4e2f-9a3b-4c5d6e7f8a9b.${"s".repeat(43)}`
      )
        return Response.json(
          { error: { status: 401, message: "unknown gateway or wrong secret" } },
          { status: 401 },
        );
      if (shedding)
        return Response.json(
          { error: { status: 429, message: "the platform is busy: try again in 30 s" } },
          { status: 429, headers: { "Retry-After": shedding } },
        );
      return Response.json(answer);
    },
  });
});
afterAll(() => {
  server.stop(true);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

test("with the pinned CA the heartbeat goes through and the answer is parsed", async () => {
  answer = {
    serverTime: new Date().toISOString(),
    dataChannel: null,
    remoteSessions: [],
    maintenanceSessions: [],
    settings: null,
  };
  const client = new ControlClient(() => enrollment(pinned, port()));
  expect((await client.heartbeat(report)).remoteSessions).toEqual([]);
});

test("a platform certificate from another CA is refused, with words for IT", async () => {
  const client = new ControlClient(() => enrollment(foreign, port()));
  const error = await client.heartbeat(report).catch((e) => e);
  expect(error).toBeInstanceOf(ControlError);
  expect(error.kind).toBe("unreachable");
  expect(error.message).toContain("the platform's certificate is not trusted");
});

test("refused connections, wrong secrets and off-contract answers say what is wrong", async () => {
  const closed = new ControlClient(() => enrollment(pinned, 1));
  expect((await closed.heartbeat(report).catch((e) => e)).message).toContain(
    "refused the connection",
  );

  const wrongSecret = new ControlClient(() => {
    const e = enrollment(pinned, port());
    return { ...e, body: { ...e.body, secret: "t".repeat(43) } };
  });
  const refused = await wrongSecret.heartbeat(report).catch((e) => e);
  expect(refused.status).toBe(401);
  expect(refused.message).toContain("Import the new enrollment bundle");

  answer = { serverTime: "yesterday", dataChannel: null, remoteSessions: [] };
  const broken = await new ControlClient(() => enrollment(pinned, port()))
    .heartbeat(report)
    .catch((e) => e);
  expect(broken.kind).toBe("broken");
  expect(broken.message).toContain("does not match this agent's contract");

  const none = await new ControlClient(() => null).heartbeat(report).catch((e) => e);
  expect(none.message).toBe("this gateway is not enrolled yet");
});

test("a platform shedding load: its Retry-After travels with the error, and the agent waits that long", async () => {
  const client = new ControlClient(() => enrollment(pinned, port()));
  try {
    shedding = "30";
    const busy = await client.heartbeat(report).catch((e) => e);
    expect(busy).toMatchObject({ kind: "refused", status: 429, retryAfterMs: 30_000 });
    expect(waitAfter(busy, 1000)).toBe(30_000);
    // A date, garbage or an absurd wait: the back-off's own delay, at most 2 min.
    shedding = "Wed, 21 Oct 2026 07:28:00 GMT";
    expect(waitAfter(await client.heartbeat(report).catch((e) => e), 1000)).toBe(1000);
    shedding = "999999";
    expect(waitAfter(await client.heartbeat(report).catch((e) => e), 1000)).toBe(120_000);
  } finally {
    shedding = null;
  }
  expect(waitAfter(new Error("connect ECONNREFUSED"), 4000)).toBe(4000);
});

test("heartbeat intervals are drawn anew each cycle within ±10 %", () => {
  const draws = Array.from({ length: 1000 }, () => jittered(10_000));
  expect(Math.min(...draws)).toBeGreaterThanOrEqual(9000);
  expect(Math.max(...draws)).toBeLessThanOrEqual(11_000);
  // Spread over the whole window, not bunched: every 500 ms slot is used.
  expect(new Set(draws.map((d) => Math.min(3, Math.floor((d - 9000) / 500)))).size).toBe(4);
  expect(jittered(10_000, () => 0)).toBe(9000);
  expect(jittered(10_000, () => 1)).toBe(11_000);
});
