// Alerts against real receivers on 127.0.0.1: email over SMTP with STARTTLS to Debian's aiosmtpd,
// and signed webhooks to a receiver that checks the HMAC and the replay window itself; retries with
// back-off, giving up audited; subscriptions per user and per customer; SSRF refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { prerequisite } from "../../common/test/support/prerequisite.ts";
import type { Context } from "../src/access/index.ts";
import {
  Alerts,
  createMailer,
  MAX_ATTEMPTS,
  signatureHeader,
  subscribe,
  verifySignature,
} from "../src/alerts/index.ts";
import { alertDeliveries, alertSubscriptions, auditEntries, gateways } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { Browser, firstSignIn } from "./support/portal.ts";
import { freePort } from "./support/rsyslog.ts";
import { type SmtpSink, smtpSinkMissing, startSmtpSink } from "./support/smtp-sink.ts";
import { type TlsFiles, tlsFiles } from "./support/tls-files.ts";

const missing = prerequisite("the SMTP alert tests", await smtpSinkMissing());

interface Received {
  path: string;
  headers: Headers;
  body: string;
  verified: boolean;
}

let p: TestPlatform;
let files: TlsFiles;
let sink: SmtpSink | null = null;
let scene: Scene;
let alerts: Alerts;
let receiver: ReturnType<typeof Bun.serve>;
const received: Received[] = [];
let failNext = 0;
let webhookKey = "";

/** The receiver's own check, written from the README, not from the platform's code. */
function receiverVerifies(key: string, header: string, body: string): boolean {
  const t = Number(header.match(/t=(\d+)/)?.[1]);
  const v1 = header.match(/v1=([0-9a-f]+)/)?.[1];
  if (Math.abs(Date.now() / 1000 - t) > 300) return false; // the replay window
  return v1 === createHmac("sha256", key).update(`${t}.${body}`).digest("hex");
}

beforeAll(async () => {
  p = await testPlatform();
  files = await tlsFiles("alerts");
  if (!missing) sink = await startSmtpSink(files);
  receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const body = await request.text();
      const verified = receiverVerifies(
        webhookKey,
        request.headers.get("meetpoint-signature") ?? "",
        body,
      );
      received.push({
        path: new URL(request.url).pathname,
        headers: request.headers,
        body,
        verified,
      });
      if (failNext > 0) {
        failNext--;
        return new Response("busy", { status: 503 });
      }
      return new Response(verified ? "ok" : "bad signature", { status: verified ? 200 : 401 });
    },
  });
  scene = await arrangeMachine(p, [{ name: "Web", protocol: "tcp", port: 80, enabled: true }]);
  alerts = new Alerts({
    db: p.database.db,
    clock: p.clock,
    instance: "alerts-test",
    unsealSecret: (label, sealed) => p.pki.unsealSecret(label, sealed),
    mailer: sink
      ? createMailer({
          url: `smtp://127.0.0.1:${sink.port}`,
          from: "meetpoint@platform.lab.test",
          caFile: files.ca,
        })
      : null,
    portalUrl: "https://platform.lab.test",
    allowPrivate: true,
    signInFailures: 3,
    gatewayOfflineMs: 10 * 60_000,
  });
}, 60_000);
afterAll(async () => {
  receiver?.stop(true);
  await sink?.stop();
  await p?.dispose();
  files?.dispose();
});

const subs = (allowPrivate: boolean) => ({
  sealSecret: (l: string, t: string) => p.pki.sealSecret(l, t),
  allowPrivate,
});

describe("webhook targets (SSRF)", () => {
  test("loopback, link-local, private and plain-http targets are refused unless allowed by configuration", async () => {
    const cases: [string, string][] = [
      [`http://127.0.0.1:${receiver.port}/hook`, "must be an https:// URL"],
      ["https://127.0.0.1/hook", "loopback"],
      ["https://[::1]/hook", "loopback"],
      ["https://169.254.169.254/latest/meta-data", "link-local"],
      ["https://[fe80::1]/x", "link-local"],
      ["https://10.1.2.3/x", "private"],
      ["https://user:pw@hooks.example.test/x", "must not carry a user name"],
      ["not a url", "must be a URL"],
    ];
    for (const [target, message] of cases) {
      await expect(
        subscribe(p.adminCtx, subs(false), {
          scope: "platform",
          channel: "webhook",
          target,
          events: ["session_started"],
        }),
      ).rejects.toThrow(message);
    }
    // A name that resolves to a private address is refused too.
    await expect(
      subscribe(
        p.adminCtx,
        { ...subs(false), resolve: async () => ["93.184.216.34", "192.168.1.5"] },
        {
          scope: "platform",
          channel: "webhook",
          target: "https://hooks.example.test/x",
          events: ["session_started"],
        },
      ),
    ).rejects.toThrow("private");
    const refused = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "alert.subscribe"));
    expect(refused).toHaveLength(0);
  });
});

