// Issue 18 review findings on the gateway agent: wrong local API tokens are counted per source and
// logged once a minute, then answered 429; the bearer scheme in any case; format characters from
// the platform shown escaped on the consent screen and the Windows page; an unknown window mode
// refused beside its field, a created window answered by a redirect; the Settings page lists every
// local API call.
import { afterEach, describe, expect, test } from "bun:test";
import type { GatewayWindowsResponse, PendingRequest, WindowRequest } from "@meetpoint/common";
import { Hono } from "hono";
import { EventLog } from "../src/agent/events.ts";
import type { OperatorSession } from "../src/ui/auth.ts";
import { ConsentScreen } from "../src/ui/consent-screen.tsx";
import { bearerToken, FREE_REFUSALS, RefusalCounter } from "../src/ui/local-api.ts";
import { type WindowsUiDeps, windowsRoutes } from "../src/ui/routes/windows.tsx";
import type { UiEnv } from "../src/ui/session.ts";
import type { TestAgent } from "./support/fakes.ts";
import { signedIn, ui } from "./support/operator.ts";

let t: TestAgent | undefined;
afterEach(() => t?.dispose());

const RLO = "\u202E";

/** A UI over a test agent, the operator signed in, and a fresh local API token. */
async function withToken() {
  const made = await ui();
  t = made.t;
  const op = await signedIn(made.app);
  await op.request("GET", "/settings");
  const shown = await op.request(
    "GET",
    (await op.request("POST", "/settings/api-token", {})).location ?? "",
  );
  const token = shown.html.match(/id="api-token">([^<]+)</)?.[1] ?? "";
  expect(token.length).toBeGreaterThan(20);
  const call = (path: string, authorization: string, ip: string) =>
    made.app.request(
      `https://gateway/api/local/v1${path}`,
      { method: "GET", headers: { authorization } },
      { clientIp: ip },
    );
  return { ...made, op, token, call };
}

describe("local API refusals", () => {
  test("wrong tokens: one event line per source, 429 with Retry-After after 10, others unaffected", async () => {
    const { token, call } = await withToken();
    const events = t?.events as EventLog;
    events.add("info", "allowed by the operator: request 1");
    const statuses: number[] = [];
    let retryAfter = "";
    for (let i = 0; i < 260; i++) {
      const answer = await call("/state", "Bearer wrong-token", "198.18.0.9");
      statuses.push(answer.status);
      if (answer.status === 429) retryAfter = answer.headers.get("retry-after") ?? "";
    }
    expect(statuses.slice(0, FREE_REFUSALS).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(FREE_REFUSALS).every((s) => s === 429)).toBe(true);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    // The right token from another source is never held up; from the held source it waits too.
    expect((await call("/state", `Bearer ${token}`, "198.18.0.10")).status).toBe(200);
    expect((await call("/state", `Bearer ${token}`, "198.18.0.9")).status).toBe(429);
    const lines = events.recent().map((e) => e.text);
    expect(lines.filter((l) => l.startsWith("local API:"))).toEqual([
      "local API: a request with a missing or wrong token from 198.18.0.9 refused",
    ]);
    expect(lines).toContain("allowed by the operator: request 1");
  });

  test("the count of a source's minute is logged once the minute is over; then it starts afresh", () => {
    let now = 1_000_000;
    const log: string[] = [];
    const counter = new RefusalCounter(
      (text) => log.push(text),
      () => now,
    );
    for (let i = 0; i < 9; i++) counter.refused("198.18.0.9");
    counter.refused("198.18.0.20");
    expect(counter.heldFor("198.18.0.9")).toBe(0);
    counter.refused("198.18.0.9");
    expect(counter.heldFor("198.18.0.9")).toBe(60);
    expect(counter.heldFor("198.18.0.20")).toBe(0);
    now += 45_500;
    expect(counter.heldFor("198.18.0.9")).toBe(15);
    expect(log).toHaveLength(2);
    now += 14_500;
    counter.sweep();
    expect(log.slice(2)).toEqual([
      "local API: 10 requests with a missing or wrong token from 198.18.0.9 in the last minute; 2 more held back (429, too many)",
    ]);
    expect(counter.heldFor("198.18.0.9")).toBe(0);
    for (let i = 0; i < 37; i++) counter.refused("198.18.0.9");
    now += 60_000;
    counter.sweep();
    expect(log.at(-1)).toBe(
      "local API: 37 requests with a missing or wrong token from 198.18.0.9 in the last minute",
    );
  });

  test("the bearer scheme is taken in any case (RFC 9110 §11.1)", async () => {
    const { token, call } = await withToken();
    for (const scheme of ["Bearer", "bearer", "BEARER"])
      expect((await call("/state", `${scheme} ${token}`, "198.18.0.11")).status).toBe(200);
    expect(bearerToken("Basic abc")).toBeNull();
    expect(bearerToken("bearer")).toBeNull();
    expect((await call("/state", `Basic ${token}`, "198.18.0.11")).status).toBe(401);
  });

  test("the Settings page lists every local API call", async () => {
    const { op } = await withToken();
    const html = (await op.request("GET", "/settings")).html;
    for (const call of [
      "POST /api/local/v1/connect",
      "POST /api/local/v1/disconnect",
      "GET /api/local/v1/state",
      "GET /api/local/v1/requests",
      "POST /api/local/v1/requests/&lt;id&gt;/allow",
      "POST /api/local/v1/requests/&lt;id&gt;/deny",
      "GET /api/local/v1/signal",
    ])
      expect(html).toContain(call);
  });
});

