// Archives of a deleted workspace (its backup rows went with it) are deleted by the retention run,
// audited; a live workspace's archives and anything not named like a workspace are left alone.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { desc, eq } from "drizzle-orm";
import { auditEntries } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { pruneBackups, workspaceEndpoints } from "../src/workspaces/index.ts";
import { arrangeMachine } from "./support/arrange.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { arrangeWorkspace } from "./support/workspace.ts";

let p: TestPlatform;
let dir: string;

beforeAll(async () => {
  p = await testPlatform();
  dir = mkdtempSync(join(tmpdir(), "meetpoint-backup-orphans-"));
});
afterAll(async () => {
  await p?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test("a deleted workspace's archives go at the next retention run, audited; others stay", async () => {
  const scene = await arrangeMachine(p, []);
  const admin2 = await createUser(p.adminCtx, { username: "admin2", displayName: "Admin 2" });
  await grantRole(p.adminCtx, admin2.user.id, { role: "platform_admin", customerId: "" });
  const { workspaceId } = await arrangeWorkspace(p, scene, admin2.user.id);
  const gone = crypto.randomUUID();
  for (const id of [workspaceId, gone]) {
    mkdirSync(join(dir, id));
    writeFileSync(join(dir, id, "20261201T000000Z-abcdef01.tar"), "archive");
  }
  mkdirSync(join(dir, "lost+found"));
  const deps = {
    db: p.database.db,
    clock: p.clock,
    endpoints: workspaceEndpoints([{ kind: "socket", socketPath: "/nonexistent.sock" }]),
    dir,
  };
  expect(await pruneBackups(deps, 7)).toBe(0);
  expect(existsSync(join(dir, gone))).toBe(false);
  expect(existsSync(join(dir, workspaceId, "20261201T000000Z-abcdef01.tar"))).toBe(true);
  expect(existsSync(join(dir, "lost+found"))).toBe(true);
  const [entry] = await p.database.db
    .select()
    .from(auditEntries)
    .where(eq(auditEntries.action, "workspace.backups_pruned"))
    .orderBy(desc(auditEntries.seq));
  expect(entry?.detail).toMatchObject({ deleted: 0, deletedWorkspaces: [gone] });
  // Nothing left to do: no entry.
  await pruneBackups(deps, 7);
  expect(
    await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "workspace.backups_pruned")),
  ).toHaveLength(1);
});
