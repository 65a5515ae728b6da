// Secrets shown once, and nothing of the portal kept by the browser. Regressions: the page with a
// new user's password (or a gateway's secret and bundle) was the POST's own answer — reloading it
// hit the POST route (404) and the bundle was gone, while htmx's history cache kept the page for
// Back after sign-out; portal pages sent no Cache-Control: no-store.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { count } from "drizzle-orm";
import { oneTimeReveals } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { REVEAL_TTL_MS } from "../src/web/reveals.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
let scene: Scene;

beforeAll(async () => {
  p = await testPlatform();
  scene = await arrangeMachine(p, [{ name: "Web UI", protocol: "tcp", port: 443, enabled: true }]);
}, 60_000);
afterAll(() => p.dispose());

/** Another platform admin, signed in in a browser of their own. */
async function secondAdmin(username: string) {
  const { user, password } = await createUser(p.adminCtx, { username, displayName: username });
  await grantRole(p.adminCtx, user.id, { role: "platform_admin" });
  return (await firstSignIn(p.app, p.database.db, p.clock, username, password)).browser;
}

async function reveals(): Promise<number> {
  const [row] = await p.database.db.select({ n: count() }).from(oneTimeReveals);
  return row?.n ?? 0;
}

describe("a secret is shown once, on a GET after the POST", () => {
  test("new user: POST → 303 → the password once, no-store; reload says it was shown", async () => {
    await p.admin.get("/users");
    const posted = await p.admin.post("/users", { username: "once-1", displayName: "Once" });
    expect(posted.status).toBe(303);
    const address = posted.headers.get("location") ?? "";
    expect(address).toMatch(/^\/once\/[0-9a-f-]{36}$/);
    const first = await p.admin.get(address);
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    const html = await first.text();
    const password = html.match(/<div class="secret">([^<]+)<\/div>/)?.[1] ?? "";
    expect(password).toHaveLength(20);
    expect(html).toContain('hx-history="false"');
    const again = await p.admin.get(address);
    expect(again.status).toBe(410);
    const text = await again.text();
    expect(text).toContain("You saw this once");
    expect(text).not.toContain(password);
  });

  test("gateway re-key: secret and bundle once; the address is not another session's", async () => {
    const other = await secondAdmin("other-admin");
    await p.admin.get(`/gateways/${scene.gatewayId}`);
    const posted = await p.admin.post(`/gateways/${scene.gatewayId}/rekey`);
    const address = posted.headers.get("location") ?? "";
    // Another admin's browser gets nothing from the address, and does not spend it.
    expect((await other.get(address)).status).toBe(410);
    const shown = await p.admin.get(address);
    expect(shown.status).toBe(200);
    expect(await shown.text()).toContain("data:application/jose;base64,");
    expect((await p.admin.get(address)).status).toBe(410);
  });

  test("a secret nobody came for expires; sign-out deletes the session's secrets", async () => {
    await p.admin.get("/users");
    const late = (await p.admin.post("/users", { username: "once-2", displayName: "Late" }))
      .headers;
    p.clock.advance(REVEAL_TTL_MS + 1000);
    expect((await p.admin.get(late.get("location") ?? "")).status).toBe(410);

    const browser = await secondAdmin("leaver-admin");
    await browser.get("/users");
    const unseen = await browser.post("/users", { username: "once-3", displayName: "Unseen" });
    expect(unseen.status).toBe(303);
    const kept = await reveals();
    expect(kept).toBeGreaterThan(0);
    const out = await browser.post("/sign-out");
    expect(out.headers.get("clear-site-data")).toBe('"cache", "storage"');
    expect(await reveals()).toBe(kept - 1);
  });
});

describe("nothing of the portal is kept by the browser", () => {
  test("every page and fragment a signed-in user gets: Cache-Control: no-store", async () => {
    const pages = [
      "/machines",
      "/machines/rows",
      `/machines/${scene.machineId}`,
      "/customers",
      `/gateways/${scene.gatewayId}`,
      "/users",
      "/sessions",
      "/identity-providers",
      "/audit",
      "/pki",
      "/status",
      "/account/password",
      "/no-such-page",
      "/sign-in",
    ];
    for (const page of pages) {
      const response = await p.admin.get(page, { "hx-request": "true" });
      expect(`${page} ${response.headers.get("cache-control")}`).toBe(`${page} no-store`);
    }
    const css = await p.admin.get("/assets/app.css");
    expect(css.headers.get("cache-control")).toBe("public, max-age=3600");
  });

  test("a refused htmx POST leaves the address as it was (HX-Push-Url: false)", async () => {
    await p.admin.get("/customers");
    const refused = await p.admin.post(
      "/customers",
      { name: "" },
      { "hx-request": "true", "hx-boosted": "true" },
    );
    expect(refused.status).toBe(400);
    expect(refused.headers.get("hx-push-url")).toBe("false");
  });

  test("the page frame turns htmx's history cache off", async () => {
    const html = await p.admin.page("/machines");
    const config = JSON.parse(
      (html.match(/name="htmx-config" content="([^"]+)"/)?.[1] ?? "{}").replaceAll("&quot;", '"'),
    );
    expect(config).toMatchObject({ historyCacheSize: 0, refreshOnHistoryMiss: true });
  });
});