describe("subscriptions in the portal", () => {
  test("a webhook's key is shown once; the list shows what is subscribed; SSRF refused with the reason", async () => {
    await p.admin.get("/alerts");
    const refused = await p.admin.post("/alerts", {
      scope: "personal",
      channel: "webhook",
      target: "https://127.0.0.1/x",
      events: "session_started",
    });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("loopback");
    const added = await p.admin.post("/alerts", {
      scope: "personal",
      channel: "webhook",
      target: "https://93.184.216.34/meetpoint",
      events: "gateway_offline",
    });
    // Regression: the key was the POST's own answer; now POST → 303 → /once, shown once.
    expect(added.status).toBe(303);
    const address = added.headers.get("location") ?? "";
    expect(address).toMatch(/^\/once\/[0-9a-f-]{36}$/);
    expect(await (await p.admin.get(address)).text()).toMatch(/class="secret">[A-Za-z0-9_-]{43}</);
    expect((await p.admin.get(address)).status).toBe(410);
    const page = await p.admin.page("/alerts");
    expect(page).toContain("https://93.184.216.34/meetpoint");
    expect(page).toContain("A gateway is offline");
  });

  test("regression: without a mail server the page says email alerts are not sent", async () => {
    await p.admin.post("/alerts", {
      scope: "personal",
      channel: "email",
      target: "nobody-reads@plant.example",
      events: "gateway_offline",
    });
    const page = await p.admin.page("/alerts");
    expect(page).toContain("No mail server is configured (MEETPOINT_SMTP_URL)");
    expect(page).toMatch(
      /<td class="mono">nobody-reads@plant.example<\/td><td>[^<]*<\/td><td>not sent: no mail server configured<\/td>/,
    );
    const [mine] = await p.database.db
      .select()
      .from(alertSubscriptions)
      .where(eq(alertSubscriptions.target, "nobody-reads@plant.example"));
    expect((await p.admin.post(`/alerts/${mine?.id}/delete`)).status).toBe(303);
  });

  test("regression: a customer admin is offered only events of their customers; platform events are refused for a customer", async () => {
    const { user, password } = await createUser(p.adminCtx, {
      username: "cadmin",
      displayName: "Customer Admin",
    });
    await grantRole(p.adminCtx, user.id, {
      role: "customer_admin",
      customerId: scene.customerId,
    });
    const browser = (await firstSignIn(p.app, p.database.db, p.clock, "cadmin", password)).browser;
    const page = await browser.page("/alerts");
    const offered = [...page.matchAll(/name="events" value="([a-z_]+)"/g)].map((m) => m[1]);
    expect(offered).toEqual([
      "approval_pending",
      "session_started",
      "session_ended",
      "gateway_offline",
    ]);
    const refused = await browser.post("/alerts", {
      scope: "customer",
      customerId: scene.customerId,
      channel: "webhook",
      target: "https://93.184.216.34/cadmin",
      events: "siem_backlog",
    });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("siem_backlog concerns the whole platform");
    // A platform admin sees them all, marked as the platform's.
    expect(await p.admin.page("/alerts")).toContain(
      'value="siem_backlog"/> A SIEM destination is not receiving (platform-wide: not for a customer)',
    );
  });
});

