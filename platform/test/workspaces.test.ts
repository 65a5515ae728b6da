// Jump workspaces, control side, through the portal on a real database: templates changed only by
// four eyes (self-approval 403, stale approval 409, reject, audit with before/after), a customer's
// workspace with its OpenVPN or IPsec profile (secrets sealed, never shown; script-bearing configs
// refused naming the line, nothing stored), its allow-list, grants (no grant: 404), and whether a
// portal session passed a second factor.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { and, desc, eq } from "drizzle-orm";
import {
  auditEntries,
  webSessions,
  workspaces,
  workspaceTemplateProposals,
  workspaceTemplates,
} from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { ConflictError } from "../src/shared/index.ts";
import { proposeChange, sessionPassedSecondFactor } from "../src/workspaces/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { Browser, firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
let admin2: Browser;
let custAdmin: Browser;
let foreignAdmin: Browser;
let tech: Browser;
let otherTech: Browser;
let customerId: string;
const ids: Record<string, string> = {};
const DIGEST = "a".repeat(64);
const IMAGE = `registry.lab.test:5000/meetpoint/workspace@sha256:${DIGEST}`;
const VALUES = {
  image: IMAGE,
  cpu: "1.5",
  memoryMib: "2048",
  pidsLimit: "512",
  idleTimeoutMinutes: "",
  replicas: "",
};
const KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
const OVPN = [
  "client",
  "dev tun",
  "proto udp",
  "remote 203.0.113.10 1194",
  "remote-cert-tls server",
  "<ca>",
  "-----BEGIN CERTIFICATE-----",
  "MIIBszCCAVmgAwIBAgIUpublicCA",
  "-----END CERTIFICATE-----",
  "</ca>",
  "<key>",
  "-----BEGIN PRIVATE KEY-----",
  KEY_BODY,
  "-----END PRIVATE KEY-----",
  "</key>",
].join("\n");

async function signIn(username: string, grant: Parameters<typeof grantRole>[2]) {
  const u = await createUser(p.adminCtx, { username, displayName: username.toUpperCase() });
  await grantRole(p.adminCtx, u.user.id, grant);
  ids[username] = u.user.id;
  return (await firstSignIn(p.app, p.database.db, p.clock, username, u.password)).browser;
}

async function audits(action: string) {
  return p.database.db
    .select()
    .from(auditEntries)
    .where(eq(auditEntries.action, action))
    .orderBy(desc(auditEntries.seq));
}

async function expectStatus(response: Response, status: number, text?: string) {
  const body = await response.text();
  expect(response.status, body.slice(0, 800)).toBe(status);
  if (text) expect(body).toContain(text);
  return body;
}

async function templateNamed(name: string) {
  const [row] = await p.database.db
    .select()
    .from(workspaceTemplates)
    .where(eq(workspaceTemplates.name, name));
  if (!row) throw new Error(`no template ${name}`);
  return row;
}

async function pendingOf(templateId: string) {
  const rows = await p.database.db
    .select()
    .from(workspaceTemplateProposals)
    .where(
      and(
        eq(workspaceTemplateProposals.templateId, templateId),
        eq(workspaceTemplateProposals.state, "pending"),
      ),
    );
  return rows[0];
}

beforeAll(async () => {
  p = await testPlatform();
  customerId = (await createCustomer(p.adminCtx, { name: "ACME" })).id;
  const foreign = await createCustomer(p.adminCtx, { name: "Other" });
  admin2 = await signIn("admin2", { role: "platform_admin", customerId: "" });
  custAdmin = await signIn("custadmin", { role: "customer_admin", customerId });
  foreignAdmin = await signIn("foreignadmin", { role: "customer_admin", customerId: foreign.id });
  tech = await signIn("tech", { role: "technician", customerId });
  otherTech = await signIn("othertech", { role: "technician", customerId });
  await signIn("foreigntech", { role: "technician", customerId: foreign.id });
});
afterAll(() => p?.dispose());

