// The operator UI and the local consent API through app.request(): sign-in with the forced password
// change, back-off, CSRF, upload with its limits, Connect/Disconnect, diagnostics download.
import { afterEach, describe, expect, test } from "bun:test";
import { waitFor } from "@meetpoint/common";
import { handshake, REFUSED_PROBES } from "../../common/test/support/tls-probe.ts";
import { createUiApp } from "../src/ui/app.tsx";
import { OperatorAuth } from "../src/ui/auth.ts";
import { serveOperatorUi } from "../src/ui/serve.ts";
import { uiCertificate } from "../src/ui/tls.ts";
import { bundle, type TestAgent, testAgent } from "./support/fakes.ts";
import { Operator, signedIn, ui as uiOf } from "./support/operator.ts";

let t: TestAgent;
afterEach(() => t?.dispose());

/** A UI over a fresh test agent, disposed of after the test. */
async function ui(enrolled = true) {
  const made = await uiOf(enrolled);
  t = made.t;
  return made;
}

describe("operator UI", () => {
  test("the initial password must be replaced before anything else, and never comes back", async () => {
    const { app } = await ui();
    const op = new Operator(app);
    expect((await op.request("GET", "/")).location).toBe("/sign-in");
    expect((await op.request("POST", "/sign-in", { password: "meetpoint" })).location).toBe(
      "/password",
    );
    expect((await op.request("GET", "/")).location).toBe("/password");
    expect((await op.request("GET", "/api/local/v1/state")).status).toBe(401);
    await op.request("GET", "/password");
    expect(
      (await op.request("POST", "/password", { current: "meetpoint", next: "meetpoint" })).html,
    ).toContain("not used before");
    // One rule for every Meetpoint account, listed before anything is typed; every broken part named.
    const page = (await op.request("GET", "/password")).html;
    expect(page).toContain("<li>at least 12 and at most 256 characters</li>");
    const short = await op.request("POST", "/password", { current: "meetpoint", next: "aaaa" });
    expect(short.html).toContain(
      'id="next-error">The new password has 4 characters: it needs at least 12; uses too few different characters: it needs at least 5.</p>',
    );
    const before = op.cookie;
    expect(
      (await op.request("POST", "/password", { current: "meetpoint", next: "First-passw0rd" }))
        .location,
    ).toBe("/");
    expect(op.cookie).not.toBe(before);
    expect((await op.request("GET", "/")).html).toContain("Remote access off");
    await op.request("GET", "/password");
    expect(
      (
        await op.request("POST", "/password", {
          current: "First-passw0rd",
          next: "Second-passw0rd",
        })
      ).location,
    ).toBe("/");
    await op.request("GET", "/password");
    const again = await op.request("POST", "/password", {
      current: "Second-passw0rd",
      next: "First-passw0rd",
    });
    expect(again.status).toBe(400);
    expect(again.html).toContain("not used before");
    // The initial password no longer signs in.
    expect(
      (
        await new Operator(app, "192.168.0.51").request("POST", "/sign-in", {
          password: "meetpoint",
        })
      ).status,
    ).toBe(401);
  });

  test("wrong passwords: three free tries, then the client waits, doubling", async () => {
    const { app } = await ui();
    const op = new Operator(app, "192.168.0.66");
    for (let i = 0; i < 3; i++)
      expect((await op.request("POST", "/sign-in", { password: "guess" })).status).toBe(401);
    const fourth = await op.request("POST", "/sign-in", { password: "guess" });
    expect(fourth.status).toBe(401);
    const blocked = await op.request("POST", "/sign-in", { password: "meetpoint" });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("retry-after")).toBe("2");
    expect(blocked.html).toContain("Too many wrong passwords");
    // Another client on the LAN is not blocked.
    expect(
      (
        await new Operator(app, "192.168.0.67").request("POST", "/sign-in", {
          password: "meetpoint",
        })
      ).status,
    ).toBe(303);
  });

  test("50 parallel wrong passwords from one client: four are checked, the rest must wait", async () => {
    const { app } = await ui();
    const guesser = new Operator(app, "192.168.0.77");
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        guesser.request("POST", "/sign-in", { password: `guess-${i}` }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    // Three free tries, the fourth starts the wait; nothing else reached the password check.
    expect(statuses.filter((s) => s === 401)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(46);
    for (const a of answers.filter((a) => a.status === 429))
      expect(a.headers.get("retry-after")).toBe("2");
    const right = await guesser.request("POST", "/sign-in", { password: "meetpoint" });
    expect(right.status).toBe(429);
  });

  test("a malformed multipart body is refused with 400, signed in or not", async () => {
    const { app } = await ui(false);
    const broken = (op: Operator, path: string) =>
      app.request(
        `https://gateway${path}`,
        {
          method: "POST",
          headers: {
            "content-type": "multipart/form-data; boundary=x",
            "x-csrf-token": op.csrf,
            cookie: op.cookie,
          },
          body: "x",
        },
        { clientIp: op.ip },
      );
    const stranger = new Operator(app);
    for (const type of ["multipart/form-data", "multipart/form-data; boundary=x"]) {
      const response = await app.request(
        "https://gateway/sign-in",
        { method: "POST", headers: { "content-type": type }, body: "x" },
        { clientIp: "192.168.0.90" },
      );
      expect(response.status).toBe(400);
      expect(await response.text()).toContain("The form could not be read");
    }
    expect((await broken(stranger, "/enrollment")).status).toBe(400);
    const op = await signedIn(app);
    await op.request("GET", "/enrollment");
    expect((await broken(op, "/enrollment")).status).toBe(400);
    expect(t.agent.enrollment).toBeNull();
  });

  test("POSTs without the session's CSRF token are refused", async () => {
    const { app } = await ui();
    const op = await signedIn(app);
    op.csrf = "forged";
    const refused = await op.request("POST", "/connect", {});
    expect(refused.status).toBe(403);
    expect(t.agent.status.state).toBe("idle");
  });

  test("Connect and Disconnect from the big buttons; the live panel shows the state", async () => {
    const { app } = await ui();
    const op = await signedIn(app);
    expect((await op.request("POST", "/connect", {})).location).toBe("/");
    await waitFor(() => t.agent.status.state === "online", { timeoutMs: 2000, intervalMs: 5 });
    const panel = await op.request("GET", "/status", undefined, { "hx-request": "true" });
    expect(panel.html).toContain('data-state="online"');
    expect(panel.html).toContain("Online — remote access allowed");
    expect(panel.html).toContain("Allowed via operator UI");
    await op.request("POST", "/disconnect", {});
    expect(t.agent.status.state).toBe("idle");
    expect(t.control.disconnects).toBe(1);
  });

  test("upload: a good bundle enrolls, a bad one is rejected with its reason, a huge one gets 413", async () => {
    const { app } = await ui(false);
    const op = await signedIn(app);
    expect(op.html).toContain("Not enrolled yet");
    await op.request("GET", "/enrollment");
    const upload = (text: string) => {
      const form = new FormData();
      form.set("_csrf", op.csrf);
      form.set("bundle", new File([text], "bundle.jws"));
      return op.request("POST", "/enrollment", form);
    };
    const bad = await upload("eyJhbGciOiJub25lIn0.e30.");
    expect(bad.status).toBe(400);
    expect(bad.html).toContain("Rejected: malformed");
    expect(t.agent.enrollment).toBeNull();
    expect((await upload("x".repeat(100_000))).status).toBe(413);
    // A good bundle is shown first — gateway, site, customer — and imported only when confirmed.
    const token = await bundle(t.keys, t.gatewayId, {
      names: { gatewayName: "Hall 3 line A", siteName: "Plant Freiburg", customerName: "ACME" },
    });
    const checked = await upload(token);
    expect(checked.status).toBe(200);
    expect(checked.html).toContain("Check before importing");
    expect(checked.html).toMatch(/<dt>Gateway<\/dt><dd>Hall 3 line A<\/dd>/);
    expect(checked.html).toMatch(/<dt>Site<\/dt><dd>Plant Freiburg<\/dd>/);
    expect(checked.html).toMatch(/<dt>Customer<\/dt><dd>ACME<\/dd>/);
    expect(t.agent.enrollment).toBeNull();
    const id = checked.html.match(/name="id" value="([^"]+)"/)?.[1] ?? "";
    const good = await op.request("POST", "/enrollment/confirm", { id });
    expect(good.status).toBe(200);
    expect(good.html).toContain(
      `Imported: this gateway is now Hall 3 line A at site Plant Freiburg of ACME (gateway ${t.gatewayId}`,
    );
    expect(t.agent.enrollment?.body.gatewayId).toBe(t.gatewayId);
    // The page shows the names after the import too.
    expect((await op.request("GET", "/enrollment")).html).toMatch(
      /<dt>Gateway<\/dt><dd>Hall 3 line A<\/dd>/,
    );
    // Regression: the bundle in use, uploaded again, said "rollback refused".
    const again = await upload(token);
    expect(again.status).toBe(200);
    expect(again.html).toContain("Nothing to do: this is the bundle already in use");
    expect(again.html).not.toContain("rollback");
    // A confirmation whose bundle no longer waits imports nothing.
    expect((await op.request("POST", "/enrollment/confirm", { id })).status).toBe(400);
  });

  test("local consent API: closed until a token exists; the token drives Connect and Disconnect", async () => {
    const { app } = await ui();
    const op = await signedIn(app);
    const api = (method: string, path: string, token: string) =>
      app.request(`https://gateway/api/local/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await api("GET", "/state", "anything")).status).toBe(401);
    await op.request("GET", "/settings");
    // POST → 303 → the token on a GET, once; a reload says it was shown and makes no new one.
    const made = await op.request("POST", "/settings/api-token", {});
    expect(made.status).toBe(303);
    const shown = await op.request("GET", made.location ?? "");
    expect(shown.headers.get("cache-control")).toBe("no-store");
    const token = shown.html.match(/id="api-token">([^<]+)</)?.[1] ?? "";
    expect(token.length).toBeGreaterThan(20);
    const reload = await op.request("GET", made.location ?? "");
    expect(reload.html).toContain("You saw this token once");
    expect(reload.html).not.toContain(token);
    expect((await api("GET", "/state", "wrong")).status).toBe(401);
    expect(await (await api("GET", "/state", token)).json()).toMatchObject({
      state: "idle",
      remoteSessionActive: false,
    });
    expect((await api("POST", "/connect", token)).status).toBe(200);
    await waitFor(() => t.agent.status.state === "online", { timeoutMs: 2000, intervalMs: 5 });
    expect(t.agent.status.armedBy).toBe("local API");
    expect(await (await api("POST", "/disconnect", token)).json()).toMatchObject({ state: "idle" });
  });

  test("demo mode says on every page, before and after sign-in, that the gateway protects nothing", async () => {
    t = await testAgent();
    const app = createUiApp({
      agent: t.agent,
      auth: new OperatorAuth(t.store, "meetpoint"),
      events: t.events,
      diagnostics: async () => [],
      demo: true,
    });
    const op = new Operator(app);
    expect((await op.request("GET", "/sign-in")).html).toContain(
      'id="demo-banner">DEMO MODE — this gateway protects nothing',
    );
    const signed = await signedIn(app);
    for (const path of ["/", "/enrollment", "/diagnostics", "/events", "/settings"])
      expect((await signed.request("GET", path)).html).toContain('id="demo-banner"');
    expect(await (await app.request("https://gateway/healthz")).json()).toMatchObject({
      demo: true,
    });
  });

  test("every answer carries the strict headers; only assets may be cached", async () => {
    const { app } = await ui();
    for (const path of ["/sign-in", "/", "/api/local/v1/state", "/healthz"]) {
      const { headers } = await new Operator(app).request("GET", path);
      expect(headers.get("content-security-policy")).toBe(
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
      );
      expect(headers.get("strict-transport-security")).toBe("max-age=31536000");
      expect(headers.get("x-content-type-options")).toBe("nosniff");
      expect(headers.get("referrer-policy")).toBe("no-referrer");
      expect(headers.get("cache-control")).toBe("no-store");
    }
    const css = await new Operator(app).request("GET", "/assets/ui.css");
    expect(css.headers.get("cache-control")).toBe("public, max-age=3600");
    expect(css.headers.get("content-security-policy")).toContain("default-src 'self'");
  });

  test("HTTPS: TLS 1.3 and TLS 1.2 AEAD suites only (openssl s_client against the served UI)", async () => {
    const { app } = await ui();
    const server = serveOperatorUi(app, {
      hostname: "127.0.0.1",
      port: 0,
      certificate: await uiCertificate(t.dir),
    });
    const port = server.port ?? 0;
    try {
      expect((await handshake(port, "-tls1_3")).protocol).toBe("TLSv1.3");
      for (const suite of ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"])
        expect((await handshake(port, "-tls1_2", suite)).cipher).toBe(suite);
      for (const [version, suite] of REFUSED_PROBES)
        expect(`${version} ${suite} → ${(await handshake(port, version, suite)).cipher}`).toBe(
          `${version} ${suite} → null`,
        );
    } finally {
      server.stop(true);
    }
  });

  test("nothing kept by the browser: no htmx history cache, and sign-out clears cache and storage", async () => {
    const { app } = await ui();
    const op = await signedIn(app);
    const config = JSON.parse(
      (op.html.match(/name="htmx-config" content="([^"]+)"/)?.[1] ?? "{}").replaceAll(
        "&quot;",
        '"',
      ),
    );
    expect(config).toMatchObject({ historyCacheSize: 0, refreshOnHistoryMiss: true });
    const out = await op.request("POST", "/sign-out", {});
    expect(out.location).toBe("/sign-in");
    expect(out.headers.get("clear-site-data")).toBe('"cache", "storage"');
  });

  test("diagnostics: a page and a text download, each line with a verdict", async () => {
    const { app } = await ui();
    const op = await signedIn(app);
    // The page answers before the checks end; the live part follows them until done.
    await op.request("GET", "/diagnostics");
    let live = "";
    await waitFor(
      async () => {
        live = (
          await op.request("GET", "/diagnostics/progress", undefined, { "hx-request": "true" })
        ).html;
        return live.includes('data-done="true"');
      },
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    expect(live).toContain("WAN interface eth0");
    expect(live).toContain("LAN interface eth1");
    // One verdict first: the blocking cause and who must act.
    expect(live).toContain(
      '<p class="headline">Blocked: LAN interface eth1 — not present</p><p>Plant IT must act:',
    );
    const text = await op.request("GET", "/diagnostics.txt");
    expect(text.headers.get("content-disposition")).toContain("meetpoint-gateway-diagnostics.txt");
    expect(text.html).toContain("Verdict: Blocked: LAN interface eth1 — not present");
    expect(text.html).toContain("[OK  ] Enrollment");
    expect(text.html).toContain("[FAIL] LAN interface eth1");
    expect(text.html).toContain("[WARN] Default route");
    expect(text.html).toContain("leads into the machine LAN");
    expect(text.html).toMatch(/\[FAIL\] DNS platform\.lab\.test|\[OK {2}\] DNS/);
  });
});
