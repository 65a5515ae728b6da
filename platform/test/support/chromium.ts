// The portal in headless Chromium for a test: served over HTTPS on a random port, one browser,
// a fresh context (cookies, storage) per person and window width, and the sign-in steps.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { tlsCertificate } from "../../../lab/idp/provider.ts";
import { totpCode } from "../../src/identity/index.ts";
import type { TestPlatform } from "./platform.ts";

export { CHROMIUM_ARGS, launchChromium } from "../../../common/test/support/chromium.ts";

/** The platform's app over HTTPS on 127.0.0.1 and a random port. */
export function servePortal(p: TestPlatform, port: number) {
  const tls = tlsCertificate("127.0.0.1");
  return Bun.serve({
    hostname: "127.0.0.1",
    port,
    tls: { cert: tls.cert, key: tls.key },
    fetch: p.app.fetch,
  });
}

/** A context of its own at `width` (height 900), with every page error and console error kept. */
export async function personAt(
  browser: Browser,
  width: number,
  problems: string[],
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width, height: 900 },
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  // Refusals shown in place answer 4xx on purpose; any other console error is a defect.
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 4\d\d/.test(m.text()))
      problems.push(`${page.url()}: ${m.text().slice(0, 120)}`);
  });
  return { context, page };
}

/** Signs in with password and TOTP; a code works once, so the clock moves past the last one. */
export async function signIn(
  page: Page,
  p: TestPlatform,
  portal: string,
  user: { username: string; password: string; totpKey: string },
): Promise<void> {
  await page.goto(`${portal}/sign-in`);
  await page.fill('input[name="username"]', user.username);
  await page.fill('input[name="password"]', user.password);
  await page.click('main button[type="submit"]');
  await page.waitForURL(`${portal}/sign-in/totp`);
  p.clock.advance(60_000);
  await page.fill('input[name="code"]', totpCode(user.totpKey, p.clock.now()));
  await page.click('main button[type="submit"]');
  await page.waitForURL(`${portal}/machines`);
}
