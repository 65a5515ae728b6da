// The browser relay to a workspace's desktop, through the real HTTPS listener against a real
// TigerVNC server (Xvnc with VncAuth): every refusal before the upgrade (no session 401, foreign
// Origin 403, no second factor 403, no grant or unknown workspace 404, not running 409, a second
// viewer 409 naming the first), then a viewer's RFB None handshake and a framebuffer update, the
// recording's SHA-256 equal to its audit entry's, and the retention job deleting it, audited.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { connect } from "node:tls";
import { desc, eq } from "drizzle-orm";
import { prerequisite } from "../../common/test/support/prerequisite.ts";
import { auditEntries, webSessions, workspaceRecordings } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { auditSigner, RetentionSchedule } from "../src/retention/index.ts";
import { HttpsListener } from "../src/web/index.ts";
import { SESSION_COOKIE } from "../src/web/middleware.ts";
import {
  databaseDisplays,
  grantAccess,
  parseRecording,
  recordingPath,
  recordRunning,
  recordStopped,
  revokeAccess,
  STALE_MS,
  VncRelay,
  viewerCheck,
} from "../src/workspaces/index.ts";
import { arrangeMachine } from "./support/arrange.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type Browser, firstSignIn } from "./support/portal.ts";
import { type TlsFiles, tlsFiles } from "./support/tls-files.ts";
import { arrangeWorkspace } from "./support/workspace.ts";
import { startXvnc, type Xvnc, xvncMissing } from "./support/xvnc.ts";

const missing = prerequisite("the workspace relay tests", xvncMissing());

const ORIGIN = "https://platform.lab.test";
let p: TestPlatform;
let relay: VncRelay;
let files: TlsFiles;
let listener: HttpsListener;
let xvnc: Xvnc | null = null;
let recordingsDir: string;
let workspaceId: string;
let viewer: Browser;
let stranger: Browser;
let ownAdmin: Browser;
let foreignAdmin: Browser;
let ownCustomerId: string;

async function signIn(username: string, grant: Parameters<typeof grantRole>[2]) {
  const u = await createUser(p.adminCtx, { username, displayName: username.toUpperCase() });
  await grantRole(p.adminCtx, u.user.id, grant);
  const { browser } = await firstSignIn(p.app, p.database.db, p.clock, username, u.password);
  return { browser, userId: u.user.id };
}

const cookieOf = (b: Browser) => `${SESSION_COOKIE}=${b.cookie(SESSION_COOKIE)}`;

/** A WebSocket upgrade request over TLS; the status line and body of the answer. */
function upgrade(path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: listener.port, rejectUnauthorized: false });
    let text = "";
    socket.on("secureConnect", () => {
      const lines = [
        `GET ${path} HTTP/1.1`,
        "Host: platform.lab.test",
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        `Sec-WebSocket-Key: ${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64")}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ];
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    });
    socket.on("data", (d) => {
      text += d.toString("latin1");
      const head = text.indexOf("\r\n\r\n");
      if (head < 0) return;
      const status = Number(text.slice(9, 12));
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
      if (status === 101 || text.length - head - 4 >= length) {
        socket.destroy();
        resolve({ status, body: text.slice(head + 4) });
      }
    });
    socket.on("error", reject);
  });
}

/** A viewer's WebSocket with a byte queue to read the RFB conversation from. */
async function openViewer(b: Browser) {
  const ws = new WebSocket(`wss://127.0.0.1:${listener.port}/workspaces/${workspaceId}/vnc`, {
    headers: { Cookie: cookieOf(b), Origin: ORIGIN },
    tls: { rejectUnauthorized: false },
  } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  let buffer = new Uint8Array(0);
  let closed = "";
  ws.onmessage = (e) => {
    const chunk = new Uint8Array(e.data as ArrayBuffer);
    const joined = new Uint8Array(buffer.length + chunk.length);
    joined.set(buffer);
    joined.set(chunk, buffer.length);
    buffer = joined;
  };
  ws.onclose = (e) => {
    closed = `${e.code} ${e.reason}`;
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`WebSocket failed ${closed}`));
  });
  return {
    ws,
    async read(n: number): Promise<Uint8Array> {
      const deadline = Date.now() + 10_000;
      while (buffer.length < n) {
        if (closed) throw new Error(`closed: ${closed}`);
        if (Date.now() > deadline) throw new Error(`waited for ${n} bytes, have ${buffer.length}`);
        await Bun.sleep(10);
      }
      const out = buffer.slice(0, n);
      buffer = buffer.slice(n);
      return out;
    },
  };
}

