// The whole sign-in in headless Chromium: the portal and the lab provider on different sites, as
// in real life, so the cookies' SameSite rules and the redirects are the browser's own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { browserSkipReason } from "@meetpoint/lab";
import type { Browser } from "playwright-core";
import { launchChromium } from "../../common/test/support/chromium.ts";
import { type LabIdp, tlsCertificate } from "../../lab/idp/provider.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { enterLabProvider } from "./support/oidc.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

const skip = browserSkipReason();

describe.skipIf(skip !== null)("OIDC sign-in in Chromium", () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const portal = `https://127.0.0.1:${port}`;
  let p: TestPlatform;
  let idp: LabIdp;
  let server: ReturnType<typeof Bun.serve>;
  let browser: Browser;

  beforeAll(async () => {
    p = await testPlatform({ publicUrl: portal });
    const tls = tlsCertificate("127.0.0.1");
    server = Bun.serve({
      hostname: "127.0.0.1",
      port,
      tls: { cert: tls.cert, key: tls.key },
      fetch: p.app.fetch,
    });
    const acme = await createCustomer(p.adminCtx, { name: "ACME" });
    ({ idp } = await enterLabProvider(p, {
      portal,
      hostname: "localhost",
      users: [
        {
          username: "tina",
          password: "tina-pw",
          name: "Tina Technician",
          groups: ["acme-service"],
          amr: ["pwd", "otp"],
        },
      ],
      mappings: [{ group: "acme-service", role: "technician", customerId: acme.id }],
    }));
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
    await idp?.stop();
    await p?.dispose();
  });

  test("a technician clicks the provider, signs in there, and lands in the portal", async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(`${portal}/sign-in`);
    await page.getByRole("link", { name: "Sign in with ACME Service ID" }).click();
    await page.waitForURL(/localhost:\d+\/interaction\//);
    await page.fill('input[name="username"]', "tina");
    await page.fill('input[name="password"]', "tina-pw");
    await page.click('button[type="submit"]');
    await page.waitForURL(`${portal}/machines`);
    expect(await page.textContent("header")).toContain("Tina Technician");
    expect(problems).toEqual([]);

    // Sign-out ends the session here and at the provider, and comes back to the sign-in page.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/session\/end/);
    const confirm = page.locator('button[autofocus], button[type="submit"]').first();
    if (await confirm.count()) await confirm.click();
    await page.waitForURL(`${portal}/sign-in`);
    await page.goto(`${portal}/machines`);
    expect(page.url()).toBe(`${portal}/sign-in`);
    await context.close();
  }, 60_000);
});
