import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { auditEntries, users, webSessions } from "../src/db/index.ts";
import { createUser, grantRole, SIGN_IN_REFUSED, totpCode } from "../src/identity/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { Browser, firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
beforeAll(async () => {
  p = await testPlatform();
}, 60_000);
afterAll(() => p.dispose());

async function newUser(username: string) {
  const { user, password } = await createUser(p.adminCtx, { username, displayName: username });
  return { user, password };
}

describe("local sign-in", () => {
  test("bootstrap admin: one-time password → own password → TOTP enrolment → portal", async () => {
    const html = await p.admin.page("/machines");
    expect(html).toContain("<h1>Machines</h1>");
    const entries = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "sign_in"));
    expect(entries.some((e) => e.result === "ok" && e.actorName === "admin")).toBe(true);
  });

  test("without a session every portal page redirects to sign-in", async () => {
    const anonymous = new Browser(p.app);
    for (const path of ["/machines", "/customers", "/users", "/audit", "/audit/export.csv"]) {
      const response = await anonymous.get(path);
      expect(response.status).toBe(303);
      expect(response.headers.get("location")).toBe("/sign-in");
    }
    const htmx = await anonymous.get("/machines/rows", { "hx-request": "true" });
    expect(htmx.headers.get("hx-redirect")).toBe("/sign-in");
  });

  test("a stage page cannot be skipped: after the password only the TOTP page opens", async () => {
    const { password: oneTime } = await newUser("skipper");
    const { password } = await firstSignIn(p.app, p.database.db, p.clock, "skipper", oneTime);
    const browser = new Browser(p.app);
    await browser.get("/sign-in");
    const response = await browser.post("/sign-in", { username: "skipper", password });
    expect(response.headers.get("location")).toBe("/sign-in/totp");
    const machines = await browser.get("/machines");
    expect(machines.headers.get("location")).toBe("/sign-in/totp");
  });

  test("the session id changes at every sign-in step; the old cookie is worthless", async () => {
    const { password: oneTime } = await newUser("rotator");
    const { password, totpKey } = await firstSignIn(
      p.app,
      p.database.db,
      p.clock,
      "rotator",
      oneTime,
    );
    const browser = new Browser(p.app);
    await browser.get("/sign-in");
    await browser.post("/sign-in", { username: "rotator", password });
    const afterPassword = browser.cookie("__Host-meetpoint");
    p.clock.advance(30_000);
    await browser.get("/sign-in/totp");
    const response = await browser.post("/sign-in/totp", {
      code: totpCode(totpKey, p.clock.now()),
    });
    expect(response.headers.get("location")).toBe("/");
    const afterTotp = browser.cookie("__Host-meetpoint");
    expect(afterTotp).toBeDefined();
    expect(afterTotp).not.toBe(afterPassword);

    const stale = new Browser(p.app);
    stale.setCookie("__Host-meetpoint", afterPassword ?? "");
    expect((await stale.get("/machines")).headers.get("location")).toBe("/sign-in");
  });

  test("a TOTP code works once", async () => {
    const { password: oneTime } = await newUser("replayer");
    const { password, totpKey } = await firstSignIn(
      p.app,
      p.database.db,
      p.clock,
      "replayer",
      oneTime,
    );
    p.clock.advance(90_000);
    const code = totpCode(totpKey, p.clock.now());
    const first = new Browser(p.app);
    await first.get("/sign-in");
    await first.post("/sign-in", { username: "replayer", password });
    await first.get("/sign-in/totp");
    expect((await first.post("/sign-in/totp", { code })).status).toBe(303);
    const second = new Browser(p.app);
    await second.get("/sign-in");
    await second.post("/sign-in", { username: "replayer", password });
    await second.get("/sign-in/totp");
    const replay = await second.post("/sign-in/totp", { code });
    expect(replay.status).toBe(401);
    expect(await replay.text()).toContain("Wrong or already used code.");
  });

  test("wrong passwords lock the account with growing back-off; all failures are audited", async () => {
    const { user, password } = await newUser("guesser");
    const browser = new Browser(p.app);
    await browser.get("/sign-in");
    for (let i = 0; i < 5; i++) {
      const r = await browser.post("/sign-in", {
        username: "guesser",
        password: "wrong-password-123",
      });
      expect(r.status).toBe(401);
      expect(await r.text()).toContain(SIGN_IN_REFUSED);
    }
    // Locked: even the right password is refused, with the same answer as a wrong one.
    const locked = await browser.post("/sign-in", { username: "guesser", password });
    expect(locked.status).toBe(401);
    expect(await locked.text()).toContain(SIGN_IN_REFUSED);
    p.clock.advance(31_000);
    const afterLock = await browser.post("/sign-in", { username: "guesser", password });
    expect(afterLock.status).toBe(303);

    const failed = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.targetId, user.id));
    expect(failed.filter((e) => e.action === "sign_in" && e.result === "failed")).toHaveLength(5);
    expect(failed.filter((e) => e.action === "sign_in" && e.result === "denied")).toHaveLength(1);
  });

  test("an unknown user gets the same answer; audited in the source's aggregate entry", async () => {
    const browser = new Browser(p.app, "198.18.77.1");
    await browser.get("/sign-in");
    const r = await browser.post("/sign-in", {
      username: "nobody-here",
      password: "whatever-it-is",
    });
    expect(r.status).toBe(401);
    expect(await r.text()).toContain(SIGN_IN_REFUSED);
    await p.authFailures.flush({ all: true });
    const [entry] = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.actorName, "sign-in client 198.18.77.1"));
    expect(entry?.action).toBe("sign_in.refused");
    expect(entry?.result).toBe("denied");
    expect(entry?.detail).toMatchObject({ failures: 1, names: ["nobody-here"] });
  });

  test("usernames are case-insensitive at sign-in, as the unique rule is", async () => {
    // Regression: "TINA" could not be created beside "tina" (409), yet "VICTIM2" could not sign in.
    const { password } = await newUser("victim2");
    const browser = new Browser(p.app, "198.18.77.2");
    await browser.get("/sign-in");
    const r = await browser.post("/sign-in", { username: " VICTIM2 ", password });
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/account/password");
  });

  test("a disabled user is signed out at the next request", async () => {
    const { user, password } = await newUser("leaver");
    await grantRole(p.adminCtx, user.id, { role: "auditor" });
    const { browser } = await firstSignIn(p.app, p.database.db, p.clock, "leaver", password);
    await p.admin.get(`/users/${user.id}`);
    expect((await p.admin.post(`/users/${user.id}/disable`)).status).toBe(303);
    expect((await browser.get("/audit")).headers.get("location")).toBe("/sign-in");
    const sessions = await p.database.db
      .select()
      .from(webSessions)
      .where(eq(webSessions.userId, user.id));
    expect(sessions).toHaveLength(0);
  });

  test("sign-out ends the server-side session", async () => {
    const { password } = await newUser("goer");
    const { browser } = await firstSignIn(p.app, p.database.db, p.clock, "goer", password);
    const cookie = browser.cookie("__Host-meetpoint") ?? "";
    expect((await browser.post("/sign-out")).headers.get("location")).toBe("/sign-in");
    const replay = new Browser(p.app);
    replay.setCookie("__Host-meetpoint", cookie);
    expect((await replay.get("/machines")).headers.get("location")).toBe("/sign-in");
  });

  test("a new password must be strong and new", async () => {
    const { password } = await newUser("weakling");
    const browser = new Browser(p.app);
    await browser.get("/sign-in");
    await browser.post("/sign-in", { username: "weakling", password });
    await browser.get("/account/password");
    // The whole rule is on the page before anything is typed.
    const form = await browser.page("/account/password");
    expect(form).toContain("<li>at least 12 and at most 256 characters</li>");
    expect(form).toContain("<li>not containing your username</li>");
    // Every broken part at once, beside the field: not one after the other.
    const short = await browser.post("/account/password", { current: password, next: "aaaa" });
    expect(short.status).toBe(400);
    expect(await short.text()).toContain(
      '<span class="field-error">New password has 4 characters: it needs at least 12; uses too few different characters: it needs at least 5.</span>',
    );
    const same = await browser.post("/account/password", { current: password, next: password });
    expect(await same.text()).toContain("is the current password");
    const [row] = await p.database.db.select().from(users).where(eq(users.username, "weakling"));
    expect(row?.mustChangePassword).toBe(true);
  });

  test("security headers are set on every answer", async () => {
    const response = await new Browser(p.app).get("/sign-in");
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(response.headers.get("strict-transport-security")).toContain("max-age=");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    const cookie = response.headers.getSetCookie().join(";");
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("Secure");
    expect(cookie).toContain("SameSite=Strict");
  });
  // Last: it moves the shared clock by hours, which ends every other session too.
  test("idle and absolute timeouts end the session", async () => {
    const { password: oneTime } = await newUser("sleeper");
    const { browser } = await firstSignIn(p.app, p.database.db, p.clock, "sleeper", oneTime);
    p.clock.advance(29 * 60_000);
    expect((await browser.get("/machines")).status).toBe(200);
    p.clock.advance(31 * 60_000);
    expect((await browser.get("/machines")).headers.get("location")).toBe("/sign-in");

    const again = await firstSignIn(
      p.app,
      p.database.db,
      p.clock,
      "sleeper2",
      (await newUser("sleeper2")).password,
    );
    for (let i = 0; i < 25; i++) {
      p.clock.advance(29 * 60_000);
      await again.browser.get("/machines");
    }
    expect((await again.browser.get("/machines")).headers.get("location")).toBe("/sign-in");
  });
});
