// The platform's signed gateway settings at the agent, and the operator's SSH page: settings are
// verified (an older version or another gateway's refused), kept across restarts, followed by the
// firewall and the SSH server; the operator adds keys only where the platform allows it, each
// change reported to the platform.
import { afterEach, describe, expect, test } from "bun:test";
import { type EnvelopeBody, waitFor } from "@meetpoint/common";
import { Agent } from "../src/agent/agent.ts";
import { createUiApp } from "../src/ui/app.tsx";
import { OperatorAuth } from "../src/ui/auth.ts";
import { FakeFirewall, FakeSsh, sign, type TestAgent, testAgent } from "./support/fakes.ts";

const ed25519 =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOIynV9TyTr45rQOJ2UlAv6KHCO/uTnUbHj81K3IA6zk admin@corp";
const rsa2048 =
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCbS9hUYqSEBT1vEU/G6i9axQEWpPmaQcQItsPKd8m45uS8uFphQQzl8yUxsj1Fj3ZWnuFDSUjJhuHjvyLa2NP90QyCdv0TfwwfDO8yqZpzac5Qq/X9zY094+vSlatTfP8FiEUTy0rOs+o6sSy1DoIH1F6uLWHJghuECR/tkahqJcQ+dhIxX2fpvBkNSKnF5i2uMmvOObWTB6d5Ae4Gzx7C3vVIwgqJUOdbeclFUhcEk4NtGHGMVJzj03VlgnyL8kXOUVtBQ2hxa/Ef53l/5g2NspKKYOzMjK2m/5T91epM6B8ih7zgzVcdOYrJwu2IYuj24AljGmVzt+E566dPxVct root@vm";

const SOON = { timeoutMs: 3000 };
let t: TestAgent;
afterEach(() => t?.dispose());

const body = (
  gatewayId: string,
  change: Partial<{ ssh: boolean; operatorKeys: boolean; reach: "lan" | "lan-and-wan" }> = {},
): EnvelopeBody<"gateway-settings"> => ({
  gatewayId,
  ssh: {
    enabled: change.ssh ?? true,
    authorizedKeys: [{ key: ed25519.split(" ").slice(0, 2).join(" "), label: "Ada" }],
    operatorKeys: change.operatorKeys ?? false,
  },
  operatorUi: { reach: change.reach ?? "lan" },
});

/**
 * Delivers `token` with the next heartbeat answer and waits until the agent took it (a new
 * version) or refused it (a new refusal in the event log).
 */
async function deliver(token: string) {
  const refusals = () =>
    t.events.recent().filter((e) => e.text.startsWith("gateway settings refused")).length;
  const [version, refused] = [t.agent.settings.version, refusals()];
  t.control.answer = { ...t.control.answer, settings: token };
  t.agent.heartbeatNow();
  expect(
    await waitFor(() => t.agent.settings.version !== version || refusals() > refused, {
      timeoutMs: 3000,
    }),
  ).toBe(true);
}

async function operator() {
  const app = createUiApp({
    agent: t.agent,
    auth: new OperatorAuth(t.store, "meetpoint"),
    events: t.events,
    diagnostics: async () => [],
  });
  let cookie = "";
  let csrf = "";
  const request = async (method: string, path: string, form?: Record<string, string>) => {
    const response = await app.request(
      `https://gateway${path}`,
      {
        method,
        headers: {
          cookie,
          ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
        },
        body: form ? new URLSearchParams({ _csrf: csrf, ...form }).toString() : undefined,
      },
      { clientIp: "192.168.0.50" },
    );
    const set = response.headers.get("set-cookie");
    if (set) cookie = set.split(";")[0] ?? "";
    const html = await response.text();
    csrf = html.match(/name="_csrf" value="([^"]+)"/)?.[1] ?? csrf;
    return { status: response.status, html };
  };
  await request("POST", "/sign-in", { password: "meetpoint" });
  await request("GET", "/password");
  await request("POST", "/password", { current: "meetpoint", next: "A-new-passw0rd" });
  return request;
}

