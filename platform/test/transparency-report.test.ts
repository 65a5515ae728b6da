// The transparency report of an ended remote session: its content against the session and the
// audit chain, the SVG chart as well-formed XML, who may read it, no report while open, the signed
// download verified with the README's own command (and a tampered file refused), the download audited.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { and, desc, eq, lt, sql } from "drizzle-orm";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { auditEntries } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { createCustomer, createService } from "../src/masterdata/index.ts";
import type { SignedReportFile } from "../src/reports/index.ts";
import { auditSigner } from "../src/retention/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { dataChannelProfile, gatewayCall, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type Browser, firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
let scene: Scene;
let sessionId: string;
let siteId: string;
let work = "";

const README = join(import.meta.dir, "../../README.md");

async function userWith(
  username: string,
  grants: { role: string; customerId?: string; siteId?: string }[],
): Promise<Browser> {
  const { user, password } = await createUser(p.adminCtx, { username, displayName: username });
  for (const grant of grants) await grantRole(p.adminCtx, user.id, grant);
  return (await firstSignIn(p.app, p.database.db, p.clock, username, password)).browser;
}

const gatewayApi = (path: string, body: unknown) =>
  gatewayCall(p, { gatewayId: scene.gatewayId, secret: scene.gatewaySecret }, path, body);

/** The README's verify command, run as documented (the key fetched beforehand stands for curl). */
function runDocumentedVerify(dir: string): { code: number; out: string } {
  const text = readFileSync(README, "utf8");
  const block = text.split("<!-- verify-report -->")[1]?.match(/```sh\n([\s\S]*?)```/)?.[1];
  if (!block) throw new Error("README: no verify-report block");
  const script = block
    .split("\n")
    .filter((line) => !line.startsWith("curl "))
    .join("\n");
  const run = Bun.spawnSync(["bash", "-c", script], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  return { code: run.exitCode, out: `${run.stdout.toString()}${run.stderr.toString()}` };
}

beforeAll(async () => {
  p = await testPlatform();
  scene = await arrangeMachine(p, [
    { name: "Web", protocol: "tcp", port: 443, enabled: true },
    { name: "SSH", protocol: "tcp", port: 22, enabled: false },
  ]);
  await createService(p.adminCtx, scene.machineId, {
    name: "PLC <main>",
    protocol: "tcp",
    port: 502,
    enabled: true,
    mode: "modbus-read-only",
  });
  // The operator's Connect, then the technician's Connect and client.
  const { envelope, session: dataChannel } = await p.access.dataChannels.request(scene.gatewayId);
  const channel = await dataChannelProfile(p, scene.gatewayId, envelope);
  expect((await p.access.connections.decide("0:1", serialOf(channel))).allow).toBe(true);
  const { session, profile } = await p.access.remoteSessions.request(
    scene.technician,
    scene.machineId,
    { reason: "ticket 4711: axis 3 fault" },
  );
  sessionId = session.id;
  expect((await p.access.connections.decide("0:2", serialOf(profile))).allow).toBe(true);
  const modbus = await gatewayApi("/heartbeat", {
    state: "online",
    gatewaySessionId: dataChannel.id,
    agentVersion: "0.1.0",
    openvpnVersion: "2.6.14",
    localTime: p.clock.now().toISOString(),
    lastError: null,
    capabilities: ["modbus-read-only"],
    modbusEvidence: [
      { remoteSessionId: sessionId, passed: { "3": 40 }, refused: { "6": 2 }, closed: 0 },
    ],
  });
  expect(modbus.status).toBe(200);
  const [listed] = await p.access.remoteSessions.list(p.adminCtx, { id: sessionId });
  siteId = listed?.siteId ?? "";
  work = mkdtempSync(join(tmpdir(), "meetpoint-report-"));
}, 60_000);
afterAll(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
  await p.dispose();
});

