// A workspace opened in headless Chromium through the relay to a real Xvnc: the Open page's noVNC
// canvas shows the desktop (not blank), and the recording of that connection plays back in the
// Recordings player with a desktop on its canvas too.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { browserSkipReason } from "@meetpoint/lab";
import type { Browser, Page } from "playwright-core";
import { prerequisite } from "../../common/test/support/prerequisite.ts";
import { tlsCertificate } from "../../lab/idp/provider.ts";
import { workspaceRecordings } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { HttpsListener } from "../src/web/index.ts";
import { databaseDisplays, grantAccess, recordRunning, VncRelay } from "../src/workspaces/index.ts";
import { arrangeMachine } from "./support/arrange.ts";
import { launchChromium, personAt, signIn } from "./support/chromium.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { firstSignIn } from "./support/portal.ts";
import { freePort } from "./support/rsyslog.ts";
import { arrangeWorkspace } from "./support/workspace.ts";
import { startXvnc, type Xvnc, xvncMissing } from "./support/xvnc.ts";

const skip = prerequisite("the noVNC browser tests", browserSkipReason() ?? xvncMissing());

/** How many distinct colours the noVNC canvas on `page` shows (1: blank). */
function canvasColours(page: Page): Promise<number> {
  return page.evaluate(() => {
    const canvas = document.querySelector("#vnc-screen canvas") as HTMLCanvasElement | null;
    if (!canvas || canvas.width === 0) return 0;
    const ctx = canvas.getContext("2d");
    if (!ctx) return 0;
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < data.length && seen.size < 10; i += 4)
      seen.add(((data[i] ?? 0) << 16) | ((data[i + 1] ?? 0) << 8) | (data[i + 2] ?? 0));
    return seen.size;
  });
}

