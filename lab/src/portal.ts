// Drives the platform's portal over real HTTPS like a person with a browser would: cookies, CSRF
// tokens, first sign-in with password change and TOTP enrolment, and the admin and technician
// pages the lab needs (customers, gateways with their enrollment bundle, machines, services, users).
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateTOTP } from "@oslojs/otp";

export class PortalClient {
  private jars = new Map<string, Map<string, string>>();
  private csrf = "";
  html = "";
  /** Every URL requested, in order. */
  visited: string[] = [];

  /**
   * `baseUrl` like https://platform.lab.test:8443. `hosts` maps names the test's own namespace
   * cannot resolve to addresses, optionally with a port (like /etc/hosts, for this client only;
   * changing an entry later routes the next requests there — the Host header stays the name's). Lab certificates are
   * not checked here: the gateway agent is what pins the platform's CA.
   */
  constructor(
    readonly baseUrl: string,
    readonly hosts: Record<string, string> = {},
  ) {}

  async request(method: "GET" | "POST", path: string, form?: Record<string, string>) {
    const target = new URL(path, this.baseUrl);
    const jar = this.jars.get(target.origin) ?? new Map<string, string>();
    this.jars.set(target.origin, jar);
    const headers: Record<string, string> = {};
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    let body: string | undefined;
    if (form) {
      body = new URLSearchParams({ ...form, _csrf: this.csrf }).toString();
      headers["content-type"] = "application/x-www-form-urlencoded";
    }
    const address = this.hosts[target.hostname];
    const url = new URL(target);
    if (address) {
      // "127.0.0.1" keeps the URL's port; "127.0.0.1:18444" also sends to another port.
      if (address.includes(":")) url.host = address;
      else url.hostname = address;
      headers.host = target.host;
    }
    this.visited.push(target.href);
    const response = await fetch(url, {
      method,
      headers,
      body,
      redirect: "manual",
      tls: { rejectUnauthorized: false },
      signal: AbortSignal.timeout(15_000),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1);
      if (value === "" || /max-age=0/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    this.html = await response.text();
    const token =
      this.html.match(/name="_csrf" value="([^"]+)"/)?.[1] ??
      this.html.match(/X-CSRF-Token&quot;:&quot;([^&]+)&quot;/)?.[1];
    if (token) this.csrf = token;
    const location = response.headers.get("location");
    return {
      url: target.href,
      status: response.status,
      location: location ? new URL(location, target).href : null,
      html: this.html,
    };
  }

  /** GET (or POST), following redirects and the portal's meta refresh, across origins. */
  async go(path: string, form?: Record<string, string>) {
    let r = await this.request(form ? "POST" : "GET", path, form);
    for (let hops = 0; hops < 15; hops++) {
      const refresh =
        r.status === 200
          ? r.html.match(/http-equiv="refresh" content="0;url=([^"]+)"/)?.[1]
          : undefined;
      const next =
        r.status >= 300 && r.status < 400
          ? r.location
          : refresh
            ? new URL(refresh, r.url).href
            : null;
      if (!next) break;
      r = await this.request("GET", next);
    }
    return r;
  }

  /** The cookies this client holds for `origin` (to hand a signed-in session to a browser). */
  cookies(origin: string): { name: string; value: string }[] {
    return [...(this.jars.get(origin) ?? [])].map(([name, value]) => ({ name, value }));
  }