test("a template is a proposal until another admin approves; the proposer cannot", async () => {
  await p.admin.get("/workspace-templates");
  // A tag instead of a digest, and bad limits: 400 naming the field, nothing stored.
  await expectStatus(
    await p.admin.post("/workspace-templates", { name: "Standard", ...VALUES, image: "debian:12" }),
    400,
    "image",
  );
  await expectStatus(
    await p.admin.post("/workspace-templates", { name: "Standard", ...VALUES, cpu: "0.05" }),
    400,
    "cpu",
  );
  expect(await p.database.db.select().from(workspaceTemplates)).toHaveLength(0);

  const created = await p.admin.post("/workspace-templates", { name: "Standard", ...VALUES });
  await expectStatus(created, 303);
  const template = await templateNamed("Standard");
  expect(template.effective).toBeNull();
  const proposal = await pendingOf(template.id);
  expect(proposal?.values).toEqual({
    image: IMAGE,
    cpuMillicores: 1500,
    memoryMib: 2048,
    pidsLimit: 512,
    idleTimeoutMinutes: 30,
    replicas: 2,
  });
  // No workspace may use it yet.
  await custAdmin.get("/workspaces");
  await expectStatus(
    await custAdmin.post("/workspaces", { customerId, templateId: template.id }),
    400,
    "no approved values",
  );
  // The proposer: no Approve button, and 403 when trying anyway (audited as denied).
  const page = await p.admin.page(`/workspace-templates/${template.id}`);
  expect(page).toContain("you cannot approve your own proposal");
  expect(page).not.toContain(`/workspace-template-proposals/${proposal?.id}/approve`);
  await expectStatus(
    await p.admin.post(`/workspace-template-proposals/${proposal?.id}/approve`),
    403,
    "another platform admin must approve",
  );
  expect((await audits("workspace_template.approve"))[0]?.result).toBe("denied");
  // Customer admins and technicians decide nothing.
  await expectStatus(
    await custAdmin.post(`/workspace-template-proposals/${proposal?.id}/approve`),
    403,
  );
  await expectStatus(await tech.get("/workspace-templates"), 403);
  // The second admin approves: the values take effect, audited with before and after.
  const other = await admin2.page("/workspace-templates");
  expect(other).toContain(`/workspace-template-proposals/${proposal?.id}/approve`);
  await expectStatus(
    await admin2.post(`/workspace-template-proposals/${proposal?.id}/approve`),
    303,
  );
  expect((await templateNamed("Standard")).effective?.cpuMillicores).toBe(1500);
  const [approved] = await audits("workspace_template.approve");
  expect(approved?.result).toBe("ok");
  expect(approved?.actorName).toBe("admin2");
  expect(approved?.detail).toMatchObject({
    before: null,
    after: { cpuMillicores: 1500 },
    proposedBy: "admin",
  });
  // Deciding again: 409.
  await expectStatus(
    await admin2.post(`/workspace-template-proposals/${proposal?.id}/reject`),
    409,
  );
});

test("a change waits for approval; a superseded proposal is 409; reject keeps the values; stale forms 409", async () => {
  const template = await templateNamed("Standard");
  const form = await admin2.page(`/workspace-templates/${template.id}`);
  const version = form.match(/name="version" value="([^"]+)"/)?.[1] ?? "";
  await expectStatus(
    await admin2.post(`/workspace-templates/${template.id}`, {
      ...VALUES,
      memoryMib: "4096",
      version,
    }),
    303,
  );
  const first = await pendingOf(template.id);
  // A second form opened before that change is stale: 409 naming who changed it.
  await expectStatus(
    await p.admin.post(`/workspace-templates/${template.id}`, {
      ...VALUES,
      memoryMib: "8192",
      version,
    }),
    409,
    "admin2",
  );
  // The pending change does not affect the effective values.
  expect((await templateNamed("Standard")).effective?.memoryMib).toBe(2048);
  // A newer proposal supersedes the first; approving the first is 409.
  const fresh = (await p.admin.page(`/workspace-templates/${template.id}`)).match(
    /name="version" value="([^"]+)"/,
  )?.[1];
  await expectStatus(
    await p.admin.post(`/workspace-templates/${template.id}`, {
      ...VALUES,
      memoryMib: "8192",
      version: fresh ?? "",
    }),
    303,
  );
  await expectStatus(
    await p.admin.post(`/workspace-template-proposals/${first?.id}/approve`),
    409,
    "newer proposal",
  );
  const second = await pendingOf(template.id);
  expect(second?.values.memoryMib).toBe(8192);
  expect(await admin2.page(`/workspace-templates/${template.id}`)).toContain(
    "memory (MiB): 2048 → 8192",
  );
  // Another admin rejects: the effective values stay.
  await expectStatus(await admin2.post(`/workspace-template-proposals/${second?.id}/reject`), 303);
  expect((await templateNamed("Standard")).effective?.memoryMib).toBe(2048);
  const [rejected] = await audits("workspace_template.reject");
  expect(rejected?.detail).toMatchObject({ withdrawn: false, rejected: { memoryMib: 8192 } });
  const [proposed] = await audits("workspace_template.propose");
  expect(proposed?.detail).toMatchObject({
    before: { memoryMib: 2048 },
    after: { memoryMib: 8192 },
    superseded: [first?.id],
  });
  // Unknown proposals are 404.
  await expectStatus(await admin2.post("/workspace-template-proposals/nope/approve"), 404);
});

