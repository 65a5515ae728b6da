// A technician behind a corporate proxy asks for an `http-proxy host port` line in the one-time
// .ovpn: host and port checked (400 naming the field), the line allow-listed; a gateway behind a
// proxy gets a data channel on a TCP server, or a refusal that says why.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CLIENT_DIRECTIVES, parseCidr, parseConfig } from "@meetpoint/common";
import { createUser, grantRole } from "../src/identity/index.ts";
import { createRemoteAccess, RecordingDataPlane } from "../src/sessions/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import type { Browser } from "./support/portal.ts";
import { firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
let scene: Scene;
let tech: Browser;

function profileFromPage(html: string): string {
  const data = html.match(
    /href="data:application\/x-openvpn-profile;base64,([A-Za-z0-9+/=]+)"/,
  )?.[1];
  if (!data) throw new Error("no profile on the page");
  return Buffer.from(data, "base64").toString();
}

beforeAll(async () => {
  p = await testPlatform();
  scene = await arrangeMachine(p, [{ name: "Web UI", protocol: "tcp", port: 443, enabled: true }]);
  // The operator's Connect: the gateway's data channel comes online.
  const response = await p.app.request("https://localhost/api/gateway/v1/data-channel", {
    method: "POST",
    headers: {
      authorization: `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ transport: "tcp" }),
  });
  expect(response.status).toBe(200);
  const { envelope } = (await response.json()) as { envelope: string };
  const profile = await dataChannelProfile(p, scene.gatewayId, envelope);
  expect((await p.access.connections.decide("0:1", serialOf(profile))).allow).toBe(true);
  const t = await createUser(p.adminCtx, { username: "proxy-tech", displayName: "Pat" });
  await grantRole(p.adminCtx, t.user.id, { role: "technician", customerId: scene.customerId });
  tech = (await firstSignIn(p.app, p.database.db, p.clock, "proxy-tech", t.password)).browser;
}, 60_000);
afterAll(() => p.dispose());

describe("a technician's corporate proxy", () => {
  test("bad host or port: 400 naming the field, no session", async () => {
    const connect = `/machines/${scene.machineId}/connect`;
    await tech.page(`/machines/${scene.machineId}`);
    for (const [fields, field, words] of [
      [{ proxyHost: "http://proxy.corp", proxyPort: "3128" }, "proxyHost", "without a scheme"],
      [{ proxyHost: "proxy corp", proxyPort: "3128" }, "proxyHost", "without spaces"],
      [{ proxyHost: "proxy.corp\nup /bin/sh", proxyPort: "3128" }, "proxyHost", "must be"],
      [{ proxyHost: "proxy.corp", proxyPort: "70000" }, "proxyPort", "must be a port, 1-65535"],
      [{ proxyHost: "", proxyPort: "3128" }, "proxyHost", "must be"],
    ] as const) {
      const response = await tech.post(connect, { reason: "ticket 1", ...fields });
      expect(response.status).toBe(400);
      const html = await response.text();
      expect(html).toContain(field);
      expect(html).toContain(words);
    }
    expect(await p.access.remoteSessions.list(scene.technician)).toHaveLength(0);
  });

  test("a valid one: one allow-listed http-proxy line in the one-time .ovpn", async () => {
    await tech.page(`/machines/${scene.machineId}`);
    const page = await tech.postShownOnce(`/machines/${scene.machineId}/connect`, {
      reason: "ticket 2",
      proxyHost: "Proxy.Corp.example",
      proxyPort: "3128",
    });
    const profile = profileFromPage(await page.text());
    const directives = parseConfig(profile).directives;
    expect(directives.filter((d) => d.name === "http-proxy").map((d) => d.args)).toEqual([
      ["proxy.corp.example", "3128"],
    ]);
    for (const d of directives) expect(CLIENT_DIRECTIVES as readonly string[]).toContain(d.name);
  });
});

describe("a gateway behind a proxy", () => {
  test("asks for a TCP server: refused with the reason where the platform has only UDP", async () => {
    const udpOnly = createRemoteAccess({
      ...p.accessDeps,
      dataPlane: new RecordingDataPlane([
        {
          index: 0,
          protocol: "udp",
          listenAddress: null,
          port: 1194,
          tunnelNetwork: parseCidr("100.127.0.0/20") as NonNullable<ReturnType<typeof parseCidr>>,
        },
      ]),
    });
    const refused = await udpOnly.dataChannels.request(scene.gatewayId, "tcp").catch((e) => e);
    expect(refused.code).toBe("ERR_NO_TCP_VPN_SERVER");
    expect(refused.message).toContain("carries OpenVPN over TCP only");
  });
});
