// Every page of the portal holds at 1280, 768 and 390 px, in headless Chromium: nothing wider
// than the window and no address, port or time broken over two lines, with long names in the
// data; screenshots of each (MEETPOINT_SCREENSHOTS/portal-pages). The walks of each role are in
// ux-browser.test.ts; this one only looks, page by page, including the refusals and the sign-in.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { browserSkipReason } from "@meetpoint/lab";
import type { Browser, Page } from "playwright-core";
import { layoutProblems, screenshotDir, WIDTHS } from "../../common/test/support/layout.ts";
import { createProvider, createUser, grantRole } from "../src/identity/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { launchChromium, personAt, servePortal, signIn } from "./support/chromium.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { firstSignIn } from "./support/portal.ts";
import { arrangeWorkspace } from "./support/workspace.ts";

const skip = browserSkipReason();

describe.skipIf(skip !== null)("every page of the portal at 1280, 768 and 390 px", () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const portal = `https://127.0.0.1:${port}`;
  const shots = screenshotDir("portal-pages");
  const problems: string[] = [];
  let p: TestPlatform;
  let scene: Scene;
  let server: ReturnType<typeof Bun.serve>;
  let browser: Browser;
  let admin: { username: string; password: string; totpKey: string };
  let userId: string;
  let providerId: string;
  let workspace: { templateId: string; workspaceId: string };

  beforeAll(async () => {
    p = await testPlatform({ publicUrl: portal });
    scene = await arrangeMachine(p, [
      { name: "Web UI", protocol: "tcp", port: 443, enabled: true },
      {
        name: "Engineering tool without a short name at all",
        protocol: "udp",
        port: 47808,
        enabled: false,
      },
    ]);
    // A gateway that reports, a data channel online, a remote session that ended: every column filled.
    const api = (path: string, body: unknown) =>
      p.app.request(`https://localhost/api/gateway/v1${path}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      });
    const { envelope } = (await (await api("/data-channel", {})).json()) as { envelope: string };
    const serial = serialOf(await dataChannelProfile(p, scene.gatewayId, envelope));
    expect((await p.access.connections.decide("0:1", serial)).allow).toBe(true);
    await api("/heartbeat", {
      state: "online",
      gatewaySessionId: null,
      agentVersion: "0.1.0",
      openvpnVersion: "2.6.12",
      localTime: p.clock.now().toISOString(),
      lastError: "the platform platform.example:443 did not answer in time",
    });
    const { session } = await p.access.remoteSessions.request(scene.technician, scene.machineId, {
      reason: "ticket 4711: axis 3 drive fault, firmware update needs the engineering tool",
    });
    await p.access.remoteSessions.disconnect(scene.technician, session.id);
    const made = await createUser(p.adminCtx, { username: "root-admin", displayName: "Root" });
    await grantRole(p.adminCtx, made.user.id, { role: "platform_admin" });
    userId = made.user.id;
    const done = await firstSignIn(p.app, p.database.db, p.clock, "root-admin", made.password);
    admin = { username: "root-admin", password: done.password, totpKey: done.totpKey };
    providerId = (
      await createProvider(p.adminCtx, p.pki, {
        slug: "acme-keycloak",
        displayName: "ACME Service ID",
        issuer: "https://id.acme-maschinenbau-werkzeug.example.com/realms/service-technicians",
        clientId: "meetpoint-portal-client",
        clientAuth: "private_key_jwt",
      })
    ).id;
    workspace = await arrangeWorkspace(p, scene, userId);
    server = servePortal(p, port);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
    await p?.dispose();
  });

  const pages = (): [label: string, path: string][] => [
    ["machines", "/machines"],
    ["machine", `/machines/${scene.machineId}`],
    ["sessions", "/sessions"],
    ["customers", "/customers"],
    ["customer", `/customers/${scene.customerId}`],
    ["gateways", "/gateways"],
    ["gateway", `/gateways/${scene.gatewayId}`],
    ["users", "/users"],
    ["user", `/users/${userId}`],
    ["identity-providers", "/identity-providers"],
    ["identity-provider", `/identity-providers/${providerId}`],
    ["audit", "/audit"],
    ["ca", "/pki"],
    ["status", "/status"],
    ["alerts", "/alerts"],
    ["api-tokens", "/account/api-tokens"],
    ["api-docs", "/api-docs"],
    ["password", "/account/password"],
    ["help", "/help"],
    ["workspace-templates", "/workspace-templates"],
    ["workspace-template", `/workspace-templates/${workspace.templateId}`],
    ["workspaces", "/workspaces"],
    ["workspace", `/workspaces/${workspace.workspaceId}`],
    ["workspace-open", `/workspaces/${workspace.workspaceId}/open`],
    ["recordings", "/recordings"],
    ["not-found", "/machines/00000000-0000-4000-8000-000000000000"],
    ["seen-once", "/once/00000000-0000-4000-8000-000000000000"],
  ];

  const look = async (page: Page, label: string) => {
    await page.waitForLoadState("networkidle");
    problems.push(...(await layoutProblems(page, shots, label)));
  };

  test("each page, signed in as a platform admin, and the sign-in page", async () => {
    for (const width of WIDTHS) {
      const { context, page } = await personAt(browser, width, problems);
      await page.goto(`${portal}/sign-in`);
      await look(page, "sign-in");
      await signIn(page, p, portal, admin);
      for (const [label, path] of pages()) {
        await page.goto(`${portal}${path}`);
        await look(page, label);
      }
      if (width === 390) {
        // The menu is one row on a phone, and opens from its button.
        const header = await page.locator("header.top").boundingBox();
        expect(header?.height ?? 999).toBeLessThan(70);
        await page.locator("label.menu-button").click();
        expect(
          await page.locator("header nav").getByRole("link", { name: "Audit log" }).isVisible(),
        ).toBe(true);
        await look(page, "menu-open");
      }
      await context.close();
    }
    expect(problems).toEqual([]);
  }, 180_000);
});