beforeAll(async () => {
  recordingsDir = mkdtempSync(join(tmpdir(), "meetpoint-recordings-"));
  p = await testPlatform({
    extraDeps: ({ db, clock, pki }) => {
      const displays = databaseDisplays(db, pki);
      const session = { idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000 };
      relay = new VncRelay({
        db,
        clock,
        displays,
        recordingsDir,
        check: viewerCheck({ db, clock, session, displays }),
      });
      return { workspaceRelay: relay };
    },
  });
  const scene = await arrangeMachine(p, []);
  const admin2 = await createUser(p.adminCtx, { username: "admin2", displayName: "Admin 2" });
  await grantRole(p.adminCtx, admin2.user.id, { role: "platform_admin", customerId: "" });
  workspaceId = (await arrangeWorkspace(p, scene, admin2.user.id)).workspaceId;
  ownCustomerId = scene.customerId;
  const v = await signIn("viewer", { role: "technician", customerId: scene.customerId });
  await grantAccess(p.adminCtx, workspaceId, { userId: v.userId });
  viewer = v.browser;
  stranger = (await signIn("stranger", { role: "technician", customerId: scene.customerId }))
    .browser;
  ownAdmin = (await signIn("ownadmin", { role: "customer_admin", customerId: scene.customerId }))
    .browser;
  const other = await createCustomer(p.adminCtx, { name: "Other" });
  foreignAdmin = (await signIn("foreignadmin", { role: "customer_admin", customerId: other.id }))
    .browser;
  files = await tlsFiles("relay");
  listener = new HttpsListener(
    {
      port: 0,
      hostname: "127.0.0.1",
      idleTimeout: 30,
      fetch: p.app.fetch,
      websocket: relay.websocket,
    },
    { cert: await Bun.file(files.cert).text(), key: await Bun.file(files.key).text() },
    () => {},
  );
  if (!missing) xvnc = await startXvnc();
});

afterAll(async () => {
  listener?.stop();
  await xvnc?.stop();
  files?.dispose();
  await p?.dispose();
  rmSync(recordingsDir, { recursive: true, force: true });
});

const path = () => `/workspaces/${workspaceId}/vnc`;

test("refused before the upgrade: no session, foreign Origin, no grant, unknown, not running", async () => {
  const noSession = await upgrade(path(), { Origin: ORIGIN });
  expect(noSession.status).toBe(401);
  const foreign = await upgrade(path(), {
    Origin: "https://evil.example",
    Cookie: cookieOf(viewer),
  });
  expect(foreign.status).toBe(403);
  expect(foreign.body).toContain("https://evil.example");
  const noOrigin = await upgrade(path(), { Cookie: cookieOf(viewer) });
  expect(noOrigin.status).toBe(403);
  const noGrant = await upgrade(path(), { Origin: ORIGIN, Cookie: cookieOf(stranger) });
  expect(noGrant.status).toBe(404);
  const unknown = await upgrade(`/workspaces/${crypto.randomUUID()}/vnc`, {
    Origin: ORIGIN,
    Cookie: cookieOf(viewer),
  });
  expect(unknown.status).toBe(404);
  const notRunning = await upgrade(path(), { Origin: ORIGIN, Cookie: cookieOf(viewer) });
  expect(notRunning.status).toBe(409);
  expect(notRunning.body).toContain("not running");
  // The Open page says so instead of showing a canvas.
  const page = await viewer.request("GET", `/workspaces/${workspaceId}/open`);
  expect(page.status).toBe(409);
  expect(await page.text()).toContain("not running");
  expect((await stranger.request("GET", `/workspaces/${workspaceId}/open`)).status).toBe(404);
});