describe.skipIf(skip !== null)("a workspace in Chromium", () => {
  let p: TestPlatform;
  let relay: VncRelay;
  let listener: HttpsListener;
  let xvnc: Xvnc;
  let browser: Browser;
  let recordingsDir: string;
  let portal: string;
  let workspaceId: string;
  let technician: { username: string; password: string; totpKey: string };
  let auditor: { username: string; password: string; totpKey: string };

  beforeAll(async () => {
    recordingsDir = mkdtempSync(join(tmpdir(), "meetpoint-recordings-"));
    const port = await freePort();
    portal = `https://127.0.0.1:${port}`;
    p = await testPlatform({
      extraDeps: ({ db, clock, pki }) => {
        relay = new VncRelay({ db, clock, displays: databaseDisplays(db, pki), recordingsDir });
        // The relay checks Origin against the public URL: here, where Chromium browses.
        return { workspaceRelay: relay, enrollment: { platformUrl: portal, validMs: 86_400_000 } };
      },
    });
    const scene = await arrangeMachine(p, []);
    const admin2 = await createUser(p.adminCtx, { username: "admin2", displayName: "Admin 2" });
    await grantRole(p.adminCtx, admin2.user.id, { role: "platform_admin", customerId: "" });
    workspaceId = (await arrangeWorkspace(p, scene, admin2.user.id)).workspaceId;
    const u = await createUser(p.adminCtx, { username: "viewer", displayName: "Viewer" });
    await grantRole(p.adminCtx, u.user.id, { role: "technician", customerId: scene.customerId });
    await grantAccess(p.adminCtx, workspaceId, { userId: u.user.id });
    const first = await firstSignIn(p.app, p.database.db, p.clock, "viewer", u.password);
    technician = { username: "viewer", password: first.password, totpKey: first.totpKey };
    const a = await createUser(p.adminCtx, { username: "auditor", displayName: "Auditor" });
    await grantRole(p.adminCtx, a.user.id, { role: "auditor", customerId: "" });
    const af = await firstSignIn(p.app, p.database.db, p.clock, "auditor", a.password);
    auditor = { username: "auditor", password: af.password, totpKey: af.totpKey };
    const tls = tlsCertificate("127.0.0.1");
    listener = new HttpsListener(
      {
        port,
        hostname: "127.0.0.1",
        idleTimeout: 30,
        fetch: p.app.fetch,
        websocket: relay.websocket,
      },
      { cert: tls.cert, key: tls.key },
      () => {},
    );
    xvnc = await startXvnc();
    await recordRunning(p.database.db, p.clock, p.pki, {
      workspaceId,
      host: "127.0.0.1",
      port: xvnc.port,
      password: xvnc.password,
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    listener?.stop();
    await xvnc?.stop();
    await p?.dispose();
    rmSync(recordingsDir, { recursive: true, force: true });
  });

  test("Open shows the desktop; its recording plays back in the portal", async () => {
    const problems: string[] = [];
    const { context, page } = await personAt(browser, 1280, problems);
    await signIn(page, p, portal, technician);
    await page.goto(`${portal}/workspaces/${workspaceId}/open`);
    await page.waitForSelector('#vnc-screen[data-state="connected"]', { timeout: 15_000 });
    await page.waitForFunction(
      () => {
        const c = document.querySelector("#vnc-screen canvas") as HTMLCanvasElement | null;
        return c !== null && c.width === 320;
      },
      null,
      { timeout: 15_000 },
    );
    const deadline = Date.now() + 15_000;
    let colours = await canvasColours(page);
    while (colours < 2 && Date.now() < deadline) {
      await Bun.sleep(100);
      colours = await canvasColours(page);
    }
    expect(colours).toBeGreaterThan(1);
    expect(await page.textContent("#vnc-status")).toContain("recorded");
    await page.goto(`${portal}/machines`); // leaving the page closes the connection
    let [recording] = await p.database.db.select().from(workspaceRecordings);
    while (!recording?.sha256 && Date.now() < deadline) {
      await Bun.sleep(50);
      [recording] = await p.database.db.select().from(workspaceRecordings);
    }
    if (!recording?.sha256) throw new Error("the recording was not closed");
    await context.close();

    // An auditor plays it back.
    const admin = await personAt(browser, 1280, problems);
    await signIn(admin.page, p, portal, auditor);
    await admin.page.goto(`${portal}/recordings/${recording.id}`);
    await admin.page.waitForSelector('#vnc-screen[data-state="played"]', { timeout: 30_000 });
    expect(await canvasColours(admin.page)).toBeGreaterThan(1);
    await admin.context.close();
    expect(problems).toEqual([]);
  });

  test("a noVNC module and the first WebSocket lost on the way (a network change) are tried again", async () => {
    const problems: string[] = [];
    const { context, page } = await personAt(browser, 1280, problems);
    await signIn(page, p, portal, technician);
    // What Chromium does to requests in flight when the computer's network changes.
    let aborted = 0;
    await page.route("**/assets/novnc/core/base64.js", (route) =>
      aborted++ === 0 ? route.abort("internetdisconnected") : route.continue(),
    );
    // The first WebSocket fails before it is up (as one cut by a network change would).
    // (A function constructor returning the real one: noVNC checks the object's own class.)
    await page.addInitScript({
      content: `{
        const Real = WebSocket;
        let made = 0;
        function Cutting(url, protocols) {
          return new Real(made++ === 0 ? String(url).replace(/\\/vnc$/, "/vnc-lost") : url, protocols);
        }
        Object.assign(Cutting, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
        Cutting.prototype = Real.prototype;
        window.WebSocket = Cutting;
      }`,
    });
    const sockets: string[] = [];
    page.on("websocket", (ws) => sockets.push(new URL(ws.url()).pathname.split("/").at(-1) ?? ""));
    await page.goto(`${portal}/workspaces/${workspaceId}/open`);
    await page.waitForSelector('#vnc-screen[data-state="connected"]', { timeout: 15_000 });
    expect(aborted).toBe(2);
    expect(sockets).toEqual(["vnc-lost", "vnc"]);
    expect(await page.textContent("#vnc-status")).toContain("recorded");
    await context.close();
    // The aborted module's and the lost WebSocket's console errors, nothing else.
    expect(
      problems.filter((line) => !/ERR_INTERNET_DISCONNECTED|vnc-lost|code: 1006/.test(line)),
    ).toEqual([]);
  });
});