describe("signed webhooks", () => {
  test("a session started and ended: the customer's receiver gets both, signed, after a retry with back-off", async () => {
    const { webhookKey: key } = await subscribe(p.adminCtx, subs(true), {
      scope: "customer",
      customerId: scene.customerId,
      channel: "webhook",
      target: `http://127.0.0.1:${receiver.port}/hook`,
      events: ["session_started", "session_ended"],
    });
    webhookKey = key ?? "";
    const other = await createCustomer(p.adminCtx, { name: "Other" });
    await subscribe(p.adminCtx, subs(true), {
      scope: "customer",
      customerId: other.id,
      channel: "webhook",
      target: `http://127.0.0.1:${receiver.port}/other`,
      events: ["session_started"],
    });

    const { envelope } = await p.access.dataChannels.request(scene.gatewayId);
    expect(
      (
        await p.access.connections.decide(
          "0:1",
          serialOf(await dataChannelProfile(p, scene.gatewayId, envelope)),
        )
      ).allow,
    ).toBe(true);
    const { session, profile } = await p.access.remoteSessions.request(
      scene.technician,
      scene.machineId,
      { reason: "ticket 42" },
    );
    expect((await p.access.connections.decide("0:2", serialOf(profile))).allow).toBe(true);
    await p.access.remoteSessions.disconnect(scene.technician, session.id);

    failNext = 1; // the receiver is busy once
    await alerts.tick();
    expect(received).toHaveLength(2); // the first failed, the second went through
    expect(received[0]?.verified).toBe(true);
    const [pending] = await p.database.db
      .select()
      .from(alertDeliveries)
      .where(and(eq(alertDeliveries.event, "session_started")));
    expect(pending).toMatchObject({
      attempts: 1,
      lastError: "the receiver answered 503",
      deliveredAt: null,
    });
    await alerts.tick();
    expect(received).toHaveLength(2); // not due before the back-off
    p.clock.advance(30_000);
    await alerts.tick();
    expect(received).toHaveLength(3);
    expect(received.every((r) => r.verified)).toBe(true);
    // The other customer's receiver heard nothing of ACME's sessions.
    expect(received.map((r) => r.path)).toEqual(["/hook", "/hook", "/hook"]);
    const started = received.filter((r) => JSON.parse(r.body).event === "session_started");
    expect(started).toHaveLength(2); // the retry carries the same delivery id: the receiver can drop repeats
    expect(started[0]?.headers.get("meetpoint-delivery")).toBe(
      started[1]?.headers.get("meetpoint-delivery") ?? "",
    );
    const body = JSON.parse(started[1]?.body ?? "{}");
    expect(body).toMatchObject({
      event: "session_started",
      title: "A remote session started",
      entry: { action: "remote_session.active", customerId: scene.customerId },
    });
  });

  test("a target the configuration no longer allows is refused at delivery (checked again before each send), not sent", async () => {
    const strict = new Alerts({
      db: p.database.db,
      clock: p.clock,
      instance: "alerts-strict",
      unsealSecret: (label, sealed) => p.pki.unsealSecret(label, sealed),
      mailer: null,
      portalUrl: "https://platform.lab.test",
      allowPrivate: false,
      signInFailures: 3,
      gatewayOfflineMs: 10 * 60_000,
    });
    const [hook] = await p.database.db
      .select()
      .from(alertSubscriptions)
      .where(eq(alertSubscriptions.target, `http://127.0.0.1:${receiver.port}/hook`));
    if (!hook) throw new Error("no webhook subscription");
    const [row] = await p.database.db
      .insert(alertDeliveries)
      .values({
        subscriptionId: hook.id,
        event: "session_started",
        payload: { event: "session_started" },
        nextAttemptAt: p.clock.now(),
      })
      .returning();
    const count = received.length;
    await strict.deliver();
    expect(received.length).toBe(count);
    const [after] = await p.database.db
      .select()
      .from(alertDeliveries)
      .where(eq(alertDeliveries.id, row?.id ?? ""));
    expect(after).toMatchObject({ attempts: 1, deliveredAt: null });
    expect(after?.lastError).toBe("target: must be an https:// URL");
    await p.database.db.delete(alertDeliveries).where(eq(alertDeliveries.id, row?.id ?? ""));
  });

  test("the replay window: an old signature, or one over another body, does not verify", () => {
    const now = new Date();
    const body = '{"event":"session_started"}';
    const fresh = signatureHeader("k", Math.floor(now.getTime() / 1000), body);
    expect(verifySignature("k", fresh, body, now)).toBe(true);
    expect(verifySignature("k", fresh, `${body} `, now)).toBe(false);
    expect(verifySignature("other", fresh, body, now)).toBe(false);
    expect(verifySignature("k", fresh, body, new Date(now.getTime() + 301_000))).toBe(false);
  });

  test("a receiver that never answers: retried with back-off, then given up and audited", async () => {
    const dead = await freePort();
    await subscribe(p.adminCtx, subs(true), {
      scope: "platform",
      channel: "webhook",
      target: `http://127.0.0.1:${dead}/`,
      events: ["session_ended"],
    });
    const { envelope } = await p.access.dataChannels.request(scene.gatewayId);
    expect(
      (
        await p.access.connections.decide(
          "0:3",
          serialOf(await dataChannelProfile(p, scene.gatewayId, envelope)),
        )
      ).allow,
    ).toBe(true);
    const { session } = await p.access.remoteSessions.request(scene.technician, scene.machineId, {
      reason: "ticket 43",
    });
    await p.access.remoteSessions.disconnect(scene.technician, session.id);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      await alerts.tick();
      p.clock.advance(3_600_000);
    }
    const [failed] = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "alert.failed"));
    expect(failed?.detail).toMatchObject({ attempts: MAX_ATTEMPTS, channel: "webhook" });
  });

  test("regression: the alerts page shows each subscription's last delivery, failed ones with the error", async () => {
    // Failed deliveries were visible only in the server log. (The admin's sign-in timed out
    // while the clock ran through the retries: another platform admin looks.)
    const { user, password } = await createUser(p.adminCtx, {
      username: "admin2",
      displayName: "Second Admin",
    });
    await grantRole(p.adminCtx, user.id, { role: "platform_admin" });
    const admin2 = (await firstSignIn(p.app, p.database.db, p.clock, "admin2", password)).browser;
    const page = await admin2.page("/alerts");
    const rowOf = (target: string) =>
      page.match(new RegExp(`<td class="mono">${target}</td><td>[^<]*</td><td>([^<]*)</td>`))?.[1];
    expect(rowOf(`http://127.0.0.1:${receiver.port}/hook`)).toMatch(
      /^delivered \S.*: A remote session (started|ended)$/,
    );
    expect(rowOf("http://127.0.0.1:\\d+/")).toMatch(
      new RegExp(
        `^FAILED, given up \\S.* after ${MAX_ATTEMPTS} attempts: A remote session ended — .+`,
      ),
    );
    expect(rowOf("https://93.184.216.34/meetpoint")).toBe("nothing sent yet");
  });
});

