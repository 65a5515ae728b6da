// A gateway's signed settings in the portal and on the control channel: only platform admins change
// them, every change is audited and signed with a version that only grows, keys are checked with
// the reason, and the gateway gets the envelope with its heartbeat; its SSH log lands in the audit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type HeartbeatResponse, verifyEnrollmentBundle, verifyEnvelope } from "@meetpoint/common";
import { and, eq } from "drizzle-orm";
import { auditEntries } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { firstSignIn } from "./support/portal.ts";

// Public keys made with ssh-keygen (OpenSSH 9.2).
const ed25519 =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOIynV9TyTr45rQOJ2UlAv6KHCO/uTnUbHj81K3IA6zk admin@corp";
const rsa2048 =
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCbS9hUYqSEBT1vEU/G6i9axQEWpPmaQcQItsPKd8m45uS8uFphQQzl8yUxsj1Fj3ZWnuFDSUjJhuHjvyLa2NP90QyCdv0TfwwfDO8yqZpzac5Qq/X9zY094+vSlatTfP8FiEUTy0rOs+o6sSy1DoIH1F6uLWHJghuECR/tkahqJcQ+dhIxX2fpvBkNSKnF5i2uMmvOObWTB6d5Ae4Gzx7C3vVIwgqJUOdbeclFUhcEk4NtGHGMVJzj03VlgnyL8kXOUVtBQ2hxa/Ef53l/5g2NspKKYOzMjK2m/5T91epM6B8ih7zgzVcdOYrJwu2IYuj24AljGmVzt+E566dPxVct root@vm";
const rsa3072 =
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDLsiTykDX6ZDjm6dZR4H493ty7NTQgROb7n6qjDEwwOhoDKk2xx3AQY7mOJhKQYw21UP0eIgmAKnMFy5rOvP2zCwar/vt+YCNVy22PaTgiUPaeBqXj4bPvTJOJyw1lvCp6uHJo4CxkqZ6O5aTWEz3WMutL0Waa/RhYQJq3qGQACfIvz1fvrPu3uWA12EuPSbx4lJHdHsk7k4ZJnHteJ4yLtbbKyssvJ7DVqEcA2mteF5O0EDe2oRCttwM9tVHXZObo+RdsmIF589mNWMBAlZ99r2Hw7vItdCtJrkvSSRSuBAQNhxBC6lmYbagH7KUs0g6dlXo4FWlzdb0petflEujFNWJOjrWGJXcRVhYXE++WOb7FsZgiUQREIwHjupiyMuiIAzCRz1q1V1vDl3L+YrQwNAhTk0+4a7Fgrc/31bCZGJTa+t7bWADn+6WYGCLPe9odLVrREXbyMtgtjbYWU9LV17SKQYJlzBqspf/rm375+Po8Lf3/H/8tXo3tVifiAqM= root@vm";
const ecdsa384 =
  "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBHaPUO35EMiVtIGB6JFpXFlAWwNwGJRlB9tgU81t7Ecs6qu76h7YAIOovbx+aHVEFnjmbkBgnXk5EgFdGph0mH1afgjqA7aQXiuW3954+HAwHUadGyQPH4PbgMvu5DuGJw== root@vm";

let p: TestPlatform;
let scene: Scene;