test("a customer's workspace: profile sealed, script configs refused, allow-list, grants", async () => {
  const template = await templateNamed("Standard");
  // A foreign customer admin cannot create a workspace for ACME.
  await foreignAdmin.get("/workspaces");
  await expectStatus(
    await foreignAdmin.post("/workspaces", { customerId, templateId: template.id }),
    404,
  );
  await custAdmin.get("/workspaces");
  await expectStatus(
    await custAdmin.post("/workspaces", { customerId, templateId: template.id }),
    303,
  );
  await expectStatus(
    await custAdmin.post("/workspaces", { customerId, templateId: template.id }),
    409,
  );
  const [workspace] = await p.database.db.select().from(workspaces);
  if (!workspace) throw new Error("no workspace");
  const path = `/workspaces/${workspace.id}`;

  // A config that runs a script: 400 naming line and directive, nothing stored.
  await custAdmin.get(path);
  await expectStatus(
    await custAdmin.post(`${path}/profile`, {
      kind: "openvpn",
      profile: `${OVPN}\nscript-security 2\nup /tmp/x.sh`,
    }),
    400,
    "line 16: &quot;script-security&quot;",
  );
  await expectStatus(
    await custAdmin.post(`${path}/profile`, { kind: "openvpn", profile: `${OVPN}\nup /tmp/x.sh` }),
    400,
    "line 16: &quot;up&quot; runs a command",
  );
  const [unchanged] = await p.database.db.select().from(workspaces);
  expect(unchanged?.profileKind).toBeNull();

  await expectStatus(
    await custAdmin.post(`${path}/profile`, { kind: "openvpn", profile: OVPN }),
    303,
  );
  const [stored] = await p.database.db.select().from(workspaces);
  expect(JSON.stringify(stored)).not.toContain(KEY_BODY);
  const secrets = JSON.parse(
    await p.pki.unsealSecret(
      `workspace-profile:${workspace.id}`,
      stored?.profileSecretsSealed ?? "",
    ),
  );
  expect(secrets.key).toContain(KEY_BODY);
  const page = await custAdmin.page(path);
  expect(page).not.toContain(KEY_BODY);
  expect(page).toContain("key: stored, sealed; changed");
  expect(page).toContain("203.0.113.10");
  const [profileAudit] = await audits("workspace.profile");
  expect(JSON.stringify(profileAudit?.detail)).not.toContain(KEY_BODY);
  expect(profileAudit?.detail).toMatchObject({
    kind: "openvpn",
    remotes: [{ host: "203.0.113.10" }],
    credentialsReplaced: "yes",
    secrets: { key: "added" },
  });

  // Inline credentials: no hash of them on the page, in the stored row or in the audit log (an
  // unsalted SHA-256 of "user\npassword" is a dictionary attack away from the password). The
  // audit entry still says what changed; an unchanged key keeps its change time.
  const sealedAt = (stored?.profile as { sealed?: Record<string, string> } | undefined)?.sealed
    ?.key;
  expect(sealedAt).toMatch(/^\d{4}-/);
  const credentials = "vendor-svc\nSommer2024!";
  const withCredentials = `${OVPN}\nauth-user-pass\n<auth-user-pass>\n${credentials}\n</auth-user-pass>`;
  await custAdmin.get(path);
  await expectStatus(
    await custAdmin.post(`${path}/profile`, { kind: "openvpn", profile: withCredentials }),
    303,
  );
  const hashes = [credentials, KEY_BODY].map((t) => createHash("sha256").update(t).digest("hex"));
  const [withCreds] = await p.database.db.select().from(workspaces);
  const credsAudit = (await audits("workspace.profile"))[0];
  const credsPage = await custAdmin.page(path);
  for (const text of [JSON.stringify(withCreds), JSON.stringify(credsAudit), credsPage]) {
    expect(text).not.toContain("Sommer2024!");
    for (const h of hashes) expect(text).not.toContain(h);
  }
  expect(credsPage).toContain("auth-user-pass: stored, sealed; changed");
  expect(credsAudit?.detail).toMatchObject({
    credentialsReplaced: "yes",
    secrets: { key: "unchanged", "auth-user-pass": "added" },
  });
  expect((withCreds?.profile as { sealed?: Record<string, string> } | undefined)?.sealed?.key).toBe(
    sealedAt,
  );
  // The same profile again: nothing replaced. Back to the first: the credentials removed.
  await custAdmin.get(path);
  await expectStatus(
    await custAdmin.post(`${path}/profile`, { kind: "openvpn", profile: withCredentials }),
    303,
  );
  expect((await audits("workspace.profile"))[0]?.detail).toMatchObject({
    credentialsReplaced: "no",
    secrets: { key: "unchanged", "auth-user-pass": "unchanged" },
  });
  await custAdmin.get(path);
  await expectStatus(
    await custAdmin.post(`${path}/profile`, { kind: "openvpn", profile: OVPN }),
    303,
  );
  expect((await audits("workspace.profile"))[0]?.detail).toMatchObject({
    credentialsReplaced: "yes",
    secrets: { key: "unchanged", "auth-user-pass": "removed" },
  });

  // IPsec with a missing identity: 400 naming the field; the OpenVPN profile stays.
  await expectStatus(
    await custAdmin.post(`${path}/profile`, {
      kind: "ipsec",
      remoteAddress: "203.0.113.20",
      localId: "vendor.example",
      remoteId: "",
      auth: "psk",
      psk: "a pre-shared key of enough length",
      remoteSubnets: "10.20.0.0/16",
    }),
    400,
    "remoteId",
  );
  expect((await p.database.db.select().from(workspaces))[0]?.profileKind).toBe("openvpn");

  // The allow-list: a bad line is 400 naming it; a good one is stored and audited.
  await expectStatus(
    await custAdmin.post(`${path}/allow-list`, { allowList: "10.0.0.0/8 tcp 22\n10.1.1.1/8 tcp" }),
    400,
    "line 2",
  );
  await expectStatus(
    await custAdmin.post(`${path}/allow-list`, { allowList: "10.1.2.3 udp 53" }),
    303,
  );
  const [allowAudit] = await audits("workspace.allow_list");
  expect(allowAudit?.detail).toMatchObject({
    before: [],
    after: [{ destination: "10.1.2.3", port: 53 }],
  });

  // No grant: the technician sees no workspace (404), not even in the list.
  await expectStatus(await tech.get(path), 404);
  expect(await tech.page("/workspaces")).not.toContain(path);
  // Grants: only the customer's technicians; audited; then the technician reads it (no forms).
  await custAdmin.get(path);
  await expectStatus(
    await custAdmin.post(`${path}/grants`, { userId: ids.foreigntech ?? "" }),
    400,
    "userId",
  );
  await expectStatus(await custAdmin.post(`${path}/grants`, { userId: ids.tech ?? "" }), 303);
  expect((await audits("workspace.grant"))[0]?.detail).toMatchObject({ technician: "tech" });
  const techPage = await tech.page(path);
  expect(techPage).toContain("stopped");
  expect(techPage).not.toContain(`${path}/grants`);
  expect(techPage).not.toContain(KEY_BODY);
  await expectStatus(await tech.post(`${path}/allow-list`, { allowList: "" }), 403);
  await expectStatus(await otherTech.get(path), 404);
  await expectStatus(await foreignAdmin.get(path), 404);
  // Revoke: the technician is back to 404.
  await expectStatus(await custAdmin.post(`${path}/grants/${ids.tech}/revoke`), 303);
  expect((await audits("workspace.revoke"))[0]?.detail).toMatchObject({ technician: "tech" });
  await expectStatus(await tech.get(path), 404);
  await expectStatus(await custAdmin.post(`${path}/grants/${ids.tech}/revoke`), 409);
});

