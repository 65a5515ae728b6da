// The operator's side of consent, through app.request() on a test agent: a pending request fills
// the Remote access page (oldest first) with Allow / Deny, the local consent API lists and decides
// requests and answers the "request pending" signal, and the lamp file follows — "1" while a
// request waits, "0" otherwise (a real file). The fake platform records the decisions and where.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type PendingRequest, waitFor } from "@meetpoint/common";
import type { TestAgent } from "./support/fakes.ts";
import { signedIn, ui } from "./support/operator.ts";

let t: TestAgent;
afterEach(() => t?.dispose());

function request(over: Partial<PendingRequest>): PendingRequest {
  return {
    id: crypto.randomUUID(),
    technician: "Tina Technician",
    company: null,
    reason: "axis 3 fault",
    ticket: "T-4711",
    machine: "Press 1",
    services: [{ name: "HMI", protocol: "tcp", port: 443, mode: "full" }],
    durationSeconds: 1800,
    requestedAt: new Date(Date.now() - 60_000).toISOString(),
    decideBy: new Date(Date.now() + 9 * 60_000).toISOString(),
    policy: "operator_approval",
    operatorApproved: false,
    customerApproved: false,
    ...over,
  };
}

const lamp = () => Bun.file(join(t.dir, "lamp-value")).text();

/** The platform's answer now lists `requests`; the agent beats and takes them in. */
async function platformLists(requests: PendingRequest[]) {
  t.control.answer = { ...t.control.answer, pendingRequests: requests };
  const before = t.control.heartbeats.length;
  t.agent.heartbeatNow();
  expect(
    await waitFor(() => t.control.heartbeats.length > before, { timeoutMs: 2000, intervalMs: 5 }),
  ).toBe(true);
  // The answer is applied after the heartbeat went out: wait for the lamp to say so.
  const want = requests.some((r) => !r.operatorApproved && new Date(r.decideBy) > new Date());
  expect(
    await waitFor(async () => (await lamp()) === (want ? "1" : "0"), {
      timeoutMs: 2000,
      intervalMs: 5,
    }),
  ).toBe(true);
}