const heartbeat = async (extra: Record<string, unknown> = {}) => {
  const response = await p.app.request("https://localhost/api/gateway/v1/heartbeat", {
    method: "POST",
    headers: {
      authorization: `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({
      state: "idle",
      gatewaySessionId: null,
      agentVersion: "0.1.0",
      openvpnVersion: null,
      localTime: p.clock.now().toISOString(),
      lastError: null,
      ...extra,
    }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as HeartbeatResponse;
};

const audited = async (action: string) =>
  p.database.db
    .select()
    .from(auditEntries)
    .where(and(eq(auditEntries.action, action), eq(auditEntries.targetId, scene.gatewayId)));

const verify = (token: string, lastVersion = 0) =>
  verifyEnvelope(token, {
    kind: "gateway-settings",
    key: p.pki.signingJwk,
    audience: scene.gatewayId,
    lastVersion,
    now: p.clock.now(),
  });

beforeAll(async () => {
  p = await testPlatform();
  scene = await arrangeMachine(p, [{ name: "Web UI", protocol: "tcp", port: 443, enabled: true }]);
}, 60_000);
afterAll(() => p.dispose());

describe("gateway settings", () => {
  test("none set: the heartbeat carries no settings and no maintenance session", async () => {
    const answer = await heartbeat();
    expect(answer.settings).toBeNull();
    expect(answer.maintenanceSessions).toEqual([]);
    expect(await p.admin.page(`/gateways/${scene.gatewayId}/settings`)).toContain(
      "Sign and send to the gateway",
    );
  });

  test("a platform admin turns SSH on and opens the UI to the WAN: signed, audited, delivered", async () => {
    const base = `/gateways/${scene.gatewayId}/settings`;
    expect((await p.admin.post(base, { sshEnabled: "on", uiReach: "lan-and-wan" })).status).toBe(
      303,
    );
    expect((await p.admin.post(`${base}/keys`, { key: ed25519, label: "Ada" })).status).toBe(303);
    const first = await heartbeat();
    const verified = await verify(first.settings ?? "");
    if (!verified.ok) throw new Error(verified.reason);
    expect(verified.claims.body).toEqual({
      gatewayId: scene.gatewayId,
      ssh: {
        enabled: true,
        operatorKeys: false,
        authorizedKeys: [{ key: ed25519.split(" ").slice(0, 2).join(" "), label: "Ada" }],
      },
      operatorUi: { reach: "lan-and-wan" },
    });
    const [change] = await audited("gateway.settings");
    expect(change?.detail).toMatchObject({ sshEnabled: true, uiReach: "lan-and-wan" });
    const [added] = await audited("gateway.ssh_key_add");
    expect(added?.detail).toMatchObject({
      fingerprint: "SHA256:a3kagddo3u0wp5ErtFvMdGPFxI0cJeBiWDYxA8xSmrM",
      label: "Ada",
    });
    // Removing the key makes a newer version; the older one is then a rollback for the gateway.
    expect(
      (
        await p.admin.post(`${base}/keys/remove`, {
          fingerprint: "SHA256:a3kagddo3u0wp5ErtFvMdGPFxI0cJeBiWDYxA8xSmrM",
        })
      ).status,
    ).toBe(303);
    const second = await heartbeat({ settingsVersion: verified.claims.version });
    const newer = await verify(second.settings ?? "", verified.claims.version);
    expect(newer.ok && newer.claims.body.ssh.authorizedKeys).toEqual([]);
    const older = await verify(first.settings ?? "", newer.ok ? newer.claims.version : 0);
    expect(!older.ok && older.code).toBe("ERR_ENVELOPE_ROLLBACK");
    expect(await audited("gateway.ssh_key_remove")).toHaveLength(1);
    // The page says which version the gateway reported applying.
    expect(await p.admin.page(base)).toContain("waits for the gateway");
  });

  test("a settings form opened before another admin's change cannot revert it", async () => {
    const base = `/gateways/${scene.gatewayId}/settings`;
    // Tab A opened now; tab B then turns SSH off; tab A's save would silently turn it on again.
    const tabA = (await p.admin.page(base)).match(/name="seen" value="([^"]*)"/)?.[1];
    expect(tabA).toBeDefined();
    p.clock.advance(1000);
    expect((await p.admin.post(base, { seen: tabA ?? "", uiReach: "lan" })).status).toBe(303);
    const stale = await p.admin.post(base, { seen: tabA ?? "", sshEnabled: "on", uiReach: "lan" });
    expect(stale.status).toBe(409);
    expect(await stale.text()).toContain("since you opened this page: nothing was saved");
    const now = (await p.admin.page(base)).match(/name="seen" value="([^"]*)"/)?.[1];
    expect(now).not.toBe(tabA);
    expect(
      (await p.admin.post(base, { seen: now ?? "", sshEnabled: "on", uiReach: "lan-and-wan" }))
        .status,
    ).toBe(303);
  });

  test("bad keys are refused with the reason; nothing changes", async () => {
    const base = `/gateways/${scene.gatewayId}/settings`;
    const before = (await heartbeat()).settings;
    for (const [key, reason] of [
      [rsa2048, "RSA key of 2048 bits: at least 3072"],
      ["ssh-ed25519 AAAA", "damaged"],
      ["not a key", "not a public key"],
    ] as const) {
      const response = await p.admin.post(`${base}/keys`, { key, label: "x" });
      expect(response.status).toBe(400);
      expect(await response.text()).toContain(reason);
    }
    expect((await heartbeat()).settings).toBe(before);
    expect((await p.admin.post(`${base}/keys`, { key: rsa3072, label: "" })).status).toBe(303);
    expect((await p.admin.post(`${base}/keys`, { key: rsa3072, label: "" })).status).toBe(409);
    expect((await p.admin.post(`${base}/keys`, { key: ecdsa384, label: "" })).status).toBe(303);
  });

  test("a customer admin sees them but cannot change them; another customer's gateway is 404", async () => {
    const { user, password } = await createUser(p.adminCtx, {
      username: "cadmin-settings",
      displayName: "C",
    });
    await grantRole(p.adminCtx, user.id, { role: "customer_admin", customerId: scene.customerId });
    const browser = (await firstSignIn(p.app, p.database.db, p.clock, "cadmin-settings", password))
      .browser;
    const base = `/gateways/${scene.gatewayId}/settings`;
    expect(await browser.page(base)).not.toContain("Sign and send to the gateway");
    expect((await browser.post(base, { sshEnabled: "on", uiReach: "lan" })).status).toBe(403);
    expect((await browser.get(`/gateways/${crypto.randomUUID()}/settings`)).status).toBe(404);
  });

  test("re-key with the plant's proxy: checked fields, the proxy in the bundle, its password not audited", async () => {
    const base = `/gateways/${scene.gatewayId}/settings`;
    await p.admin.page(base);
    for (const [fields, field] of [
      [{ proxyHost: "http://proxy.plant", proxyPort: "3128" }, "proxyHost"],
      [{ proxyHost: "proxy plant", proxyPort: "3128" }, "proxyHost"],
      [{ proxyHost: "proxy.plant", proxyPort: "0" }, "proxyPort"],
      [{ proxyHost: "proxy.plant", proxyPort: "3128", proxyPassword: "x" }, "proxyUser"],
    ] as const) {
      const refused = await p.admin.post(`${base}/bundle`, fields);
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain(field);
    }
    const page = await p.admin.postShownOnce(`${base}/bundle`, {
      proxyHost: "proxy.plant.example",
      proxyPort: "3128",
      proxyUser: "gw",
      proxyPassword: "Bundle-Proxy-Pw",
    });
    const html = await page.text();
    const token = Buffer.from(
      html.match(/href="data:application\/jose;base64,([A-Za-z0-9+/=]+)"/)?.[1] ?? "",
      "base64",
    ).toString();
    const verified = await verifyEnrollmentBundle(token, { pinned: null, now: p.clock.now() });
    if (!verified.ok) throw new Error(verified.reason);
    expect(verified.claims.body.proxy).toEqual({
      host: "proxy.plant.example",
      port: 3128,
      username: "gw",
      password: "Bundle-Proxy-Pw",
    });
    const [entry] = (await audited("gateway.enrollment_bundle")).slice(-1);
    expect(entry?.detail).toMatchObject({ proxy: "proxy.plant.example:3128", proxyUser: "gw" });
    expect(JSON.stringify(entry)).not.toContain("Bundle-Proxy-Pw");
    // The secret changed: the gateway's old one no longer authenticates.
    const old = await p.app.request("https://localhost/api/gateway/v1/heartbeat", {
      method: "POST",
      headers: {
        authorization: `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`,
        "content-type": "application/json",
      },
      body: "{}",
    });
    expect(old.status).toBe(401);
    scene.gatewaySecret = html.match(/<div class="secret">([A-Za-z0-9_-]{43})<\/div>/)?.[1] ?? "";
  });

  test("the gateway's SSH log goes into the audit log, attributed to it", async () => {
    await heartbeat({
      sshHostKey: "SHA256:a3kagddo3u0wp5ErtFvMdGPFxI0cJeBiWDYxA8xSmrM",
      sshEvents: [
        {
          at: p.clock.now().toISOString(),
          kind: "login",
          user: "root",
          from: "192.168.0.10:50022",
          fingerprint: "SHA256:a3kagddo3u0wp5ErtFvMdGPFxI0cJeBiWDYxA8xSmrM",
          detail: "ssh-ed25519 key accepted",
        },
        {
          at: p.clock.now().toISOString(),
          kind: "failed",
          user: "root",
          from: "192.168.0.66:40000",
          fingerprint: null,
          detail: "2 failed tries; not authenticated (Max auth tries reached)",
        },
      ],
    });
    const entries = await audited("gateway.ssh_login");
    expect(entries.map((e) => e.result).sort()).toEqual(["failed", "ok"]);
    expect(entries.find((e) => e.result === "failed")?.actorName).toBe(
      "ssh root from 192.168.0.66:40000",
    );
    expect(await p.admin.page(`/gateways/${scene.gatewayId}/settings`)).toContain(
      "SHA256:a3kagddo3u0wp5ErtFvMdGPFxI0cJeBiWDYxA8xSmrM",
    );
  });
});
