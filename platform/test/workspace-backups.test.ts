// Backups of a workspace's home volume against a real dockerd and the real workspace image (built by
// workspace/image.sh): a file written as the desktop user is archived, changed and deleted, and the
// restore brings it back with its content and owner; the retention count; the restore refused while
// the workspace runs, for a foreign id, for a technician, and for a tampered or missing archive;
// two schedulers under one lease run once. Without Docker, the failure path is still tested.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { and, desc, eq } from "drizzle-orm";
import { prerequisite } from "../../common/test/support/prerequisite.ts";
import { buildWorkspaceImage, prerequisiteMissing } from "../../workspace/test/support.ts";
import type { Context } from "../src/access/index.ts";
import { auditEntries, workspaceBackups, workspaceRuns } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { JobLeases } from "../src/instances/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { UnavailableError } from "../src/shared/index.ts";
import {
  approveProposal,
  type BackupDeps,
  backupHomeVolume,
  backupPath,
  createWorkspace,
  fileDigest,
  grantAccess,
  homeVolumeName,
  proposeTemplate,
  pruneBackups,
  WorkspaceBackupSchedule,
} from "../src/workspaces/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type Browser, firstSignIn } from "./support/portal.ts";

const docker = new Docker();

const missing = prerequisite(
  "the workspace backup tests against Docker",
  await prerequisiteMissing(docker),
);

let p: TestPlatform;
let dir: string;
let deps: BackupDeps;
let image = "";
let workspaceId = "";
let foreignWorkspaceId = "";
let custAdmin: Browser;
let foreignAdmin: Browser;
let tech: Browser;
const volumes: string[] = [];

async function signIn(username: string, grant: Parameters<typeof grantRole>[2]) {
  const u = await createUser(p.adminCtx, { username, displayName: username.toUpperCase() });
  await grantRole(p.adminCtx, u.user.id, grant);
  const browser = (await firstSignIn(p.app, p.database.db, p.clock, username, u.password)).browser;
  return { browser, id: u.user.id };
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

/** Runs a shell command as the desktop user in a throw-away container on the home volume. */
async function inHome(script: string): Promise<string> {
  const container = await docker.createContainer({
    Image: image,
    Entrypoint: ["sh", "-c", script],
    User: "1000:1000",
    Tty: true,
    HostConfig: {
      Mounts: [{ Type: "volume", Source: homeVolumeName(workspaceId), Target: "/home/desk" }],
      NetworkMode: "none",
      CapDrop: ["ALL"],
    },
  });
  try {
    await container.start();
    const exit = await container.wait();
    const output = (await container.logs({ stdout: true, stderr: true })).toString();
    if (exit.StatusCode !== 0) throw new Error(`${script}: exit ${exit.StatusCode}: ${output}`);
    return output.replace(/\r/g, "");
  } finally {
    await container.remove({ force: true });
  }
}

async function backupsOf(id: string) {
  return p.database.db
    .select()
    .from(workspaceBackups)
    .where(eq(workspaceBackups.workspaceId, id))
    .orderBy(desc(workspaceBackups.createdAt));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "meetpoint-workspace-backups-"));
  p = await testPlatform({
    extraDeps: ({ db, clock }) => {
      // The portal's deps too; fallbackImage is set once the image is built (the template's
      // image is not on this host, so the helper falls back to it).
      deps = { db, clock, endpoints: [{ name: "unix:///var/run/docker.sock", docker }], dir };
      return { workspaceBackups: deps };
    },
  });
  const customer = await createCustomer(p.adminCtx, { name: "ACME" });
  const foreign = await createCustomer(p.adminCtx, { name: "Other" });
  const admin2 = await signIn("admin2", { role: "platform_admin", customerId: "" });
  custAdmin = (await signIn("custadmin", { role: "customer_admin", customerId: customer.id }))
    .browser;
  foreignAdmin = (await signIn("foreignadmin", { role: "customer_admin", customerId: foreign.id }))
    .browser;
  const t = await signIn("tech", { role: "technician", customerId: customer.id });
  tech = t.browser;
  const { template, proposal } = await proposeTemplate(p.adminCtx, {
    name: "Standard",
    image: `registry.lab.test:5000/meetpoint/workspace@sha256:${"a".repeat(64)}`,
    cpu: "1",
    memoryMib: "1024",
    pidsLimit: "256",
    idleTimeoutMinutes: "",
    replicas: "",
  });
  const approver: Context = {
    ...p.adminCtx,
    caller: {
      principal: {
        userId: admin2.id,
        username: "admin2",
        displayName: "ADMIN2",
        grants: [{ role: "platform_admin", customerId: null }],
      },
      actor: { id: admin2.id, name: "admin2", ip: null },
    },
  };
  await approveProposal(approver, proposal.id);
  workspaceId = (await createWorkspace(p.adminCtx, customer.id, { templateId: template.id })).id;
  foreignWorkspaceId = (await createWorkspace(p.adminCtx, foreign.id, { templateId: template.id }))
    .id;
  await grantAccess(p.adminCtx, workspaceId, { userId: t.id });
});

