// Drives the portal like a browser through app.request(): cookies, CSRF tokens, sign-in steps.

import { eq } from "drizzle-orm";
import type { Db } from "../../src/db/index.ts";
import { users } from "../../src/db/index.ts";
import { totpCode } from "../../src/identity/index.ts";
import type { Clock } from "../../src/shared/index.ts";
import type { App } from "../../src/web/index.ts";

export class Browser {
  private cookies = new Map<string, string>();
  csrf = "";
  lastHtml = "";

  constructor(
    private app: App,
    readonly ip = "198.18.0.10",
  ) {}

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  setCookie(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  async request(
    method: string,
    path: string,
    init: {
      form?: Record<string, string>;
      headers?: Record<string, string>;
      csrf?: string | null;
    } = {},
  ) {
    const headers: Record<string, string> = { ...init.headers };
    if (this.cookies.size)
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    let body: string | undefined;
    if (init.form) {
      const fields = { ...init.form };
      const token = init.csrf === undefined ? this.csrf : init.csrf;
      if (token !== null) fields._csrf = token;
      body = new URLSearchParams(fields).toString();
      headers["content-type"] = "application/x-www-form-urlencoded";
    }
    // The connection's address, as Bun's server reports it (hono/bun getConnInfo).
    const response = await this.app.request(
      `https://localhost${path}`,
      { method, headers, body },
      { requestIP: () => ({ address: this.ip, family: "IPv4", port: 40_000 }) },
    );
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      const [name = "", value = ""] = pair.split("=");
      const expired = attributes.some(
        (a) => /max-age=0/i.test(a.trim()) || /expires=Thu, 01 Jan 1970/i.test(a.trim()),
      );
      if (expired || value === "") this.cookies.delete(name.trim());
      else this.cookies.set(name.trim(), value);
    }
    if ((response.headers.get("content-type") ?? "").includes("text/html")) {
      this.lastHtml = await response.clone().text();
      const token =
        this.lastHtml.match(/name="_csrf" value="([^"]+)"/)?.[1] ??
        this.lastHtml.match(/X-CSRF-Token&quot;:&quot;([^&]+)&quot;/)?.[1];
      if (token) this.csrf = token;
    }
    return response;
  }

  get(path: string, headers?: Record<string, string>) {
    return this.request("GET", path, { headers });
  }

  post(path: string, form: Record<string, string> = {}, headers?: Record<string, string>) {
    return this.request("POST", path, { form, headers });
  }

  /**
   * POSTs a form whose answer is a secret shown once: the POST must redirect to /once/<id>, and
   * the page there (its first and only showing) is returned.
   */
  async postShownOnce(path: string, form: Record<string, string> = {}) {
    const posted = await this.post(path, form);
    const location = posted.headers.get("location") ?? "";
    if (posted.status !== 303 || !location.startsWith("/once/"))
      throw new Error(
        `POST ${path} answered ${posted.status} → ${location}: ${(await posted.text()).slice(0, 300)}`,
      );
    return this.get(location);
  }

  /** GET a page and return its HTML; fails the test on a non-200 answer. */
  async page(path: string): Promise<string> {
    const response = await this.get(path);
    if (response.status !== 200)
      throw new Error(
        `GET ${path} answered ${response.status}: ${(await response.text()).slice(0, 300)}`,
      );
    return response.text();
  }
}

/**
 * Signs in a user who has a one-time password: password, own password, TOTP enrolment.
 * Returns the browser at stage "ready" and the user's new password.
 */
export async function firstSignIn(
  app: App,
  db: Db,
  clock: Clock,
  username: string,
  oneTimePassword: string,
) {
  const browser = new Browser(app);
  await browser.get("/sign-in");
  let response = await browser.post("/sign-in", { username, password: oneTimePassword });
  if (response.headers.get("location") !== "/account/password")
    throw new Error(`sign-in went to ${response.headers.get("location")}`);
  await browser.get("/account/password");
  const password = `Strong-Passw0rd-${crypto.randomUUID().slice(0, 8)}`;
  response = await browser.post("/account/password", { current: oneTimePassword, next: password });
  if (response.headers.get("location") !== "/account/totp")
    throw new Error(
      `password change went to ${response.headers.get("location")} (${response.status})`,
    );
  await browser.get("/account/totp");
  const [user] = await db.select().from(users).where(eq(users.username, username));
  if (!user?.totpKey) throw new Error("no pending TOTP key");
  response = await browser.post("/account/totp", { code: totpCode(user.totpKey, clock.now()) });
  if (response.headers.get("location") !== "/")
    throw new Error(`TOTP enrolment went to ${response.headers.get("location")}`);
  await browser.get("/machines");
  return { browser, password, totpKey: user.totpKey };
}