describe("gateway settings at the agent", () => {
  test("defaults: SSH off, the UI on the machine network only, nothing open", async () => {
    t = await testAgent();
    expect(t.agent.settings.version).toBe(0);
    expect((t.ssh as FakeSsh).last).toEqual({ enabled: false, keys: [], addresses: [] });
    expect(t.firewall.last?.uiPortsOnWan).toEqual([]);
    const page = await (await operator())("GET", "/ssh");
    expect(page.html).toContain('id="ssh-state">off');
    expect(page.html).toContain("the machine network only");
  });

  test("newer settings are applied and kept; older ones and another gateway's are refused", async () => {
    t = await testAgent();
    await deliver(
      await sign(
        t.keys,
        "gateway-settings",
        t.gatewayId,
        body(t.gatewayId, { reach: "lan-and-wan" }),
        { version: 5000 },
      ),
    );
    expect(t.agent.settings.version).toBe(5000);
    expect((t.ssh as FakeSsh).last).toMatchObject({ enabled: true, addresses: ["192.168.0.1"] });
    expect(t.firewall.last?.uiPortsOnWan).toEqual([443, 80]);
    await deliver(
      await sign(t.keys, "gateway-settings", t.gatewayId, body(t.gatewayId, { ssh: false }), {
        version: 4000,
      }),
    );
    await deliver(
      await sign(
        t.keys,
        "gateway-settings",
        crypto.randomUUID(),
        body(t.gatewayId, { ssh: false }),
        { version: 6000 },
      ),
    );
    expect(t.agent.settings.version).toBe(5000);
    const refusals = t.events.recent().filter((e) => e.text.startsWith("gateway settings refused"));
    expect(refusals.map((e) => e.text).join("\n")).toContain("rollback refused");
    expect(refusals.map((e) => e.text).join("\n")).toContain("audience");
    expect(t.control.heartbeats.at(-1)?.settingsVersion).toBe(5000);
    // A restart applies the kept settings before anything else.
    const ssh = new FakeSsh();
    const firewall = new FakeFirewall();
    const again = new Agent({
      store: t.store,
      events: t.events,
      control: t.control,
      vpn: t.vpn,
      firewall,
      ssh,
      lanInterface: "eth1",
      lanAddresses: async () => ["192.168.0.1"],
      uiPorts: [443],
      importDir: null,
      heartbeatMs: 60_000,
    });
    await again.start();
    try {
      expect(ssh.applied[0]).toMatchObject({ enabled: true });
      expect(firewall.applied[0]?.uiPortsOnWan).toEqual([443]);
    } finally {
      await again.stop();
    }
  });

  test("operator keys: refused unless the platform allows them; checked with the reason; reported", async () => {
    t = await testAgent();
    const request = await operator();
    const refused = await request("POST", "/ssh/keys", { key: ed25519, label: "me" });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain("the platform does not allow operator keys");
    await deliver(
      await sign(
        t.keys,
        "gateway-settings",
        t.gatewayId,
        body(t.gatewayId, { operatorKeys: true }),
      ),
    );
    const weak = await request("POST", "/ssh/keys", { key: rsa2048, label: "old" });
    expect(weak.status).toBe(400);
    expect(weak.html).toContain("RSA key of 2048 bits: at least 3072");
    const added = await request("POST", "/ssh/keys", {
      key: ed25519.replace("admin@corp", ""),
      label: "Olaf",
    });
    expect(added.status).toBe(200);
    expect(await waitFor(() => ((t.ssh as FakeSsh).last?.keys.length ?? 0) === 2, SOON)).toBe(true);
    const fingerprint = "SHA256:a3kagddo3u0wp5ErtFvMdGPFxI0cJeBiWDYxA8xSmrM";
    expect((await request("POST", "/ssh/keys", { key: ed25519, label: "x" })).html).toContain(
      "already there",
    );
    expect((await request("POST", "/ssh/keys/remove", { fingerprint })).status).toBe(200);
    const reported = () => t.control.heartbeats.flatMap((h) => h.sshEvents ?? []);
    expect(
      await waitFor(() => reported().filter((e) => e.kind.startsWith("local-key")).length === 2, {
        timeoutMs: 3000,
      }),
    ).toBe(true);
    expect(reported().find((e) => e.kind === "local-key-added")).toMatchObject({
      fingerprint,
      detail: "Olaf",
    });
    // Reported once: the queue is empty after the platform took them.
    expect(t.store.pendingSshEvents()).toEqual([]);
  });

  test("a maintenance session opens SSH to the tunnel only while online and SSH is on", async () => {
    t = await testAgent();
    await deliver(await sign(t.keys, "gateway-settings", t.gatewayId, body(t.gatewayId)));
    await t.agent.connect("operator UI");
    await waitFor(() => t.agent.status.state === "online", SOON);
    const now = Date.now();
    t.control.answer = {
      ...t.control.answer,
      dataChannel: {
        gatewaySessionId: t.agent.status.gatewaySessionId ?? "",
        state: "online",
        closeReason: null,
        operatorMustReconnect: false,
      },
      maintenanceSessions: [
        {
          id: crypto.randomUUID(),
          technician: "Ada",
          reason: "updates",
          since: new Date(now).toISOString(),
          until: new Date(now + 60_000).toISOString(),
        },
      ],
    };
    t.agent.heartbeatNow();
    expect(
      await waitFor(() => t.firewall.last?.maintenanceSsh?.tunnelAddress === "100.127.0.2", SOON),
    ).toBe(true);
    expect(
      await waitFor(
        () => (t.ssh as FakeSsh).last?.addresses.includes("100.127.0.2") ?? false,
        SOON,
      ),
    ).toBe(true);
    await t.agent.disconnect("operator UI", null);
    expect(t.firewall.last?.maintenanceSsh).toBeNull();
    expect(
      await waitFor(() => !(t.ssh as FakeSsh).last?.addresses.includes("100.127.0.2"), SOON),
    ).toBe(true);
  });
});