test("a session that did not pass a second factor is refused with the reason, and audited", async () => {
  const { browser, userId } = await signIn("halfway", { role: "platform_admin", customerId: "" });
  const token = browser.cookie(SESSION_COOKIE) ?? "";
  // The same session half-way through a sign-in: password given, TOTP code not yet.
  await p.database.db
    .update(webSessions)
    .set({ stage: "totp" })
    .where(eq(webSessions.userId, userId));
  const refused = await upgrade(path(), { Origin: ORIGIN, Cookie: `${SESSION_COOKIE}=${token}` });
  expect(refused.status).toBe(403);
  expect(refused.body).toContain("second factor");
  const [entry] = await p.database.db
    .select()
    .from(auditEntries)
    .where(eq(auditEntries.action, "workspace.connect"))
    .orderBy(desc(auditEntries.seq));
  expect(entry?.result).toBe("denied");
  expect(entry?.actorName).toBe("halfway");
});

test.skipIf(missing !== null)(
  "through the relay to a real Xvnc: None to the browser, VncAuth to the server, a framebuffer update; one viewer; the recording's hash is in the audit entry",
  async () => {
    if (!xvnc) throw new Error("no Xvnc");
    const runId = await recordRunning(p.database.db, p.clock, p.pki, {
      workspaceId,
      host: "127.0.0.1",
      port: xvnc.port,
      password: xvnc.password,
    });
    const v = await openViewer(viewer);
    expect(new TextDecoder().decode(await v.read(12))).toBe("RFB 003.008\n");
    v.ws.send(new TextEncoder().encode("RFB 003.008\n"));
    expect([...(await v.read(2))]).toEqual([1, 1]); // one type: None
    v.ws.send(Uint8Array.of(1));
    expect([...(await v.read(4))]).toEqual([0, 0, 0, 0]);
    // While connected, a second Open is refused naming who is connected.
    const second = await upgrade(path(), { Origin: ORIGIN, Cookie: cookieOf(viewer) });
    expect(second.status).toBe(409);
    expect(second.body).toContain("viewer is connected");
    expect(await (await p.admin.request("GET", `/workspaces/${workspaceId}`)).text()).toContain(
      "connected: viewer since",
    );
    // Another platform instance on the same database sees the hold too.
    const other = new VncRelay({ ...relay.deps });
    const display = { runId, host: "127.0.0.1", port: xvnc.port, password: xvnc.password };
    const grant = {
      workspaceId,
      customerId: "00000000-0000-4000-8000-000000000001",
      customerName: "ACME",
      userId: "00000000-0000-4000-8000-000000000002",
      username: "elsewhere",
      webSessionId: "elsewhere",
      ip: null,
      display,
    };
    expect(await other.admit(grant)).toBeNull();
    expect((await other.viewerOf(workspaceId))?.username).toBe("viewer");
    v.ws.send(Uint8Array.of(1)); // ClientInit, shared
    const init = await v.read(24);
    const view = new DataView(init.buffer);
    expect([view.getUint16(0), view.getUint16(2)]).toEqual([320, 200]);
    await v.read(view.getUint32(20)); // the desktop's name
    // FramebufferUpdateRequest, full screen, not incremental.
    v.ws.send(Uint8Array.of(3, 0, 0, 0, 0, 0, 1, 64, 0, 200));
    const update = await v.read(4);
    expect(update[0]).toBe(0); // FramebufferUpdate
    v.ws.close();

    const deadline = Date.now() + 10_000;
    let recording = (await p.database.db.select().from(workspaceRecordings))[0];
    while (!recording?.sha256 && Date.now() < deadline) {
      await Bun.sleep(20);
      recording = (await p.database.db.select().from(workspaceRecordings))[0];
    }
    if (!recording?.sha256) throw new Error("the recording was not closed");
    const file = recordingPath(recordingsDir, recording);
    const bytes = await Bun.file(file).bytes();
    expect(new Bun.CryptoHasher("sha256").update(bytes).digest("hex")).toBe(recording.sha256);
    let [entry] = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "workspace.connect"))
      .orderBy(desc(auditEntries.seq));
    while (entry?.result !== "ok" && Date.now() < deadline) {
      await Bun.sleep(20);
      [entry] = await p.database.db
        .select()
        .from(auditEntries)
        .where(eq(auditEntries.action, "workspace.connect"))
        .orderBy(desc(auditEntries.seq));
    }
    expect(entry?.result).toBe("ok");
    expect(entry?.actorName).toBe("viewer");
    expect(entry?.detail).toMatchObject({
      sha256: recording.sha256,
      recordingId: recording.id,
      customer: "ACME",
    });
    expect(entry?.ip).toBe("127.0.0.1");
    expect(recording.bytesDown).toBeGreaterThan(24);
    // Replays from the start: the browser's handshake first, then the desktop's bytes.
    const frames = parseRecording(new TextDecoder("latin1").decode(bytes));
    expect(new TextDecoder().decode(frames[0]?.data)).toBe("RFB 003.008\n");
    // The viewer's input, each byte once: version 12, security choice 1, ClientInit 1, request 10.
    expect(frames.filter((f) => f.fromClient).reduce((n, f) => n + f.data.length, 0)).toBe(24);
    expect(frames.filter((f) => !f.fromClient).reduce((n, f) => n + f.data.length, 0)).toBe(
      recording.bytesDown,
    );

    // The portal's pages: Open carries the relay's path and no password; noVNC is served here.
    const open = await viewer.request("GET", `/workspaces/${workspaceId}/open`);
    const html = await open.text();
    expect(open.status).toBe(200);
    expect(html).toContain(`data-vnc-path="/workspaces/${workspaceId}/vnc"`);
    expect(html).not.toContain(xvnc.password);
    const rfbModule = await viewer.request("GET", "/assets/novnc/core/rfb.js");
    expect(rfbModule.status).toBe(200);
    expect(await rfbModule.text()).toContain("export default class RFB");
    expect((await viewer.request("GET", "/assets/novnc/../package.json")).status).toBe(404);
    // Recordings: audit readers (the platform admin) see and download it; a technician does not.
    const list = await p.admin.request("GET", "/recordings");
    expect(await list.text()).toContain(`title="${recording.sha256}"`);
    const download = await p.admin.request("GET", `/recordings/${recording.id}/file`);
    expect(download.status).toBe(200);
    expect(new Bun.CryptoHasher("sha256").update(await download.arrayBuffer()).digest("hex")).toBe(
      recording.sha256,
    );
    expect(await (await p.admin.request("GET", `/recordings/${recording.id}`)).text()).toContain(
      `data-recording="/recordings/${recording.id}/file"`,
    );
    expect((await viewer.request("GET", "/recordings")).status).toBe(404);
    expect((await viewer.request("GET", `/recordings/${recording.id}/file`)).status).toBe(404);

    // Customer admins see their customers' recordings only.
    expect(await (await ownAdmin.request("GET", "/recordings")).text()).toContain(recording.id);
    expect(await (await foreignAdmin.request("GET", "/recordings")).text()).not.toContain(
      recording.id,
    );
    expect((await foreignAdmin.request("GET", `/recordings/${recording.id}`)).status).toBe(404);

    // Retention, by the daily job: not yet at 550 days; past it the file and row go, audited.
    const signer = await auditSigner(p.database.db, p.pki);
    const schedule = (days: number) =>
      new RetentionSchedule({
        db: p.database.db,
        clock: p.clock,
        signer,
        retentionDays: 36_500,
        head: { file: null, everyMs: 1e12 },
        recordings: { dir: recordingsDir, retentionDays: days },
      });
    expect((await schedule(550).tick()).ran).toContain("recordings");
    expect(await Bun.file(file).exists()).toBe(true);
    p.clock.advance(551 * 86_400_000);
    expect((await schedule(550).tick()).ran).toContain("recordings");
    expect(await Bun.file(file).exists()).toBe(false);
    expect(await p.database.db.select().from(workspaceRecordings)).toHaveLength(0);
    await recordStopped(p.database.db, p.clock, runId);
    const [pruned] = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "workspace.recordings_pruned"));
    expect(pruned?.detail).toMatchObject({ deleted: 1, recordingIds: [recording.id] });
  },
);