describe.skipIf(missing !== null)("email over STARTTLS to a real SMTP sink", () => {
  test("repeated failed sign-ins and a gateway offline for longer than the threshold reach a user's inbox", async () => {
    await subscribe(p.adminCtx, subs(false), {
      scope: "personal",
      channel: "email",
      target: "soc@plant.example",
      events: ["sign_in_failures", "gateway_offline"],
    });
    // A technician's personal subscription: the sign-in failures are platform-wide, not theirs to
    // see (and not offered to them).
    await expect(
      subscribe(scene.technician as Context, subs(false), {
        scope: "personal",
        channel: "email",
        target: "tech@plant.example",
        events: ["sign_in_failures", "gateway_offline"],
      }),
    ).rejects.toThrow("sign_in_failures concerns the whole platform");
    await subscribe(scene.technician as Context, subs(false), {
      scope: "personal",
      channel: "email",
      target: "tech@plant.example",
      events: ["gateway_offline"],
    });
    const before = sink?.messages().length ?? 0;
    for (let i = 0; i < 3; i++) {
      const browser = new Browser(p.app, "198.18.9.9");
      await browser.get("/sign-in");
      await browser.post("/sign-in", { username: "mallory", password: `guess-${i}` });
    }
    // A name no account has: audited in the address's aggregate entry, written per interval.
    await p.authFailures.flush({ all: true });
    await p.database.db
      .update(gateways)
      .set({ lastSeenAt: p.clock.now() })
      .where(eq(gateways.id, scene.gatewayId));
    await alerts.tick();
    p.clock.advance(11 * 60_000);
    await alerts.tick();
    await alerts.tick();
    const mails = sink?.messages().slice(before) ?? [];
    const subject = (m: string) => m.match(/^Subject: ([^\r\n]*)/m)?.[1];
    const subjects = mails.map(subject);
    // The admin: once for the address the made-up name came from; both: the gateway.
    expect(subjects.filter((s) => s === "[Meetpoint] Repeated failed sign-ins")).toHaveLength(1);
    expect(subjects.filter((s) => s === "[Meetpoint] A gateway is offline")).toHaveLength(2);
    const toTech = mails.filter((m) => /^To: tech@plant\.example/m.test(m));
    expect(toTech.map((m) => m.match(/^Subject: (.*)$/m)?.[1])).toEqual([
      "[Meetpoint] A gateway is offline",
    ]);
    expect(mails[0]).toMatch(/^From: meetpoint@platform\.lab\.test/m);
    expect(mails.find((m) => m.includes("failed sign-ins"))).toContain(
      "3 failures of ip:198.18.9.9 within 10 minutes",
    );
    const offline = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "gateway.offline"));
    expect(offline).toHaveLength(1);
    await p.database.db
      .update(gateways)
      .set({ lastSeenAt: p.clock.now() })
      .where(eq(gateways.id, scene.gatewayId));
    await alerts.tick();
    expect(
      await p.database.db
        .select()
        .from(auditEntries)
        .where(eq(auditEntries.action, "gateway.reachable")),
    ).toHaveLength(1);
  });

  test("a mail server without STARTTLS is not used in the clear", async () => {
    const plain = createMailer({
      url: `smtp://127.0.0.1:${receiver.port}`,
      from: "m@x.test",
      caFile: null,
    });
    await expect(plain.send({ to: "a@b.test", subject: "s", text: "t" })).rejects.toThrow();
    plain.close();
  });
});
