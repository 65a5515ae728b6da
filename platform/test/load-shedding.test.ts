// The gateway API sheds load before it falls behind: past its limit of requests in progress it
// answers 429 with a spread Retry-After at once, never a 5xx or a request held without end; the
// command long-poll, which mostly waits, is not counted.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { LoadShedder } from "../src/web/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

const LIMIT = 8;
let p: TestPlatform;
let scene: Scene;
const logged: string[] = [];
const shedder = new LoadShedder(LIMIT, (line) => logged.push(line));

const api = async (path: string, init: { method?: string; body?: unknown } = {}) =>
  p.app.request(`https://localhost/api/gateway/v1${path}`, {
    method: init.method ?? "POST",
    headers: {
      authorization: `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`,
      "content-type": "application/json",
    },
    body: init.method === "GET" ? undefined : JSON.stringify(init.body ?? {}),
  });

const heartbeat = () =>
  api("/heartbeat", {
    body: {
      state: "idle",
      gatewaySessionId: null,
      agentVersion: "0.1.0",
      openvpnVersion: null,
      localTime: p.clock.now().toISOString(),
      lastError: null,
    },
  });

beforeAll(async () => {
  p = await testPlatform({ extraDeps: () => ({ gatewayApiShedder: shedder }) });
  scene = await arrangeMachine(p, [{ name: "Web UI", protocol: "tcp", port: 443, enabled: true }]);
});
afterAll(() => p.dispose());

test("200 heartbeats at once against a limit of 8: the rest get 429 with Retry-After 5–14 s, none fails", async () => {
  const answers = await Promise.all(Array.from({ length: 200 }, () => heartbeat()));
  const statuses = answers.map((r) => r.status);
  const ok = statuses.filter((s) => s === 200).length;
  const shed = answers.filter((r) => r.status === 429);
  expect(ok + shed.length).toBe(200);
  expect(ok).toBeGreaterThanOrEqual(LIMIT);
  expect(shed.length).toBeGreaterThan(0);
  const waits = shed.map((r) => Number(r.headers.get("retry-after")));
  expect(Math.min(...waits)).toBeGreaterThanOrEqual(5);
  expect(Math.max(...waits)).toBeLessThanOrEqual(14);
  expect(new Set(waits).size).toBeGreaterThan(3);
  const body = (await shed[0]?.json()) as { error: { message: string } } | undefined;
  expect(body?.error.message).toContain("the platform is busy");
  expect(shedder.inProgress).toBe(0);
  expect(shedder.shed).toBe(shed.length);
  // Said once in the log, not once per refusal.
  expect(logged).toHaveLength(1);
  // Once the burst is over, the next heartbeat goes through.
  expect((await heartbeat()).status).toBe(200);
});

test("long-polls waiting for commands are not counted: 20 of them, and heartbeats still pass", async () => {
  const polls = Array.from({ length: 20 }, () =>
    api("/commands?cursor=0&wait=1", { method: "GET" }).then((r) => r.status),
  );
  await Bun.sleep(100);
  expect((await heartbeat()).status).toBe(200);
  expect(new Set(await Promise.all(polls))).toEqual(new Set([200]));
});