test.skipIf(missing !== null)(
  "an open desktop is cut within moments when its grant is revoked, its sign-in ends, or the database is lost — audited with the reason",
  async () => {
    if (!xvnc) throw new Error("no Xvnc");
    const runId = await recordRunning(p.database.db, p.clock, p.pki, {
      workspaceId,
      host: "127.0.0.1",
      port: xvnc.port,
      password: xvnc.password,
    });
    const connected = async (b: Browser) => {
      const v = await openViewer(b);
      expect(new TextDecoder().decode(await v.read(12))).toBe("RFB 003.008\n");
      let closed: string | null = null;
      v.ws.addEventListener("close", (e) => {
        closed = `${e.code} ${e.reason}`;
      });
      return { v, closed: () => closed };
    };
    const lastConnect = async () =>
      (
        await p.database.db
          .select()
          .from(auditEntries)
          .where(eq(auditEntries.action, "workspace.connect"))
          .orderBy(desc(auditEntries.seq))
      )[0];
    const cutFor = async (c: { closed: () => string | null }, why: RegExp) => {
      expect(await relay.checkAll()).toBe(1);
      const deadline = Date.now() + 5000;
      while (!c.closed() && Date.now() < deadline) await Bun.sleep(20);
      expect(c.closed() ?? "").toMatch(new RegExp(`^4000 .*${why.source}`));
      const entry = await lastConnect();
      expect(String((entry?.detail as { reason?: string } | undefined)?.reason)).toMatch(why);
      expect(await relay.viewerOf(workspaceId)).toBeNull();
    };
    // Nothing changed: the check keeps it.
    const tech = await signIn("revoked", { role: "technician", customerId: ownCustomerId });
    await grantAccess(p.adminCtx, workspaceId, { userId: tech.userId });
    let c = await connected(tech.browser);
    expect(await relay.checkAll()).toBe(0);
    // The grant is revoked while the desktop is open.
    await revokeAccess(p.adminCtx, workspaceId, tech.userId);
    await cutFor(c, /access to the workspace was withdrawn/);
    // Signed out in another tab.
    await grantAccess(p.adminCtx, workspaceId, { userId: tech.userId });
    c = await connected(tech.browser);
    await p.database.db.delete(webSessions).where(eq(webSessions.userId, tech.userId));
    await cutFor(c, /portal sign-in ended/);
    // The platform loses its database: fail closed cuts desktops with the rest.
    c = await connected(
      (await signIn("onduty", { role: "platform_admin", customerId: "" })).browser,
    );
    await relay.cutAll("the platform lost its database (fail closed)");
    const deadline = Date.now() + 5000;
    while (!c.closed() && Date.now() < deadline) await Bun.sleep(20);
    expect(c.closed() ?? "").toContain("lost its database");
    await recordStopped(p.database.db, p.clock, runId);
  },
);

