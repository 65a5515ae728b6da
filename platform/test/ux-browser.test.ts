// The portal as people use it, in headless Chromium at 1280, 768 and 390 px: a platform admin
// sets up an empty platform with the first-run guide, a customer admin works on their machines,
// a technician finds a machine and connects, an auditor reads the denials. On every page: nothing
// wider than the window and no address, port or time broken over two lines (screenshots kept in
// MEETPOINT_SCREENSHOTS, default /tmp/meetpoint-screenshots). Regressions this walks over: errors
// at the top with internal names ("lanAddress: …"), a stale tab reverting another's change, role
// forms preselecting "Platform admin / platform-wide", "Connect becomes possible when the
// operator presses Connect" while the gateway was retrying, the audit log's hidden Result column.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { browserSkipReason } from "@meetpoint/lab";
import { eq } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import { layoutProblems, screenshotDir, WIDTHS } from "../../common/test/support/layout.ts";
import { auditEntries, users } from "../src/db/index.ts";
import { createUser, grantRole, totpCode } from "../src/identity/index.ts";
import { launchChromium, personAt, servePortal, signIn } from "./support/chromium.ts";
import { dataChannelProfile, gatewayCall, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { firstSignIn } from "./support/portal.ts";

const skip = browserSkipReason();
/** A customer's name as people write it: long, and without a space to break at. */
const LONG = "Werkzeugmaschinenfabrikgesellschaftmitbeschraenkterhaftung";

describe.skipIf(skip !== null)("the portal as people use it, at 1280, 768 and 390 px", () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const portal = `https://127.0.0.1:${port}`;
  const shots = screenshotDir("portal");
  const problems: string[] = [];
  let p: TestPlatform;
  let server: ReturnType<typeof Bun.serve>;
  let browser: Browser;
  type Person = { username: string; password: string; totpKey: string };
  let ada: Person;
  let audrey: Person;
  let carl: Person;
  let tina: Person;
  // What the admin's walk at 1280 px made: the technician's customer, gateway and machine.
  const acme = { customerId: "", gatewayId: "", secret: "", machineId: "", siteId: "" };

  async function person(username: string, role: "platform_admin" | "auditor"): Promise<Person> {
    const made = await createUser(p.adminCtx, { username, displayName: username });
    await grantRole(p.adminCtx, made.user.id, { role });
    const done = await firstSignIn(p.app, p.database.db, p.clock, username, made.password);
    return { username, password: done.password, totpKey: done.totpKey };
  }

  beforeAll(async () => {
    p = await testPlatform({ publicUrl: portal });
    server = servePortal(p, port);
    ada = await person("ada", "platform_admin");
    audrey = await person("audrey", "auditor");
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
    await p?.dispose();
  });

  /** Checks the page as shown now; every problem is kept for the end of the test. */
  const look = async (page: Page, label: string) => {
    await page.waitForLoadState("networkidle");
    problems.push(...(await layoutProblems(page, shots, label)));
  };

  /** Follows a menu link; on a phone the menu opens from its button first. */
  async function menu(page: Page, name: string) {
    const button = page.locator("label.menu-button");
    if (await button.isVisible()) await button.click();
    await page.locator("header nav").getByRole("link", { name, exact: true }).click();
  }

  /** What the gateway's agent would send: a heartbeat with its state and last error. */
  const heartbeat = (state: string, lastError: string | null) =>
    gatewayApi("/heartbeat", {
      state,
      gatewaySessionId: null,
      agentVersion: "0.1.0",
      openvpnVersion: "2.6.12",
      localTime: p.clock.now().toISOString(),
      lastError,
    });
  const gatewayApi = async (path: string, body: unknown) => {
    const response = await gatewayCall(p, acme, path, body);
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  };
  let clients = 0;
  /** The operator presses Connect and the gateway's tunnel comes up (the platform decides it). */
  async function gatewayOnline() {
    const { envelope } = (await gatewayApi("/data-channel", {})) as { envelope: string };
    const serial = serialOf(await dataChannelProfile(p, acme.gatewayId, envelope));
    expect((await p.access.connections.decide(`0:${++clients}`, serial)).allow).toBe(true);
    await heartbeat("online", null);
  }

  test("a platform admin sets up an empty platform with the first-run guide", async () => {
    for (const width of WIDTHS) {
      const { context, page } = await personAt(browser, width, problems);
      await signIn(page, p, portal, ada);
      const first = width === 1280;
      if (first) {
        // The guide, the next step linked: Customer.
        expect(await page.locator("#first-run li.next").textContent()).toContain("Customer");
        await look(page, "admin-first-run");
      }
      await menu(page, "Customers");
      await page.getByLabel("New customer").fill(`${LONG}${width}`);
      await page.getByRole("button", { name: "Add customer" }).click();
      await page.waitForURL(/\/customers\/[0-9a-f-]{36}$/);
      const customerId = page.url().split("/").at(-1) ?? "";
      await look(page, "admin-customer");
      await page.getByLabel("New site").fill(`Plant Nord ${width}`);
      await page.getByRole("button", { name: "Add site" }).click();
      await page.waitForURL(/\/sites\/[0-9a-f-]{36}$/);
      const siteId = page.url().split("/").at(-1) ?? "";
      await page.getByLabel("New gateway").fill(`Hall 3 line A ${width}`);
      await page.getByRole("button", { name: "Add gateway" }).click();
      await page.waitForURL(/\/once\/[0-9a-f-]{36}$/);
      // The bundle's page names the gateway, its site and its customer.
      expect(await page.textContent("main")).toContain(
        `Hall 3 line A ${width} · site Plant Nord ${width} · customer ${LONG}${width}`,
      );
      const secret = (await page.locator(".secret").textContent()) ?? "";
      await look(page, "admin-gateway-bundle");
      await page.getByRole("link", { name: "Continue to the gateway" }).click();
      await page.waitForURL(/\/gateways\/[0-9a-f-]{36}$/);
      const gatewayId = page.url().split("/").at(-1) ?? "";
      expect(await page.locator("[data-reach]").first().getAttribute("data-reach")).toBe("never");

      // An address the server refuses (the browser's own check lets it pass): the reason stands
      // beside the field under its visible label, and what was typed stays.
      await page.getByLabel("Machine name").fill("Press 7");
      await page.getByLabel("LAN address").fill("127.0.0.1");
      await page.getByRole("button", { name: "Add machine" }).click();
      const error = page.locator("label:has(input[name=lanAddress]) .field-error");
      await error.waitFor();
      expect(await error.textContent()).toBe(
        "LAN address: must be a unicast host address (not 0.x, loopback 127.x, multicast 224–239.x or reserved 240–255.x such as the broadcast 255.255.255.255)",
      );
      expect(await page.locator("input[name=lanAddress]").getAttribute("aria-invalid")).toBe(
        "true",
      );
      expect(await page.locator("input[name=name]").last().inputValue()).toBe("Press 7");
      expect(await page.textContent("#messages")).toContain("Please correct the marked field.");
      expect(await page.textContent("main")).not.toContain("lanAddress");
      await look(page, "admin-field-error");
      await page.getByLabel("LAN address").fill("192.168.0.10");
      await page.getByRole("button", { name: "Add machine" }).click();
      await page.waitForURL(/\/machines\/[0-9a-f-]{36}$/);
      const machineId = page.url().split("/").at(-1) ?? "";
      for (const [name, port, enabled] of [
        ["Web UI", "443", true],
        ["SSH", "22", false],
      ] as const) {
        await page.getByLabel("Service").fill(name);
        await page.getByLabel("Port").fill(port);
        await page.getByLabel("enabled").setChecked(enabled);
        await page.getByRole("button", { name: "Add service" }).click();
        await page.locator(`tr:has-text("${name}")`).waitFor();
      }
      // A disabled service's button is a plain secondary one: never the page's primary look.
      const enable = page.locator('tr:has-text("SSH") button', { hasText: "Enable" });
      expect(await enable.getAttribute("class")).toBe("secondary");
      await look(page, "admin-machine");
      if (first) Object.assign(acme, { customerId, gatewayId, secret, machineId, siteId });

      await menu(page, "Users");
      if (first) {
        await page.getByLabel("Username").fill("tina");
        await page.getByLabel("Full name").fill("Tina Technician");
        await page.getByRole("button", { name: "Add user" }).click();
        await page.waitForURL(/\/once\/[0-9a-f-]{36}$/);
        const password = (await page.locator(".secret").textContent()) ?? "";
        tina = { username: "tina", password, totpKey: "" };
        await page.getByRole("link", { name: "Continue to the user" }).click();
        await page.waitForURL(/\/users\/[0-9a-f-]{36}$/);
        // Nothing preselected: without a choice the browser does not send the form.
        expect(await page.locator("select[name=role]").inputValue()).toBe("");
        expect(await page.locator("select[name=customerId]").inputValue()).toBe("");
        await page.getByRole("button", { name: "Grant role" }).click();
        expect(
          await page.$eval(
            "select[name=role]",
            (s) => (s as HTMLSelectElement).validity.valueMissing,
          ),
        ).toBe(true);
        await page.selectOption("select[name=role]", "technician");
        await page.selectOption("select[name=customerId]", customerId);
        await page.getByRole("button", { name: "Grant role" }).click();
        await page.locator("td", { hasText: `Technician · ${LONG}1280` }).waitFor();
        await look(page, "admin-user");
        // Only the bundle's import is missing: the guide says so until the gateway reports.
        await menu(page, "Machines");
        await page.waitForURL(`${portal}/machines`);
        expect(await page.locator("#first-run li.next").textContent()).toContain(
          "has never reported",
        );
        await heartbeat("idle", null);
        await page.reload();
        // Everything a first remote session needs is there: the guide steps aside.
        expect(await page.locator("#first-run").count()).toBe(0);
      } else await look(page, "admin-users");
      await menu(page, "Help");
      await page.waitForURL(`${portal}/help`);
      expect(await page.locator("#first-run li.done").count()).toBe(6);
      await look(page, "admin-help");
      await context.close();
    }
    expect(problems).toEqual([]);
  }, 180_000);

  test("a customer admin: a stale tab cannot revert another's change; a delete says what is in the way", async () => {
    const made = await createUser(p.adminCtx, { username: "carl", displayName: "Carl Customer" });
    await grantRole(p.adminCtx, made.user.id, {
      role: "customer_admin",
      customerId: acme.customerId,
    });
    const done = await firstSignIn(p.app, p.database.db, p.clock, "carl", made.password);
    carl = { username: "carl", password: done.password, totpKey: done.totpKey };
    for (const width of WIDTHS) {
      const { context, page } = await personAt(browser, width, problems);
      await signIn(page, p, portal, carl);
      await look(page, "customer-admin-machines");
      if (width === 1280) {
        // Two tabs on the same machine: the first saves, the second's save is refused.
        const other = await context.newPage();
        for (const tab of [page, other]) await tab.goto(`${portal}/machines/${acme.machineId}`);
        await page.locator("input[name=name]").first().fill("Press 7a");
        await page.getByRole("button", { name: "Save" }).click();
        // The saved page, as the server renders it after the redirect (htmx swaps it in).
        await page.locator('input[name=name][value="Press 7a"]').waitFor();
        await other.locator("input[name=lanAddress]").fill("192.168.0.11");
        await other.getByRole("button", { name: "Save" }).click();
        const refusal = other.locator("#messages .notice.error");
        await refusal.waitFor();
        expect(await refusal.textContent()).toMatch(
          /^Changed by carl at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z since you opened this page: nothing was saved\./,
        );
        expect(await other.locator("input[name=lanAddress]").inputValue()).toBe("192.168.0.11");
        await look(other, "customer-admin-stale-form");
        await other.getByRole("link", { name: "Reload the page" }).click();
        // A boosted link loads by XHR: wait for the reloaded form, not for the network to rest.
        await other.locator('input[name=name][value="Press 7a"]').waitFor();
        expect(await other.locator("input[name=name]").first().inputValue()).toBe("Press 7a");
        await other.close();
      }
      if (width === 768) {
        // The site still has its gateway: refused, with a link to it.
        await page.goto(`${portal}/sites/${acme.siteId}`);
        page.once("dialog", (d) => d.accept());
        await page.getByRole("button", { name: "Delete site" }).click();
        const list = page.locator("#messages .dependents a");
        await list.first().waitFor();
        expect(await list.first().getAttribute("href")).toBe(`/gateways/${acme.gatewayId}`);
        await look(page, "customer-admin-in-use");
      }
      await page.goto(`${portal}/gateways/${acme.gatewayId}`);
      await look(page, "customer-admin-gateway");
      await context.close();
    }
    expect(problems).toEqual([]);
  }, 120_000);

  test("a technician finds the machine, reads why it cannot be reached, and connects when it can", async () => {
    for (const width of WIDTHS) {
      const { context, page } = await personAt(browser, width, problems);
      if (width === WIDTHS[0]) {
        // The first sign-in: the password rule is listed before anything is typed.
        await page.goto(`${portal}/sign-in`);
        await page.fill('input[name="username"]', tina.username);
        await page.fill('input[name="password"]', tina.password);
        await page.click('main button[type="submit"]');
        await page.waitForURL(`${portal}/account/password`);
        expect(await page.locator("#password-rules li").allTextContents()).toContain(
          "at least 12 and at most 256 characters",
        );
        await look(page, "technician-password");
        await page.fill('input[name="current"]', tina.password);
        tina.password = "Service-Passw0rd-2026";
        await page.fill('input[name="next"]', tina.password);
        await page.click('main button[type="submit"]');
        await page.waitForURL(`${portal}/account/totp`);
        const [row] = await p.database.db.select().from(users).where(eq(users.username, "tina"));
        tina.totpKey = row?.totpKey ?? "";
        await page.fill('input[name="code"]', totpCode(tina.totpKey, p.clock.now()));
        await page.click('main button[type="submit"]');
        await page.waitForURL(`${portal}/machines`);
      } else await signIn(page, p, portal, tina);
      // No hint to add what a technician cannot add.
      expect(await page.textContent("main")).not.toContain("Add one");

      if (width === 1280)
        await heartbeat("reconnecting", "the data channel did not come up within 30 s");
      else await gatewayOnline();
      await page.locator('input[name="q"]').fill("Press 7");
      await page.locator("#machine-rows a", { hasText: "Press 7a" }).click();
      await page.waitForURL(`${portal}/machines/${acme.machineId}`);
      const reach = page.locator("#remote-access .reach-text");
      if (width === 1280) {
        // What is true, since when, and who must act — not "wait for the operator to press Connect".
        expect(await reach.getAttribute("data-reach")).toBe("failing");
        expect(await reach.textContent()).toContain(
          "Cannot connect — retrying; reason: the data channel did not come up within 30 s.",
        );
        expect(await reach.textContent()).toContain("Plant IT must act");
        await look(page, "technician-cannot-connect");
        // Online now; while the page is open, the operator disconnects: the Connect is refused,
        // said in place, and audited.
        await gatewayOnline();
        await page.reload();
        await gatewayApi("/disconnect", {});
        await page.getByLabel(/Reason/).fill("ticket 4711, axis 3");
        await page.getByRole("button", { name: "Connect", exact: true }).click();
        await page.locator("#messages .notice.error").waitFor();
        expect(await page.textContent("#messages")).toContain("The gateway is offline");
        await page.goto(`${portal}/users`);
        expect(await page.locator("h1").textContent()).toBe("Not allowed");
      } else {
        expect(await reach.getAttribute("data-reach")).toBe("online");
        await page.getByLabel(/Reason/).fill(`ticket 4711 at ${width} px`);
        await page.getByRole("button", { name: "Connect", exact: true }).click();
        await page.waitForURL(/\/once\/[0-9a-f-]{36}$/);
        await look(page, "technician-connect");
        await page.getByRole("button", { name: "Disconnect" }).click();
        await page.waitForURL(`${portal}/machines/${acme.machineId}`);
        await heartbeat("idle", "remote session ended by technician");
        await page.reload();
        expect(await reach.textContent()).toContain(
          "Remote access is off: remote session ended by technician.",
        );
        await look(page, "technician-machine");
      }
      await menu(page, "Gateways");
      await page.waitForURL(`${portal}/gateways`);
      expect(await page.textContent("main")).not.toContain("Add a gateway");
      await look(page, "technician-gateways");
      await context.close();
    }
    expect(problems).toEqual([]);
  }, 180_000);

  test("an auditor reads the denials: by name, details in words, the Result column at every width", async () => {
    for (const width of WIDTHS) {
      const { context, page } = await personAt(browser, width, problems);
      await signIn(page, p, portal, audrey);
      await page.goto(`${portal}/audit?result=denied`);
      const results = await page
        .locator("#audit-rows tr[data-result]")
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-result")));
      expect(new Set(results)).toEqual(new Set(["denied"]));
      const actions = await page.locator("#audit-rows td.mono").allTextContents();
      for (const action of ["site.delete", "remote_session.request", "access.denied"])
        expect(actions).toContain(action);
      // The refused delete names its target and what was in the way, in words.
      const refusedDelete = page.locator('#audit-rows tr:has(td:text-is("site.delete"))');
      expect(await refusedDelete.textContent()).toContain("site Plant Nord 1280");
      expect(await refusedDelete.locator("dl.detail").textContent()).toContain("still in use");
      expect(await page.locator("#audit-rows").textContent()).not.toContain('{"');
      // The Result column is there and readable on a phone: the table scrolls in its own box.
      const result = page.locator("thead th", { hasText: "Result" });
      expect((await result.boundingBox())?.width ?? 0).toBeGreaterThan(0);
      await look(page, "auditor-denied");
      await context.close();
    }
    // Everything the walks were refused is in the log as a denial, nothing else is.
    const refusals = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.result, "denied"));
    expect(new Set(refusals.map((e) => e.action))).toEqual(
      new Set(["site.delete", "remote_session.request", "access.denied"]),
    );
    expect(problems).toEqual([]);
  }, 120_000);
});