describe("text from the platform", () => {
  test("the consent screen shows format characters escaped in every field", async () => {
    const request: PendingRequest = {
      id: crypto.randomUUID(),
      technician: `Tina${RLO}T`,
      company: `Acme${RLO}C`,
      reason: `fix axis 3${RLO}gpj.exe`,
      ticket: `T-1${RLO}`,
      machine: `Press${RLO}1`,
      services: [{ name: `HMI${RLO}`, protocol: "tcp", port: 443, mode: "full" }],
      durationSeconds: 1800,
      requestedAt: new Date().toISOString(),
      decideBy: new Date(Date.now() + 60_000).toISOString(),
      policy: "operator_approval",
      operatorApproved: false,
      customerApproved: false,
    };
    const html = String(await ConsentScreen({ request, waiting: 1, now: new Date(), csrf: "x" }));
    expect(html).not.toContain(RLO);
    for (const text of [
      "Tina&lt;U+202E&gt;T",
      "Acme&lt;U+202E&gt;C",
      "fix axis 3&lt;U+202E&gt;gpj.exe",
      "T-1&lt;U+202E&gt;",
      "Press&lt;U+202E&gt;1",
      "HMI&lt;U+202E&gt;",
    ])
      expect(html).toContain(text);
  });
});

describe("the Windows page", () => {
  const session: OperatorSession = {
    id: "s",
    csrf: "c",
    mustChangePassword: false,
    lastSeen: 0,
  };
  function page() {
    const created: WindowRequest[] = [];
    const events = new EventLog(null);
    const list: GatewayWindowsResponse = {
      windows: [
        {
          id: crypto.randomUUID(),
          start: "2026-12-01T08:00:00.000Z",
          end: "2026-12-01T10:00:00.000Z",
          weekly: false,
          technicians: [`Tina${RLO}T`],
          services: [`HMI${RLO}`],
          mode: "full",
          reason: `service${RLO}exe`,
          origin: "portal",
          createdBy: `Carl${RLO}`,
          state: "upcoming",
        },
      ],
      technicians: [{ id: crypto.randomUUID(), name: `Tom${RLO}` }],
      services: [{ id: crypto.randomUUID(), name: `SSH${RLO}` }],
    } as GatewayWindowsResponse;
    const windowsApi = {
      windows: async () => list,
      createWindow: async (w: WindowRequest) => {
        created.push(w);
        return { id: "5b0c3b1e-2f6a-4d3e-9a4b-1c2d3e4f5a6b" };
      },
      cancelWindow: async () => ({ outcome: "cancelled", ended: 0 }),
    };
    const agent = {
      windowsApi,
      windows: { current: { armedBy: null } },
      heartbeatNow: () => {},
    } as unknown as WindowsUiDeps["agent"];
    const app = new Hono<UiEnv>();
    app.use("*", async (c, next) => {
      c.set("session", session);
      c.set("demo", false);
      await next();
    });
    app.route("/", windowsRoutes({ agent, events }));
    const post = (form: Record<string, string>) =>
      app.request("https://gateway/windows", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: "c", ...form }).toString(),
      });
    return { app, created, events, post };
  }
  const form = {
    start: "2026-12-01T08:00",
    end: "2026-12-01T10:00",
    reason: "yearly service",
  };

  test("an unknown mode is refused with 400 beside the field; nothing is created", async () => {
    const { created, post } = page();
    const answer = await post({ ...form, mode: "admin" });
    expect(answer.status).toBe(400);
    const html = await answer.text();
    expect(html).toMatch(
      /class="field-error"[^>]*data-field="mode"[^>]*>mode: must be full or read_only/,
    );
    expect(html).toContain('value="yearly service"');
    expect(created).toHaveLength(0);
  });

  test("a created window answers 303 to the Windows page, which confirms it", async () => {
    const { app, created, events, post } = page();
    const answer = await post({ ...form, mode: "read_only" });
    expect(answer.status).toBe(303);
    const location = answer.headers.get("location") ?? "";
    expect(location).toBe("/windows?created=5b0c3b1e-2f6a-4d3e-9a4b-1c2d3e4f5a6b");
    expect(created).toEqual([expect.objectContaining({ mode: "read_only" })]);
    expect(events.recent()[0]?.text).toContain("created by the operator");
    const shown = await app.request(`https://gateway${location}`);
    expect(shown.status).toBe(200);
    expect(await shown.text()).toContain("Window 5b0c3b1e-2f6a-4d3e-9a4b-1c2d3e4f5a6b created.");
    // No mode at all is full, as the form's first option.
    expect((await post(form)).status).toBe(303);
    expect(created[1]?.mode).toBe("full");
    // Anything else in ?created= is not echoed.
    expect(
      await (await app.request("https://gateway/windows?created=<b>x</b>")).text(),
    ).not.toContain("created.");
  });

  test("the list and the form show format characters escaped", async () => {
    const { app } = page();
    const html = await (await app.request("https://gateway/windows")).text();
    expect(html).not.toContain(RLO);
    for (const text of [
      "Tina&lt;U+202E&gt;T",
      "HMI&lt;U+202E&gt;",
      "service&lt;U+202E&gt;exe",
      "Carl&lt;U+202E&gt;",
      "Tom&lt;U+202E&gt;",
      "SSH&lt;U+202E&gt;",
    ])
      expect(html).toContain(text);
  });
});