describe("consent at the gateway", () => {
  test("the consent screen, the local API, the signal and the lamp file follow the pending requests", async () => {
    const made = await ui(true, { lampPath: "lamp-value" });
    t = made.t;
    const { app } = made;
    expect(await lamp()).toBe("0");

    const op = await signedIn(app);
    await op.request("GET", "/settings");
    const madeToken = await op.request("POST", "/settings/api-token", {});
    const token =
      (await op.request("GET", madeToken.location ?? "")).html.match(
        /id="api-token">([^<]+)</,
      )?.[1] ?? "";
    const api = (method: string, path: string) =>
      app.request(`https://gateway/api/local/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
      });
    expect(await (await api("GET", "/signal")).json()).toEqual({ requestPending: false, count: 0 });

    const older = request({
      technician: "Olga Older",
      requestedAt: new Date(Date.now() - 120_000).toISOString(),
    });
    const newer = request({ technician: "Nina Newer", policy: "two_party" });
    const expired = request({
      technician: "Ed Expired",
      decideBy: new Date(Date.now() - 1000).toISOString(),
    });
    await platformLists([newer, expired, older]);
    expect(t.control.heartbeats.at(-1)?.capabilities).toContain("consent-requests");
    expect(await lamp()).toBe("1");
    expect(await (await api("GET", "/signal")).json()).toEqual({ requestPending: true, count: 2 });
    const listed = (await (await api("GET", "/requests")).json()) as { requests: PendingRequest[] };
    expect(listed.requests.map((r) => r.technician)).toEqual(["Olga Older", "Nina Newer"]);

    // The oldest fills the screen, with everything the operator decides on, and Allow / Deny.
    const page = (await op.request("GET", "/")).html;
    expect(page).toContain("Remote access requested");
    expect(page).toContain("Olga Older");
    expect(page).toContain("axis 3 fault");
    expect(page).toContain("T-4711");
    expect(page).toContain("30 min from the approval");
    expect(page).toContain("full access");
    expect(page).toMatch(/expires in 8 min|expires in 9 min/);
    expect(page).toContain(`action="/requests/${older.id}/allow"`);
    expect(page).toContain("1 more request(s) wait");
    expect(page).not.toContain("Ed Expired");

    // Allow on the screen (CSRF-protected): the result shows, the next request follows.
    const noCsrf = await app.request(`https://gateway/requests/${older.id}/allow`, {
      method: "POST",
      headers: { cookie: op.cookie, "content-type": "application/x-www-form-urlencoded" },
      body: "",
    });
    expect(noCsrf.status).toBe(403);
    expect(t.control.decisions).toEqual([]);
    const allowed = await op.request("POST", `/requests/${older.id}/allow`, {});
    expect(allowed.location).toBe("/?decision=granted");
    expect(t.control.decisions).toEqual([
      { id: older.id, decision: { decision: "allow", where: "gateway UI" } },
    ]);
    const next = (await op.request("GET", "/?decision=granted")).html;
    expect(next).toContain("Allowed: the technician may connect now.");
    expect(next).toContain("Nina Newer");
    expect(next).toContain("A customer approver must allow it in the portal as well.");
    expect(await lamp()).toBe("1");

    // Deny through the local API: recorded with where; nothing waits; the lamp goes off.
    const denied = await api("POST", `/requests/${newer.id}/deny`);
    expect(denied.status).toBe(200);
    expect(await denied.json()).toMatchObject({ outcome: "denied" });
    expect(t.control.decisions.at(-1)).toEqual({
      id: newer.id,
      decision: { decision: "deny", where: "local API" },
    });
    expect(await lamp()).toBe("0");
    expect(await (await api("GET", "/signal")).json()).toEqual({ requestPending: false, count: 0 });
    expect((await op.request("GET", "/")).html).not.toContain("Remote access requested");

    // Bad input: a request the platform does not know here, a malformed id, no token.
    expect((await api("POST", `/requests/${crypto.randomUUID()}/allow`)).status).toBe(404);
    expect((await api("POST", "/requests/not-an-id/allow")).status).toBe(404);
    expect((await api("POST", `/requests/${newer.id}/maybe`)).status).toBe(404);
    expect(
      (await app.request("https://gateway/api/local/v1/signal", { method: "GET" })).status,
    ).toBe(401);

    // A request the operator approved under two-party waits for the portal: no lamp, not on screen.
    await platformLists([request({ policy: "two_party", operatorApproved: true })]);
    expect(await lamp()).toBe("0");
    expect(await (await api("GET", "/requests")).json()).toMatchObject({
      requests: [],
      waitingForCustomerApproval: [{ operatorApproved: true }],
    });

    // The platform unreachable: nothing decided, the request stays, 502 with the reason.
    const waiting = request({});
    await platformLists([waiting]);
    t.control.reachable = false;
    const unreachable = await api("POST", `/requests/${waiting.id}/allow`);
    expect(unreachable.status).toBe(502);
    expect(await lamp()).toBe("1");
    expect(t.agent.consent.pending().map((r) => r.id)).toEqual([waiting.id]);

    // Still unreachable: a known request that passes its decide-by time turns the lamp off.
    t.control.reachable = true;
    await platformLists([request({ decideBy: new Date(Date.now() + 1500).toISOString() })]);
    t.control.reachable = false;
    expect(await lamp()).toBe("1");
    expect(
      await waitFor(
        async () => {
          t.agent.heartbeatNow();
          return (await lamp()) === "0";
        },
        { timeoutMs: 5000, intervalMs: 200 },
      ),
    ).toBe(true);
    expect(t.agent.contact?.ok).toBe(false);
  });
});
