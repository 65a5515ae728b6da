// A browser for sign-in flows that cross origins: the portal (through app.request) and an
// identity provider (real HTTPS). One cookie jar per origin; redirects followed like a browser.
// And the lab OpenID provider entered in the portal as an admin would, with its group mappings.
import { type LabIdp, type LabUser, startLabIdp } from "../../../lab/idp/provider.ts";
import { labProviderForm, platformAsClient } from "../../../lab/src/master-data.ts";
import type { App } from "../../src/web/index.ts";
import type { TestPlatform } from "./platform.ts";

export const PORTAL = "https://platform.lab.test";

export interface Page {
  url: string;
  status: number;
  html: string;
  location: string | null;
}

export class CrossSiteBrowser {
  private jars = new Map<string, Map<string, string>>();
  /** Every URL visited, in order (to pick out callback URLs). */
  visited: string[] = [];

  constructor(
    private readonly app: App,
    /** CA to trust for the provider's HTTPS. */
    private readonly providerCa: string,
  ) {}

  cookie(origin: string, name: string): string | undefined {
    return this.jars.get(origin)?.get(name);
  }

  setCookie(origin: string, name: string, value: string): void {
    const jar = this.jars.get(origin) ?? new Map();
    jar.set(name, value);
    this.jars.set(origin, jar);
  }

  /** One request, no redirect following. */
  async request(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<Page> {
    const target = new URL(url);
    const jar = this.jars.get(target.origin) ?? new Map<string, string>();
    this.jars.set(target.origin, jar);
    const headers: Record<string, string> = {};
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers["content-type"] = "application/x-www-form-urlencoded";
    }
    const method = init.method ?? (init.form ? "POST" : "GET");
    this.visited.push(target.href);
    const response =
      target.origin === PORTAL
        ? await this.app.request(target.href, { method, headers, body })
        : await fetch(target.href, {
            method,
            headers,
            body,
            redirect: "manual",
            tls: { ca: this.providerCa },
          });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1);
      if (!value || /max-age=0|expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    const location = response.headers.get("location");
    return {
      url: target.href,
      status: response.status,
      html: await response.text(),
      location: location ? new URL(location, target).href : null,
    };
  }

  /** A request and every redirect after it; returns the last page. */
  async go(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<Page> {
    let page = await this.request(url, init);
    for (let hops = 0; hops < 15; hops++) {
      // A meta refresh is how the portal leaves the provider's navigation after the callback.
      const refresh =
        page.status === 200
          ? page.html.match(/http-equiv="refresh" content="0;url=([^"]+)"/)?.[1]
          : undefined;
      const next =
        page.status >= 300 && page.status < 400
          ? page.location
          : refresh
            ? new URL(refresh, page.url).href
            : null;
      if (!next) break;
      page = await this.request(next);
    }
    return page;
  }

  /** Starts "Sign in with <provider>" and signs in at the lab provider's form. */
  async signInAt(slug: string, username: string, password: string): Promise<Page> {
    const login = await this.go(`${PORTAL}/sign-in/oidc/${slug}`);
    const action = login.html.match(/<form method="post" action="([^"]+)"/)?.[1];
    if (!action) return login;
    return this.go(new URL(action, login.url).href, { form: { username, password } });
  }
}

export interface LabProviderSetup {
  /** The portal's public URL: the provider redirects back to it. */
  portal: string;
  /** Where the provider is reached (its certificate's name); default 127.0.0.1. */
  hostname?: string;
  users: LabUser[];
  /** Provider groups and the role each gives, for one customer or ("" / none) for all. */
  mappings: { group: string; role: string; customerId?: string }[];
}

/**
 * Starts the lab OpenID provider with `users` and the platform as its client, then, as the admin
 * in the portal, enters it as "lab" ("ACME Service ID") and maps its groups to roles. Returns the
 * portal's answers so a test can check them; the caller stops the provider.
 */
export async function enterLabProvider(
  p: TestPlatform,
  setup: LabProviderSetup,
): Promise<{ idp: LabIdp; providerId: string; created: Response; mapped: Response[] }> {
  const idp = await startLabIdp({
    hostname: setup.hostname,
    users: setup.users,
    clients: [platformAsClient(setup.portal)],
  });
  try {
    await p.admin.get("/identity-providers");
    const created = await p.admin.post(
      "/identity-providers",
      labProviderForm(idp, "ACME Service ID"),
    );
    const providerId = created.headers.get("location")?.split("/").pop() ?? "";
    const mapped: Response[] = [];
    for (const { group, role, customerId = "" } of setup.mappings) {
      await p.admin.get(`/identity-providers/${providerId}`);
      mapped.push(
        await p.admin.post(`/identity-providers/${providerId}/mappings`, {
          group,
          role,
          customerId,
        }),
      );
    }
    return { idp, providerId, created, mapped };
  } catch (error) {
    await idp.stop();
    throw error;
  }
}
