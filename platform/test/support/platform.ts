// A complete portal on a test database with a manual clock and a bootstrap admin already signed in.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCidr } from "@meetpoint/common";
import { desc, eq } from "drizzle-orm";
import type { Context } from "../../src/access/index.ts";
import { auditEntries, roleAssignments, users } from "../../src/db/index.ts";
import { createAdmin, OidcClients } from "../../src/identity/index.ts";
import { loadKek, Pki } from "../../src/pki/index.ts";
import {
  createRemoteAccess,
  RecordingDataPlane,
  type RemoteAccess,
  type RemoteAccessDeps,
} from "../../src/sessions/index.ts";
import { ManualClock } from "../../src/shared/index.ts";
import { type AppDeps, AuthFailures, createApp } from "../../src/web/index.ts";

import { type TestDatabase, testDatabase } from "./database.ts";
import { type Browser, firstSignIn } from "./portal.ts";

export interface TestPlatform {
  database: TestDatabase;
  clock: ManualClock;
  app: ReturnType<typeof createApp>;
  pki: Pki;
  access: RemoteAccess;
  /** What `access` was made from, for tests that make a variant of it. */
  accessDeps: RemoteAccessDeps;
  dataPlane: RecordingDataPlane;
  /** Failed sign-ins, API tokens, gateway secrets; a test calls flush() to have them audited. */
  authFailures: AuthFailures;
  admin: Browser;
  /** A domain context acting as the bootstrap admin (for arranging data quickly). */
  adminCtx: Context;
  proxyPool: { pool: NonNullable<ReturnType<typeof parseCidr>>; blockPrefix: number };
  /** The newest audit entry of `action` (e.g. "workspace.start"), or undefined. */
  lastAudit(action: string): Promise<typeof auditEntries.$inferSelect | undefined>;
  dispose(): Promise<void>;
}

export async function testPlatform(
  options: {
    pool?: string;
    blockPrefix?: number;
    publicUrl?: string;
    /** The database to use instead of a fresh one of testDatabase(). */
    database?: TestDatabase;
    /** Dependencies of the app beyond the usual ones (metrics, API, alerts), given the platform's parts. */
    extraDeps?: (parts: {
      db: TestDatabase["db"];
      clock: ManualClock;
      pki: Pki;
      access: RemoteAccess;
    }) => Partial<AppDeps>;
  } = {},
): Promise<TestPlatform> {
  const database = options.database ?? (await testDatabase());
  const clock = new ManualClock(new Date());
  const pool = parseCidr(options.pool ?? "100.64.0.0/10");
  if (!pool) throw new Error("bad test pool");
  const proxyPool = { pool, blockPrefix: options.blockPrefix ?? 24 };
  const trustDir = mkdtempSync(join(tmpdir(), "meetpoint-trust-"));
  const pki = await Pki.open({
    db: database.db,
    kek: await loadKek({ hex: "11".repeat(32) }),
    clock,
    policy: {
      technicianSeconds: 600,
      gatewaySeconds: 600,
      dataChannelSeconds: 30 * 86_400,
      clockSkewSeconds: 120,
    },
    trustDir,
  });
  const dataPlane = new RecordingDataPlane([
    {
      index: 0,
      protocol: "tcp",
      listenAddress: null,
      port: 443,
      tunnelNetwork: parseCidr("100.127.0.0/20") ?? pool,
    },
  ]);
  const accessDeps: RemoteAccessDeps = {
    db: database.db,
    clock,
    pki,
    dataPlane,
    proxyPool,
    vpn: { host: "platform.lab.test", remoteSessionSeconds: 3600 },
  };
  const access = createRemoteAccess(accessDeps);
  const authFailures = new AuthFailures(database.db, clock);
  const app = createApp({
    db: database.db,
    authFailures,
    oidc: {
      db: database.db,
      clock,
      pki,
      clients: new OidcClients(pki, options.publicUrl ?? "https://platform.lab.test"),
    },
    clock,
    session: { idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000 },
    proxyPool,
    pki,
    access,
    enrollment: { platformUrl: "https://platform.lab.test", validMs: 7 * 86_400_000 },
    ...options.extraDeps?.({ db: database.db, clock, pki, access }),
  });
  const oneTime = await createAdmin(database.db, clock, { username: "admin", via: "test" });
  const { browser } = await firstSignIn(app, database.db, clock, "admin", oneTime);
  const [admin] = await database.db.select().from(users).where(eq(users.username, "admin"));
  if (!admin) throw new Error("admin missing");
  const grants = await database.db
    .select()
    .from(roleAssignments)
    .where(eq(roleAssignments.userId, admin.id));
  const adminCtx: Context = {
    db: database.db,
    clock,
    caller: {
      principal: {
        userId: admin.id,
        username: "admin",
        displayName: "admin",
        grants: grants.map((g) => ({ role: g.role, customerId: g.customerId })),
      },
      actor: { id: admin.id, name: "admin", ip: "198.18.0.1" },
    },
  };
  return {
    database,
    clock,
    app,
    admin: browser,
    adminCtx,
    proxyPool,
    pki,
    access,
    accessDeps,
    dataPlane,
    authFailures,
    lastAudit: async (action) =>
      (
        await database.db
          .select()
          .from(auditEntries)
          .where(eq(auditEntries.action, action))
          .orderBy(desc(auditEntries.seq))
          .limit(1)
      )[0],
    dispose: async () => {
      await database.dispose();
      rmSync(trustDir, { recursive: true, force: true });
    },
  };
}
