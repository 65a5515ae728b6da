// The portal in headless Chromium, as an auditor tries it: secrets shown once stay gone after
// sign-out and Back, the browser's storage holds nothing of the portal, a reload after a form
// never lands on a POST address, and audit exports are real downloads of exactly the filtered
// entries. Regressions: Back ×2 after sign-out showed the "shown only now" password page again
// from htmx's history cache in sessionStorage; "Export JSON Lines" swapped raw JSON into the page
// and ignored the filters on screen.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { browserSkipReason } from "@meetpoint/lab";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../../common/test/support/chromium.ts";
import { tlsCertificate } from "../../lab/idp/provider.ts";
import { createUser, grantRole, totpCode } from "../src/identity/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { firstSignIn } from "./support/portal.ts";

const skip = browserSkipReason();

describe.skipIf(skip !== null)("the portal in Chromium: nothing secret left behind", () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const portal = `https://127.0.0.1:${port}`;
  let p: TestPlatform;
  let scene: Scene;
  let server: ReturnType<typeof Bun.serve>;
  let context: BrowserContext;
  let profileDir: string;
  let auditor: { password: string; totpKey: string };

  beforeAll(async () => {
    p = await testPlatform({ publicUrl: portal });
    scene = await arrangeMachine(p, [
      { name: "Web UI", protocol: "tcp", port: 443, enabled: true },
    ]);
    const tls = tlsCertificate("127.0.0.1");
    server = Bun.serve({
      hostname: "127.0.0.1",
      port,
      tls: { cert: tls.cert, key: tls.key },
      fetch: p.app.fetch,
    });
    const { user, password } = await createUser(p.adminCtx, {
      username: "chris",
      displayName: "Chris Admin",
    });
    await grantRole(p.adminCtx, user.id, { role: "platform_admin" });
    auditor = await firstSignIn(p.app, p.database.db, p.clock, "chris", password);
    profileDir = mkdtempSync(join(tmpdir(), "meetpoint-chromium-"));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
      ignoreHTTPSErrors: true,
      acceptDownloads: true,
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    server?.stop(true);
    await p?.dispose();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  async function signIn(page: Page) {
    await page.goto(`${portal}/sign-in`);
    await page.fill('input[name="username"]', "chris");
    await page.fill('input[name="password"]', auditor.password);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${portal}/sign-in/totp`);
    // A TOTP code works once: step past the one used at the first sign-in.
    p.clock.advance(60_000);
    await page.fill('input[name="code"]', totpCode(auditor.totpKey, p.clock.now()));
    await page.click('main button[type="submit"]');
    await page.waitForURL(`${portal}/machines`);
  }

  const signOut = async (page: Page) => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${portal}/sign-in`);
  };

  /** Everything in sessionStorage, as text. */
  const sessionStorageText = (page: Page) =>
    page.evaluate(() => JSON.stringify({ ...window.sessionStorage }));

  /**
   * What sessionStorage holds on the sign-in page: at most htmx's note of the page it is on — no
   * snapshot, no page of the portal.
   */
  async function storageAfterSignOut(page: Page) {
    const stored = JSON.parse(await sessionStorageText(page)) as Record<string, string>;
    const { "htmx-current-path-for-history": path = "/sign-in", ...rest } = stored;
    return { path, rest };
  }

  test("a new user's password: shown once; after sign-out, Back ×2 shows the sign-in page and storage holds nothing", async () => {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    await signIn(page);
    await page.getByRole("link", { name: "Users" }).click();
    await page.waitForURL(`${portal}/users`);
    await page.fill('input[name="username"]', "newbie");
    await page.fill('input[name="displayName"]', "New Bie");
    await page.getByRole("button", { name: "Add user" }).click();
    await page.waitForURL(/\/once\/[0-9a-f-]{36}$/);
    const onceUrl = page.url();
    const password = (await page.locator(".secret").textContent()) ?? "";
    expect(password).toHaveLength(20);

    // Reload: the address is a GET, the secret is not shown again, and it says so.
    await page.reload();
    expect(page.url()).toBe(onceUrl);
    expect(await page.textContent("main")).toContain("You saw this once");
    expect(await page.content()).not.toContain(password);

    await page.getByRole("link", { name: "Users" }).click();
    await page.waitForURL(`${portal}/users`);
    await page.getByRole("link", { name: "newbie" }).click();
    await page.waitForURL(/\/users\/[0-9a-f-]{36}$/);
    expect(await sessionStorageText(page)).not.toContain(password);
    expect(await sessionStorageText(page)).not.toContain("htmx-history-cache");

    await signOut(page);
    for (let back = 1; back <= 2; back++) {
      await page.goBack();
      await page.waitForURL(`${portal}/sign-in`);
      expect(await page.locator("h1").textContent()).toBe("Sign in");
      expect(await page.content()).not.toContain(password);
      expect(await page.content()).not.toContain("New Bie");
    }
    expect(await storageAfterSignOut(page)).toEqual({ path: "/sign-in", rest: {} });
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);

  test("re-key: the enrollment bundle downloads from its page once; Back after sign-out shows none of it", async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(`${portal}/gateways/${scene.gatewayId}`);
    page.once("dialog", (dialog) => dialog.accept());
    await page.getByRole("button", { name: "Re-key (new enrollment bundle)" }).click();
    await page.waitForURL(/\/once\/[0-9a-f-]{36}$/);
    const secret = (await page.locator(".secret").textContent()) ?? "";
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByText("Download enrollment bundle").click(),
    ]);
    expect(download.suggestedFilename()).toBe(`meetpoint-enrollment-${scene.gatewayId}.jws`);
    const bundle = readFileSync((await download.path()) ?? "", "utf8");
    expect(bundle.split(".")).toHaveLength(3);
    await page.getByRole("link", { name: "Continue to the gateway" }).click();
    await page.waitForURL(`${portal}/gateways/${scene.gatewayId}`);
    await signOut(page);
    await page.goBack();
    await page.waitForURL(`${portal}/sign-in`);
    await page.goBack();
    await page.waitForURL(`${portal}/sign-in`);
    expect(await page.content()).not.toContain(secret);
    expect(await page.content()).not.toContain(bundle.slice(0, 40));
    expect(await storageAfterSignOut(page)).toEqual({ path: "/sign-in", rest: {} });
    await page.close();
  }, 90_000);

  test("audit export: filters in the address, and a download of exactly the filtered entries", async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.waitForURL(`${portal}/audit`);
    await page.fill('input[name="action"]', "user.");
    await page.fill('input[name="actor"]', "chris");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/\/audit\?action=user\.&actor=chris/);
    const shown = await page.locator("#audit-rows tr td.mono:nth-child(3)").allTextContents();
    expect(shown.length).toBeGreaterThan(0);
    for (const action of shown) expect(action.startsWith("user.")).toBe(true);

    // The filtered view is an address: opened anew, it shows the same rows.
    const again = await context.newPage();
    await again.goto(page.url());
    expect(await again.locator("#audit-rows tr td.mono:nth-child(3)").allTextContents()).toEqual(
      shown,
    );
    await again.close();

    for (const [label, format] of [
      ["Export JSON Lines", "jsonl"],
      ["Export CSV", "csv"],
    ] as const) {
      const before = page.url();
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("link", { name: label }).click(),
      ]);
      expect(download.suggestedFilename()).toBe(`meetpoint-audit.${format}`);
      const text = readFileSync((await download.path()) ?? "", "utf8").trim();
      const lines = format === "csv" ? text.split("\r\n").slice(1) : text.split("\n");
      expect(lines).toHaveLength(shown.length);
      if (format === "jsonl")
        for (const line of lines) {
          const entry = JSON.parse(line);
          expect(entry.action.startsWith("user.")).toBe(true);
          expect(entry.actorName).toContain("chris");
        }
      // The page stays as it was: nothing swapped into it.
      expect(page.url()).toBe(before);
      expect(await page.locator("h1").textContent()).toBe("Audit log");
    }
    await page.close();
  }, 90_000);
});