describe("transparency report", () => {
  test("an open session has no report yet: 409 saying why", async () => {
    const response = await p.admin.get(`/sessions/${sessionId}/report`);
    expect(response.status).toBe(409);
    expect(await response.text()).toContain(
      "still connected: its transparency report is made when it has ended",
    );
    expect((await p.admin.get(`/sessions/${sessionId}/report.json`)).status).toBe(409);
    expect(await p.admin.page("/sessions")).not.toContain(`/sessions/${sessionId}/report`);
  });

  test("the page: who, why, consent, services with bytes, Modbus, end reason, the audit range of the chain", async () => {
    const [session] = await p.access.remoteSessions.list(p.adminCtx, { id: sessionId });
    if (!session) throw new Error("no session");
    p.dataPlane.counters.set(`${session.tunnelAddress} . ${session.proxyAddress} . tcp . 443`, {
      packets: 12,
      bytes: 3400,
    });
    p.clock.advance(90_000);
    await p.access.ends.endRemoteSession(sessionId, "technician", scene.technician.caller.actor);

    expect(await p.admin.page("/sessions")).toContain(`href="/sessions/${sessionId}/report"`);
    const page = await p.admin.page(`/sessions/${sessionId}/report`);
    expect(page).toContain(
      'Tech (<span class="token">tech</span>), signs in through local account',
    );
    expect(page).toContain("ticket 4711: axis 3 fault");
    expect(page).toContain("No approval required under the site&#39;s policy");
    expect(page).toContain("the technician disconnected");
    expect(page).toContain("3.4 kB");
    expect(page).toContain("3 × 40");
    expect(page).toContain("6 × 2");

    const entries = await p.database.db
      .select()
      .from(auditEntries)
      .where(sql`${auditEntries.detail}->>'remoteSessionId' = ${sessionId}`)
      .orderBy(auditEntries.seq);
    expect(entries.map((e) => e.action)).toEqual([
      "remote_session.request",
      "remote_session.active",
      "remote_session.end",
    ]);
    const first = entries[0];
    const last = entries.at(-1);
    if (!first || !last) throw new Error("no entries");
    expect(page).toContain(
      `Sequence <span class="token">${first.seq}</span> to <span class="token">${last.seq}</span>`,
    );
    expect(page).toContain(first.hash);
    expect(page).toContain(last.hash);
    // The first entry links to the chain: its prevHash is the hash of the entry before it.
    const [before] = await p.database.db
      .select({ hash: auditEntries.hash })
      .from(auditEntries)
      .where(lt(auditEntries.seq, first.seq))
      .orderBy(desc(auditEntries.seq))
      .limit(1);
    expect(first.prevHash).toBe(before?.hash ?? "");
    expect(page).toContain(first.prevHash);
  });

  test("the chart is a well-formed SVG: one bar per service, scaled to bytes, titled with the counts", async () => {
    const page = await p.admin.page(`/sessions/${sessionId}/report`);
    const svg = page.match(/<svg[\s\S]*?<\/svg>/)?.[0] ?? "";
    expect(XMLValidator.validate(svg)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(svg);
    expect(doc.svg.xmlns).toBe("http://www.w3.org/2000/svg");
    const bars = [doc.svg.rect].flat() as { class: string; height: string; title: string }[];
    expect(bars.map((b) => [b.class, b.title])).toEqual([
      ["traffic", "tcp/443 Web: 12 packets · 3.4 kB"],
      ["traffic", "tcp/502 PLC <main>: 0 packets · 0 B"],
    ]);
    expect(Number(bars[0]?.height)).toBeGreaterThan(Number(bars[1]?.height));
    expect(svg).toContain("PLC &lt;main&gt;");
  });

  test("who may read it: customer admin, operator of the site, auditor; technicians not; other customers 404", async () => {
    const cadmin = await userWith("cadmin", [
      { role: "customer_admin", customerId: scene.customerId },
    ]);
    const operator = await userWith("plant", [
      { role: "operator", customerId: scene.customerId, siteId },
    ]);
    const auditor = await userWith("auditor", [{ role: "auditor" }]);
    for (const browser of [cadmin, operator, auditor]) {
      expect(await browser.page(`/sessions/${sessionId}/report`)).toContain("Transparency report");
      expect(await browser.page("/sessions")).toContain(`/sessions/${sessionId}/report`);
    }
    const other = await createCustomer(p.adminCtx, { name: "Other Corp" });
    const stranger = await userWith("stranger", [{ role: "technician", customerId: other.id }]);
    expect((await stranger.get(`/sessions/${sessionId}/report`)).status).toBe(404);
    expect((await stranger.get(`/sessions/${sessionId}/report.json`)).status).toBe(404);
    const colleague = await userWith("colleague", [
      { role: "technician", customerId: scene.customerId },
    ]);
    expect((await colleague.get(`/sessions/${sessionId}/report`)).status).toBe(403);
    expect(await colleague.page("/sessions")).not.toContain(`/sessions/${sessionId}/report`);
    expect((await p.admin.get("/sessions/not-a-uuid/report")).status).toBe(404);
    expect((await p.admin.get(`/sessions/${crypto.randomUUID()}/report.json`)).status).toBe(404);
  });

  test("the download verifies with the README's command; a tampered report or payload fails; it is audited", async () => {
    const cadmin = await userWith("cadmin2", [
      { role: "customer_admin", customerId: scene.customerId },
    ]);
    const response = await cadmin.get(`/sessions/${sessionId}/report.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toContain(
      `meetpoint-report-${sessionId}.json`,
    );
    const text = await response.text();
    const file = JSON.parse(text) as SignedReportFile;
    expect(file.report).toMatchObject({
      typ: "meetpoint-transparency-report",
      session: { id: sessionId, reason: "ticket 4711: axis 3 fault", endReason: "technician" },
      technician: { username: "tech", company: null },
      consent: { policy: "operator-connect", approvals: [] },
      modbus: { passed: { "3": 40 }, refused: { "6": 2 }, closed: 0 },
    });
    expect(file.report.services).toEqual([
      {
        name: "Web",
        protocol: "tcp",
        port: 443,
        mode: "full",
        packets: 12,
        bytes: 3400,
        reached: true,
      },
      {
        name: "PLC <main>",
        protocol: "tcp",
        port: 502,
        mode: "modbus-read-only",
        packets: 0,
        bytes: 0,
        reached: false,
      },
    ]);

    const key = await p.app.request("https://localhost/pki/signing-key.jwk");
    expect(key.status).toBe(200);
    const jwk = (await key.json()) as { kid: string; d?: string };
    expect(jwk.d).toBeUndefined();
    expect(jwk.kid).toBe(file.kid);
    writeFileSync(join(work, "signing-key.jwk"), JSON.stringify(jwk));

    writeFileSync(join(work, "report.json"), text);
    const valid = runDocumentedVerify(work);
    expect(valid).toEqual({ code: 0, out: `valid: signed by ${jwk.kid}\n` });

    const altered = structuredClone(file);
    altered.report.session.reason = "routine check";
    writeFileSync(join(work, "report.json"), JSON.stringify(altered));
    expect(runDocumentedVerify(work)).toMatchObject({
      code: 1,
      out: expect.stringContaining("INVALID"),
    });

    // Report and payload changed alike: the signature no longer fits.
    const [header, , signature] = file.jws.split(".");
    const payload = Buffer.from(JSON.stringify(altered.report)).toString("base64url");
    writeFileSync(
      join(work, "report.json"),
      JSON.stringify({ ...altered, jws: `${header}.${payload}.${signature}` }),
    );
    expect(runDocumentedVerify(work)).toMatchObject({
      code: 1,
      out: expect.stringContaining("INVALID"),
    });

    // Regression: the same key signs audit checkpoints and heads; one of those presented as a
    // report (payload and "report" alike) verifies its signature, but is no transparency report.
    const head = { typ: "meetpoint-audit-head", seq: 1, hash: "00".repeat(32) };
    const signer = await auditSigner(p.database.db, p.pki);
    writeFileSync(
      join(work, "report.json"),
      JSON.stringify({ report: head, jws: await signer.sign(head), kid: signer.kid }),
    );
    expect(runDocumentedVerify(work)).toMatchObject({
      code: 1,
      out: expect.stringContaining("INVALID"),
    });

    const [audited] = await p.database.db
      .select()
      .from(auditEntries)
      .where(
        and(
          eq(auditEntries.action, "remote_session.report"),
          eq(auditEntries.actorName, "cadmin2"),
        ),
      )
      .orderBy(desc(auditEntries.seq))
      .limit(1);
    expect(audited).toMatchObject({
      customerId: scene.customerId,
      targetType: "machine",
      targetId: scene.machineId,
      detail: {
        reportOf: sessionId,
        kid: jwk.kid,
        auditFirstSeq: file.report.audit.first?.seq,
        auditLastSeq: file.report.audit.last?.seq,
      },
    });
  });
});