  /** GET, following redirects; fails on anything but 200. */
  async page(path: string): Promise<string> {
    const r = await this.go(path);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${messageOf(r.html)}`);
    return r.html;
  }

  /** "Sign in with <provider>", then the provider's own form (the lab OpenID provider's). */
  async signInWithProvider(slug: string, username: string, password: string): Promise<string> {
    const login = await this.go(`/sign-in/oidc/${slug}`);
    const action = login.html.match(/<form method="post" action="([^"]+)"/)?.[1];
    if (!action) throw new Error(`no sign-in form at the provider: ${messageOf(login.html)}`);
    const r = await this.go(new URL(action, login.url).href, { username, password });
    if (r.status !== 200 || !r.url.startsWith(this.baseUrl))
      throw new Error(`sign-in via ${slug} ended at ${r.url} (${r.status}): ${messageOf(r.html)}`);
    return r.url;
  }

  /** A secret's page: the portal answers a POST that makes one with 303 to /once/<id>, shown once. */
  async shownOnce(posted: Awaited<ReturnType<PortalClient["request"]>>) {
    if (posted.status !== 303 || !posted.location?.includes("/once/")) return posted;
    return this.request("GET", posted.location);
  }

  /** GET the form's page, then POST it; returns the answer (redirects not followed). */
  async submit(pagePath: string, action: string, form: Record<string, string>) {
    await this.page(pagePath);
    const r = await this.request("POST", action, form);
    if (r.status >= 400) throw new Error(`POST ${action}: ${r.status} ${messageOf(r.html)}`);
    return r;
  }

  /** First sign-in: one-time password, own password, TOTP enrolment. Returns the TOTP key. */
  async firstSignIn(
    username: string,
    oneTimePassword: string,
  ): Promise<{ password: string; totpKey: Uint8Array }> {
    const password = `Lab-Passw0rd-${crypto.randomUUID().slice(0, 8)}`;
    await this.submit("/sign-in", "/sign-in", { username, password: oneTimePassword });
    await this.submit("/account/password", "/account/password", {
      current: oneTimePassword,
      next: password,
    });
    const html = await this.page("/account/totp");
    const typed = html.match(/Type this key: <span class="mono">([A-Z2-7 ]+)<\/span>/)?.[1];
    if (!typed) throw new Error("no TOTP key on the enrolment page");
    const totpKey = decodeBase32IgnorePadding(typed.replace(/ /g, ""));
    const r = await this.request("POST", "/account/totp", { code: generateTOTP(totpKey, 30, 6) });
    if (!r.location || new URL(r.location).pathname !== "/")
      throw new Error(`TOTP enrolment: ${r.status} ${messageOf(r.html)}`);
    return { password, totpKey };
  }

  private static idFrom(location: string | null, kind: string): string {
    const id = location?.match(new RegExp(`/${kind}/([0-9a-f-]{36})`))?.[1];
    if (!id) throw new Error(`expected a redirect to /${kind}/<id>, got ${location}`);
    return id;
  }

  async createCustomer(name: string): Promise<string> {
    return PortalClient.idFrom(
      (await this.submit("/customers", "/customers", { name })).location,
      "customers",
    );
  }

  async createSite(customerId: string, name: string): Promise<string> {
    const r = await this.submit(`/customers/${customerId}`, `/customers/${customerId}/sites`, {
      name,
    });
    return PortalClient.idFrom(r.location, "sites");
  }

  /** Creates a gateway; returns its id and the enrollment bundle offered for download. */
  async createGateway(siteId: string, name: string): Promise<{ id: string; bundle: string }> {
    const r = await this.shownOnce(
      await this.submit(`/sites/${siteId}`, `/sites/${siteId}/gateways`, { name }),
    );
    const id = r.html.match(/href="\/gateways\/([0-9a-f-]{36})"/)?.[1];
    const data = r.html.match(/href="data:application\/jose;base64,([A-Za-z0-9+/=]+)"/)?.[1];
    if (!id || !data) throw new Error(`gateway page without id or bundle: ${messageOf(r.html)}`);
    return { id, bundle: Buffer.from(data, "base64").toString("utf8") };
  }

  async createMachine(gatewayId: string, name: string, lanAddress: string): Promise<string> {
    const r = await this.submit(`/gateways/${gatewayId}`, `/gateways/${gatewayId}/machines`, {
      name,
      lanAddress,
    });
    return PortalClient.idFrom(r.location, "machines");
  }

  async createService(
    machineId: string,
    service: { name: string; protocol: "tcp" | "udp"; port: number; enabled: boolean },
  ): Promise<void> {
    await this.submit(`/machines/${machineId}`, `/machines/${machineId}/services`, {
      name: service.name,
      protocol: service.protocol,
      port: String(service.port),
      ...(service.enabled ? { enabled: "on" } : {}),
    });
  }

  /** Sets the mode of the machine's service named `name` ("full" or "modbus-read-only"). */
  async setServiceMode(machineId: string, name: string, mode: string): Promise<void> {
    const html = await this.page(`/machines/${machineId}`);
    const rows = html.split('<tr id="service-').slice(1);
    const row = rows.find((r) => r.includes(`<td>${name}</td>`));
    const id = row?.match(/^([0-9a-f-]{36})"/)?.[1];
    if (!id) throw new Error(`no service ${name} on machine ${machineId}`);
    const r = await this.request("POST", `/services/${id}/mode`, { mode });
    if (r.status !== 303) throw new Error(`service mode: ${r.status} ${messageOf(r.html)}`);
  }

  /** Creates a user with a role for a customer; returns the user's one-time password. */
  async createUser(
    username: string,
    displayName: string,
    role: string,
    customerId: string | null,
  ): Promise<string> {
    const r = await this.shownOnce(
      await this.submit("/users", "/users", { username, displayName }),
    );
    const password = r.html.match(/<div class="secret">([^<]+)<\/div>/)?.[1];
    const userId = r.html.match(/href="\/users\/([0-9a-f-]{36})"/)?.[1];
    if (!password || !userId) throw new Error(`user page without password: ${messageOf(r.html)}`);
    await this.submit(`/users/${userId}`, `/users/${userId}/roles`, {
      role,
      customerId: customerId ?? "",
    });
    return password;
  }

  /** Ends the newest open remote session shown on the sessions page (technician or admin). */
  async disconnectNewestSession(): Promise<string> {
    const html = await this.page("/sessions");
    const id = html.match(/action="\/sessions\/([0-9a-f-]{36})\/disconnect"/)?.[1];
    if (!id) throw new Error("no open session to disconnect");
    const r = await this.request("POST", `/sessions/${id}/disconnect`, {});
    if (r.status !== 303) throw new Error(`Disconnect: ${r.status} ${messageOf(r.html)}`);
    return id;
  }

  /** A technician's Connect: the one-time .ovpn offered on the answer page. */

  /** Connect on a machine; `extra` adds form fields (a corporate proxy: proxyHost, proxyPort). */
  async connect(
    machineId: string,
    reason: string,
    extra: Record<string, string> = {},
  ): Promise<string> {
    await this.page(`/machines/${machineId}`);
    const r = await this.shownOnce(
      await this.request("POST", `/machines/${machineId}/connect`, { reason, ...extra }),
    );
    if (r.status !== 200) throw new Error(`Connect: ${r.status} ${messageOf(r.html)}`);
    const data = r.html.match(
      /href="data:application\/x-openvpn-profile;base64,([A-Za-z0-9+/=]+)"/,
    )?.[1];
    if (!data) throw new Error("no .ovpn on the Connect page");
    return Buffer.from(data, "base64").toString("utf8");
  }
}

/**
 * A technician's Connect where the site's consent policy asks for approval: the request's id (the
 * answer redirects to /requests/<id>). `extra` adds form fields (minutes, ticket, services).
 */
export async function requestAccess(
  portal: PortalClient,
  machineId: string,
  reason: string,
  extra: Record<string, string> = {},
): Promise<string> {
  await portal.page(`/machines/${machineId}`);
  const r = await portal.request("POST", `/machines/${machineId}/connect`, { reason, ...extra });
  const id = r.location?.match(/\/requests\/([0-9a-f-]{36})$/)?.[1];
  if (r.status !== 303 || !id) throw new Error(`Request access: ${r.status} ${messageOf(r.html)}`);
  return id;
}

/**
 * The one-time .ovpn of an approved request, or the portal's refusal (status and message) while
 * it waits, after a denial or an expiry.
 */
export async function requestProfile(
  portal: PortalClient,
  id: string,
): Promise<{ profile: string } | { status: number; message: string }> {
  await portal.page(`/requests/${id}`);
  const r = await portal.shownOnce(await portal.request("POST", `/requests/${id}/profile`, {}));
  const data = r.html.match(
    /href="data:application\/x-openvpn-profile;base64,([A-Za-z0-9+/=]+)"/,
  )?.[1];
  if (r.status !== 200 || !data) return { status: r.status, message: messageOf(r.html) };
  return { profile: Buffer.from(data, "base64").toString("utf8") };
}

/** A site's consent policy, set on the site page (customer admins, platform admins). */
export async function setConsentPolicy(
  portal: PortalClient,
  siteId: string,
  consentPolicy: string,
  requestExpiryMinutes = 10,
): Promise<void> {
  await portal.submit(`/sites/${siteId}`, `/sites/${siteId}/consent`, {
    consentPolicy,
    maxSessionMinutes: "120",
    requestExpiryMinutes: String(requestExpiryMinutes),
  });
}

/** A customer approver's Allow or Deny on Sessions: the answer's status and where it leads. */
export async function decideInPortal(portal: PortalClient, id: string, verb: "approve" | "deny") {
  await portal.page("/sessions");
  const r = await portal.request("POST", `/requests/${id}/${verb}`, {});
  return { status: r.status, location: r.location, message: messageOf(r.html) };
}

/** The error message a portal page shows, for test failures. */
function messageOf(html: string): string {
  return (
    html.match(/class="notice error"[^>]*>([^<]+)</)?.[1] ??
    html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ")
  ).slice(0, 300);
}