test("an IPsec profile: the PSK sealed, the endpoints UDP 500/4500 and ESP", async () => {
  const [workspace] = await p.database.db.select().from(workspaces);
  const path = `/workspaces/${workspace?.id}`;
  await p.admin.get(path);
  const psk = "correct horse battery staple 42";
  await expectStatus(
    await p.admin.post(`${path}/profile`, {
      kind: "ipsec",
      remoteAddress: "vpn.acme.example",
      localId: "vendor@meetpoint.example",
      remoteId: "vpn.acme.example",
      auth: "psk",
      psk,
      remoteSubnets: "10.20.0.0/16, 10.30.0.0/24",
    }),
    303,
  );
  const [stored] = await p.database.db.select().from(workspaces);
  expect(stored?.profileKind).toBe("ipsec");
  expect(JSON.stringify(stored)).not.toContain(psk);
  const page = await p.admin.page(path);
  expect(page).not.toContain(psk);
  expect(page).toContain("psk: stored, sealed; changed");
  const pskHash = createHash("sha256").update(psk).digest("hex");
  const [pskAudit] = await audits("workspace.profile");
  for (const text of [page, JSON.stringify(stored), JSON.stringify(pskAudit)])
    expect(text).not.toContain(pskHash);
  expect(pskAudit?.detail).toMatchObject({ credentialsReplaced: "yes", secrets: { psk: "added" } });
  // A profile stored before: its unsalted SHA-256 fingerprints are never shown, only the names.
  const legacyHash = "ab".repeat(32);
  const { sealed: _sealed, ...legacy } = (stored?.profile ?? {}) as Record<string, unknown>;
  await p.database.db
    .update(workspaces)
    .set({ profile: { ...legacy, fingerprints: { psk: legacyHash } } });
  const legacyPage = await p.admin.page(path);
  expect(legacyPage).toContain("psk: stored, sealed");
  expect(legacyPage).not.toContain(legacyHash);
  // A remote identity strongSwan reads as "any identity": 400 naming the field, nothing stored.
  for (const remoteId of ["*", "0.0.0.0", "::", "CN=*"]) {
    await p.admin.get(path);
    await expectStatus(
      await p.admin.post(`${path}/profile`, {
        kind: "ipsec",
        remoteAddress: "vpn.acme.example",
        localId: "vendor@meetpoint.example",
        remoteId,
        auth: "psk",
        psk,
        remoteSubnets: "10.20.0.0/16",
      }),
      400,
      "remoteId",
    );
  }
  const [after] = await p.database.db.select().from(workspaces);
  expect(
    (after?.profile as { settings: { remoteId: string } } | undefined)?.settings.remoteId,
  ).toBe("vpn.acme.example");
  expect(page).toContain("udp/4500");
  expect(page).toContain("esp");
});