afterAll(async () => {
  if (!missing) {
    const helpers = await docker.listContainers({
      all: true,
      filters: { label: ["meetpoint.backup-helper"] },
    });
    for (const h of helpers) await docker.getContainer(h.Id).remove({ force: true });
    for (const v of volumes)
      await docker
        .getVolume(v)
        .remove({ force: true })
        .catch(() => {});
  }
  await p?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test("an unreachable Docker endpoint: backup_failed audited with the reason, nothing left", async () => {
  const socket = join(dir, "no-docker.sock");
  const unreachable = {
    ...deps,
    endpoints: [{ name: `unix://${socket}`, docker: new Docker({ socketPath: socket }) }],
  };
  const error = await backupHomeVolume(unreachable, workspaceId, "scheduled").catch((e) => e);
  expect(error).toBeInstanceOf(UnavailableError);
  expect(error.message).toContain(`Backing up ${homeVolumeName(workspaceId)} failed`);
  expect(error.message).toContain("no-docker.sock");
  const [entry] = await audits("workspace.backup_failed");
  expect(entry?.result).toBe("failed");
  expect(entry?.targetId).toBe(workspaceId);
  expect(JSON.stringify(entry?.detail)).toContain("no-docker.sock");
  expect(await backupsOf(workspaceId)).toHaveLength(0);
  expect(existsSync(join(dir, workspaceId))).toBe(false);
});

describe.skipIf(missing !== null)("against dockerd", () => {
  beforeAll(async () => {
    image = await buildWorkspaceImage();
    deps.fallbackImage = image;
  }, 900_000);

  test("a workspace that never started has no volume: skipped, and the page says so", async () => {
    expect(await backupHomeVolume(deps, foreignWorkspaceId, "scheduled")).toEqual({
      kind: "skipped",
      reason: `volume ${homeVolumeName(foreignWorkspaceId)} does not exist on unix:///var/run/docker.sock (never started)`,
    });
    await expectStatus(
      await p.admin.post(`/workspaces/${foreignWorkspaceId}/backups`, {}),
      409,
      "never started",
    );
    expect(await backupsOf(foreignWorkspaceId)).toHaveLength(0);
  });

  test("back up, change and delete, restore: the files come back with content and owner", async () => {
    const volume = homeVolumeName(workspaceId);
    volumes.push(volume);
    await docker.createVolume({ Name: volume, Labels: { "meetpoint.test": "workspace-backups" } });
    await inHome(
      "echo 'commissioning notes v1' > /home/desk/notes.txt && mkdir -p /home/desk/project && echo 'G1 X10' > /home/desk/project/part.nc",
    );

    await expectStatus(await custAdmin.post(`/workspaces/${workspaceId}/backups`, {}), 303);
    const [backup] = await backupsOf(workspaceId);
    if (!backup) throw new Error("no backup row");
    expect(backup.reason).toBe("manual");
    expect(backup.createdByName).toBe("custadmin");
    const file = backupPath(dir, backup);
    expect(await fileDigest(file)).toEqual({ sha256: backup.sha256, size: backup.sizeBytes });
    const listing = Bun.spawnSync(["tar", "tvf", file]).stdout.toString();
    expect(listing).toContain("./project/part.nc");
    const [created] = await audits("workspace.backup_created");
    expect(created?.actorName).toBe("custadmin");
    expect(created?.detail).toMatchObject({ backupId: backup.id, sha256: backup.sha256 });
    const page = await expectStatus(await custAdmin.get(`/workspaces/${workspaceId}`), 200);
    expect(page).toContain("Back up now");
    expect(page).toContain(backup.sha256.slice(0, 12));

    await inHome(
      // …and a directory the desktop user locked (chmod 000), which must not block the restore.
      "echo 'overwritten' > /home/desk/notes.txt && rm -r /home/desk/project && echo junk > /home/desk/later.txt && mkdir -p /home/desk/trap/sub && touch /home/desk/trap/sub/f && chmod 000 /home/desk/trap",
    );
    await expectStatus(
      await custAdmin.post(`/workspaces/${workspaceId}/backups/${backup.id}/restore`, {}),
      303,
    );
    const after = await inHome(
      "cat /home/desk/notes.txt /home/desk/project/part.nc; stat -c '%u:%g %n' /home/desk/notes.txt /home/desk/project/part.nc /home/desk; ls /home/desk",
    );
    expect(after).toContain("commissioning notes v1\nG1 X10\n");
    expect(after).toContain("1000:1000 /home/desk/notes.txt");
    expect(after).toContain("1000:1000 /home/desk/project/part.nc");
    expect(after).toContain("1000:1000 /home/desk\n");
    expect(after).not.toContain("later.txt");
    expect(after).not.toContain("trap");
    const [restored] = await audits("workspace.backup_restored");
    expect(restored?.result).toBe("ok");
    expect(restored?.actorName).toBe("custadmin");
    expect(restored?.detail).toMatchObject({ backupId: backup.id, sha256: backup.sha256 });
    // The helpers are gone; the volume stays.
    const helpers = await docker.listContainers({
      all: true,
      filters: { label: ["meetpoint.backup-helper"] },
    });
    expect(helpers).toHaveLength(0);
  }, 120_000);

  test("restore refused: running workspace (409), foreign id (404), technician (403)", async () => {
    const [backup] = await backupsOf(workspaceId);
    if (!backup) throw new Error("no backup row");
    await inHome("echo 'work since the backup' > /home/desk/notes.txt");
    const restore = `/workspaces/${workspaceId}/backups/${backup.id}/restore`;
    const [run] = await p.database.db
      .insert(workspaceRuns)
      .values({ workspaceId, state: "running", startedAt: p.clock.now() })
      .returning();
    await expectStatus(await p.admin.post(restore, {}), 409, "running");
    const [denied] = await audits("workspace.backup_restored");
    expect(denied?.result).toBe("denied");
    await p.database.db
      .update(workspaceRuns)
      .set({ state: "stopped", stoppedAt: p.clock.now() })
      .where(eq(workspaceRuns.id, run?.id ?? ""));

    await expectStatus(await foreignAdmin.post(restore, {}), 404);
    await expectStatus(
      await foreignAdmin.post(`/workspaces/${foreignWorkspaceId}/backups/${backup.id}/restore`, {}),
      404,
    );
    await expectStatus(await tech.post(restore, {}), 403);
    await expectStatus(await tech.post(`/workspaces/${workspaceId}/backups`, {}), 403);
    expect(await tech.get(`/workspaces/${workspaceId}`).then((r) => r.text())).not.toContain(
      "Back up now",
    );
    expect(await inHome("cat /home/desk/notes.txt")).toBe("work since the backup\n");
  }, 60_000);

  test("a tampered or missing archive is refused and nothing changes", async () => {
    const [backup] = await backupsOf(workspaceId);
    if (!backup) throw new Error("no backup row");
    const restore = `/workspaces/${workspaceId}/backups/${backup.id}/restore`;
    const file = backupPath(dir, backup);
    appendFileSync(file, "x");
    await expectStatus(await p.admin.post(restore, {}), 409, "does not match");
    rmSync(file);
    await expectStatus(await p.admin.post(restore, {}), 409, "missing");
    const denials = (await audits("workspace.backup_restored")).filter(
      (e) => e.result === "denied",
    );
    expect(denials.length).toBeGreaterThanOrEqual(3);
    expect(await inHome("cat /home/desk/notes.txt")).toBe("work since the backup\n");
    await p.database.db.delete(workspaceBackups).where(eq(workspaceBackups.id, backup.id));
  }, 60_000);

  test("an archive past MEETPOINT_WORKSPACE_BACKUP_MAX_MIB fails: the reason audited, no file, no row", async () => {
    await inHome("head -c 3000000 /dev/urandom > /home/desk/big.bin");
    const rows = (await backupsOf(workspaceId)).length;
    deps.maxBytes = 2 * 2 ** 20;
    try {
      const failed = backupHomeVolume(deps, workspaceId, "manual");
      await expect(failed).rejects.toBeInstanceOf(UnavailableError);
      await expect(failed).rejects.toThrow(/archive grew past the limit of 2 MiB/);
    } finally {
      deps.maxBytes = undefined;
    }
    expect(await backupsOf(workspaceId)).toHaveLength(rows);
    expect(readdirSync(join(dir, workspaceId)).filter((f) => !f.endsWith(".tar"))).toEqual([]);
    const [entry] = await audits("workspace.backup_failed");
    expect(entry?.detail).toMatchObject({ error: expect.stringContaining("2 MiB") });
    // Below the limit the same home is archived.
    await inHome("rm /home/desk/big.bin");
    deps.maxBytes = 2 * 2 ** 20;
    try {
      const outcome = await backupHomeVolume(deps, workspaceId, "manual");
      if (outcome.kind !== "created") throw new Error("not created");
      // Gone again: the retention test below counts what it makes.
      rmSync(backupPath(dir, outcome.backup));
      await p.database.db
        .delete(workspaceBackups)
        .where(eq(workspaceBackups.id, outcome.backup.id));
    } finally {
      deps.maxBytes = undefined;
    }
  }, 60_000);

  test("retention keeps the newest N per workspace, files and rows, audited once", async () => {
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      p.clock.advance(60_000);
      const outcome = await backupHomeVolume(deps, workspaceId, "scheduled");
      if (outcome.kind !== "created") throw new Error("not created");
      made.push(outcome.backup.id);
    }
    expect(await pruneBackups(deps, 2)).toBe(2);
    const kept = await backupsOf(workspaceId);
    expect(kept.map((b) => b.id)).toEqual(made.slice(2).reverse());
    for (const b of kept) expect(existsSync(backupPath(dir, b))).toBe(true);
    const [pruned] = await audits("workspace.backups_pruned");
    expect(pruned?.detail).toMatchObject({
      keep: 2,
      deleted: 2,
      perWorkspace: { [workspaceId]: 2 },
    });
    const files = Bun.spawnSync(["ls", join(dir, workspaceId)])
      .stdout.toString()
      .trim()
      .split("\n");
    expect(files).toHaveLength(2);
    // Nothing beyond the count: no deletion, no entry.
    const entries = (await audits("workspace.backups_pruned")).length;
    expect(await pruneBackups(deps, 2)).toBe(0);
    expect(await audits("workspace.backups_pruned")).toHaveLength(entries);
  }, 120_000);

  test("two schedulers under one lease: one run, then nothing until the interval passed", async () => {
    const schedule = (holder: string) =>
      new WorkspaceBackupSchedule({
        ...deps,
        leases: new JobLeases(p.database.db, p.clock, holder),
        everyMs: 24 * 3_600_000,
        keep: 3,
      });
    const a = schedule("instance-a");
    const b = schedule("instance-b");
    p.clock.advance(24 * 3_600_000);
    const before = (await backupsOf(workspaceId)).length;
    const results = await Promise.all([a.tick(), b.tick()]);
    const ran = results.filter((r) => r !== null);
    expect(ran).toEqual([{ created: 1, skipped: 1, failed: 0, pruned: 0 }]);
    expect(await backupsOf(workspaceId)).toHaveLength(before + 1);
    p.clock.advance(3_600_000);
    expect(await Promise.all([a.tick(), b.tick()])).toEqual([null, null]);
    p.clock.advance(23 * 3_600_000);
    const next = (await Promise.all([a.tick(), b.tick()])).filter((r) => r !== null);
    expect(next).toEqual([{ created: 1, skipped: 1, failed: 0, pruned: 1 }]);
    expect(await backupsOf(workspaceId)).toHaveLength(3);
    const scheduled = await p.database.db
      .select()
      .from(workspaceBackups)
      .where(
        and(
          eq(workspaceBackups.workspaceId, workspaceId),
          eq(workspaceBackups.reason, "scheduled"),
        ),
      );
    expect(scheduled.every((b) => b.createdByName === "system")).toBe(true);
  }, 120_000);
});