test.skipIf(missing !== null)(
  "a desktop that refuses the relay's password: the viewer's connection closes with the reason, audited as failed",
  async () => {
    if (!xvnc) throw new Error("no Xvnc");
    await recordRunning(p.database.db, p.clock, p.pki, {
      workspaceId,
      host: "127.0.0.1",
      port: xvnc.port,
      password: "wrong-pw",
    });
    // Months later (the retention test moved the clock): a fresh sign-in.
    const late = await signIn("late", { role: "platform_admin", customerId: "" });
    const ws = new WebSocket(`wss://127.0.0.1:${listener.port}/workspaces/${workspaceId}/vnc`, {
      headers: { Cookie: cookieOf(late.browser), Origin: ORIGIN },
      tls: { rejectUnauthorized: false },
    } as unknown as string[]);
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
      ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
    });
    expect(closed.code).toBe(1011);
    expect(closed.reason).toContain("refused the password");
    const deadline = Date.now() + 10_000;
    let entry: typeof auditEntries.$inferSelect | undefined;
    while (Date.now() < deadline) {
      [entry] = await p.database.db
        .select()
        .from(auditEntries)
        .where(eq(auditEntries.action, "workspace.connect"))
        .orderBy(desc(auditEntries.seq));
      if (entry?.result === "failed") break;
      await Bun.sleep(20);
    }
    expect(entry?.result).toBe("failed");
    expect(String((entry?.detail as { reason?: string } | undefined)?.reason)).toContain(
      "refused the password",
    );
    // The hold is released: the next Open is not refused as busy.
    expect(await relay.viewerOf(workspaceId)).toBeNull();
  },
);