test("two changes proposed at once: one pending proposal remains, a loser is 409", async () => {
  const template = await templateNamed("Standard");
  const results = await Promise.allSettled(
    ["3072", "6144", "1024"].map((memoryMib) =>
      proposeChange(p.adminCtx, template.id, { ...VALUES, memoryMib }),
    ),
  );
  for (const r of results)
    if (r.status === "rejected") expect(r.reason).toBeInstanceOf(ConflictError);
  expect(results.some((r) => r.status === "fulfilled")).toBe(true);
  const pending = await p.database.db
    .select()
    .from(workspaceTemplateProposals)
    .where(
      and(
        eq(workspaceTemplateProposals.templateId, template.id),
        eq(workspaceTemplateProposals.state, "pending"),
      ),
    );
  expect(pending).toHaveLength(1);
});

test("deleting a workspace: only its managers; grants go with it; audited", async () => {
  const [workspace] = await p.database.db.select().from(workspaces);
  const path = `/workspaces/${workspace?.id}`;
  await custAdmin.post(`${path}/grants`, { userId: ids.othertech ?? "" });
  await expectStatus(await foreignAdmin.post(`${path}/delete`), 404);
  await expectStatus(await otherTech.post(`${path}/delete`), 403);
  await custAdmin.get(path);
  await expectStatus(await custAdmin.post(`${path}/delete`), 303);
  expect(await p.database.db.select().from(workspaces)).toHaveLength(0);
  expect((await audits("workspace.delete"))[0]?.detail).toMatchObject({
    name: "ACME",
    profileKind: "ipsec",
  });
  await expectStatus(await otherTech.get(path), 404);
});

test("a portal session passed a second factor only once its sign-in is complete", async () => {
  const u = await createUser(p.adminCtx, { username: "halfway", displayName: "Halfway" });
  const browser = new Browser(p.app);
  await browser.get("/sign-in");
  await browser.post("/sign-in", { username: "halfway", password: u.password });
  const [half] = await p.database.db
    .select()
    .from(webSessions)
    .where(eq(webSessions.userId, u.user.id));
  expect(half?.stage).toBe("change_password");
  expect(sessionPassedSecondFactor(half ?? null)).toBe(false);
  expect(sessionPassedSecondFactor(null)).toBe(false);
  const [ready] = await p.database.db
    .select()
    .from(webSessions)
    .where(eq(webSessions.userId, ids.tech ?? ""));
  expect(ready?.stage).toBe("ready");
  expect(sessionPassedSecondFactor(ready ?? null)).toBe(true);
});