test("an open connection left by a stopped instance holds the workspace only until its heartbeat is stale", async () => {
  const grant = {
    workspaceId,
    customerId: "00000000-0000-4000-8000-000000000001",
    customerName: "ACME",
    userId: "00000000-0000-4000-8000-000000000002",
    username: "crashed",
    webSessionId: "crashed",
    ip: "198.18.0.99",
    display: { runId: "r", host: "127.0.0.1", port: 1, password: "x" },
  };
  const gone = new VncRelay({ ...relay.deps });
  const left = await gone.admit(grant);
  expect(left).not.toBeNull();
  await gone.stop(); // no WebSocket of it was open: its row stays open, as after a crash
  // What the crashed instance had written of its recording (no end).
  const partial = "var VNC_frame_data = [\n'{0{UkZCIDAwMy4wMDgK',\n";
  const leftPath = join(relay.deps.recordingsDir, left?.file ?? "");
  mkdirSync(dirname(leftPath), { recursive: true });
  await Bun.write(leftPath, partial);
  const fresh = new VncRelay({ ...relay.deps });
  expect(await fresh.admit({ ...grant, username: "next" })).toBeNull();
  expect((await relay.viewerOf(workspaceId))?.username).toBe("crashed");
  p.clock.advance(STALE_MS + 1000);
  // What the portal asks first (the Open page, the upgrade): the stale hold is closed there.
  expect(await relay.viewerOf(workspaceId)).toBeNull();
  const taken = await fresh.admit({ ...grant, username: "next" });
  expect(taken).not.toBeNull();
  expect((await fresh.viewerOf(workspaceId))?.username).toBe("next");
  const [entry] = await p.database.db
    .select()
    .from(auditEntries)
    .where(eq(auditEntries.action, "workspace.connect"))
    .orderBy(desc(auditEntries.seq));
  expect(entry?.result).toBe("failed");
  expect(entry?.actorName).toBe("crashed");
  expect(String((entry?.detail as { reason?: string } | undefined)?.reason)).toContain("stopped");
  // The part written is sealed: its hash in the audit entry and on the recording's row.
  const partialHash = new Bun.CryptoHasher("sha256").update(partial).digest("hex");
  expect(entry?.detail).toMatchObject({ sha256: partialHash, recordingBytes: partial.length });
  const [crashed] = await p.database.db
    .select()
    .from(workspaceRecordings)
    .where(eq(workspaceRecordings.id, left?.recordingId ?? ""));
  expect(crashed?.sha256).toBe(partialHash);
  if (taken) await fresh.abandon(taken);
  await fresh.stop();
  expect(await fresh.viewerOf(workspaceId)).toBeNull();
});
