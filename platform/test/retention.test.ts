// Retention with an injected clock: after 550 days the oldest audit entries and ended sessions go,
// behind a signed checkpoint from which `audit verify` still proves the rest; a checkpoint of an
// attacker's own is caught; exported heads reveal entries cut off the end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { count, eq, sql } from "drizzle-orm";
import { CompactSign, generateKeyPair } from "jose";
import {
  checkExportedHeads,
  checkpointClaims,
  parseHeadFile,
  verifyAuditChain,
} from "../src/audit/index.ts";
import { auditCheckpoints, auditEntries, remoteSessions } from "../src/db/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { auditSigner, RetentionSchedule } from "../src/retention/index.ts";
import { arrangeMachine } from "./support/arrange.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

const DAY = 86_400_000;
let p: TestPlatform;
let dir: string;
let schedule: RetentionSchedule;

async function entries(action?: string): Promise<number> {
  const [row] = await p.database.db
    .select({ n: count() })
    .from(auditEntries)
    .where(action ? eq(auditEntries.action, action) : undefined);
  return row?.n ?? 0;
}

beforeAll(async () => {
  p = await testPlatform();
  dir = mkdtempSync(join(tmpdir(), "meetpoint-retention-"));
  schedule = new RetentionSchedule({
    db: p.database.db,
    clock: p.clock,
    signer: await auditSigner(p.database.db, p.pki),
    retentionDays: 550,
    head: { file: join(dir, "heads.jsonl"), everyMs: 6 * 3_600_000 },
  });
}, 60_000);
afterAll(async () => {
  await p.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("retention", () => {
  test("day 560: entries and ended sessions older than 550 days go, behind a signed checkpoint; the rest verifies from it", async () => {
    // Day 0: master data and a remote session that ends.
    const scene = await arrangeMachine(p, [
      { name: "Web", protocol: "tcp", port: 80, enabled: true },
    ]);
    const { envelope } = await p.access.dataChannels.request(scene.gatewayId);
    const gateway = await dataChannelProfile(p, scene.gatewayId, envelope);
    expect((await p.access.connections.decide("0:1", serialOf(gateway))).allow).toBe(true);
    const { session } = await p.access.remoteSessions.request(scene.technician, scene.machineId, {
      reason: "old",
    });
    await p.access.remoteSessions.disconnect(scene.technician, session.id);
    const first = await schedule.tick();
    expect(first.ran).toEqual(["prune", "verify", "head"]);
    expect(first.pruned?.auditEntries).toBe(0);
    const day0 = await entries();

    p.clock.advance(300 * DAY);
    await createCustomer(p.adminCtx, { name: "Day 300" });
    const recent = await entries();

    p.clock.advance(260 * DAY);
    const { ran, pruned } = await schedule.tick();
    expect(ran).toEqual(["prune", "verify", "head"]);
    // Everything written on day 0 (including the first jobs' own entries) is older than 550 days.
    expect(pruned?.auditEntries).toBe(day0);
    expect(pruned?.remoteSessions).toBe(1);
    // The technician's Disconnect closed the data channel too; with its session gone, it goes.
    expect(pruned?.gatewaySessions).toBe(1);
    const [left] = await p.database.db.select({ n: count() }).from(remoteSessions);
    expect(left?.n).toBe(0);
    expect(await entries("customer.create")).toBe(1);
    expect(await entries()).toBe(recent - day0 + 3); // + retention.prune, audit.verify, audit.head_export

    const verified = await verifyAuditChain(p.database.db);
    expect(verified).toMatchObject({ ok: true, checkpoint: { prunedTotal: day0 } });
    if (!verified.ok) throw new Error(verified.reason);
    expect(verified.entries).toBe(await entries());
    const [checkpoint] = await p.database.db.select().from(auditCheckpoints);
    expect(checkpoint?.cutSeq).toBe(verified.checkpoint?.cutSeq);
    expect(checkpoint?.olderThan.getTime()).toBe(p.clock.now().getTime() - 550 * DAY);
    const [{ detail } = { detail: null }] = await p.database.db
      .select({ detail: auditEntries.detail })
      .from(auditEntries)
      .where(eq(auditEntries.action, "retention.prune"));
    expect(detail).toMatchObject({
      auditEntries: day0,
      remoteSessions: 1,
      checkpoint: checkpoint?.id,
    });
  });

  test("jobs run when due by the clock, not more often", async () => {
    expect((await schedule.tick()).ran).toEqual([]);
    p.clock.advance(6 * 3_600_000);
    expect((await schedule.tick()).ran).toEqual(["head"]);
    p.clock.advance(18 * 3_600_000);
    const next = await schedule.tick();
    expect(next.ran).toEqual(["prune", "verify", "head"]);
    expect(next.pruned?.auditEntries).toBe(0);
    expect(await entries("retention.prune")).toBe(1); // nothing pruned: nothing audited
    expect(await entries("audit.verify")).toBe(2); // day 0's was pruned with the rest of day 0
  });

  test("entries a checkpoint does not cover cannot be deleted; a checkpoint signed by another key is caught by verify", async () => {
    await expect(Promise.resolve(p.database.db.delete(auditEntries))).rejects.toThrow();
    const [head] = await p.database.db
      .select({ seq: auditEntries.seq, hash: auditEntries.hash })
      .from(auditEntries)
      .orderBy(sql`seq desc`)
      .limit(1);
    if (!head) throw new Error("empty log");
    // An attacker with write access to the database signs a checkpoint of their own to delete more.
    const { privateKey } = await generateKeyPair("ES256");
    const fields = {
      at: p.clock.now(),
      cutSeq: head.seq - 2,
      cutHash: "f".repeat(64),
      prunedTotal: 1,
      olderThan: p.clock.now(),
    };
    const forged = await new CompactSign(
      new TextEncoder().encode(JSON.stringify(checkpointClaims(fields))),
    )
      .setProtectedHeader({ alg: "ES256", kid: "attacker" })
      .sign(privateKey);
    await p.database.db
      .transaction(async (tx) => {
        await tx.insert(auditCheckpoints).values({ ...fields, signature: forged });
        const result = await verifyAuditChain(tx as never);
        expect(result).toMatchObject({ ok: false, reason: expect.stringContaining("unknown key") });
        tx.rollback();
      })
      .catch((error) => {
        if (!String(error).includes("Rollback")) throw error;
      });
    expect((await verifyAuditChain(p.database.db)).ok).toBe(true);
  });

  test("exported heads: all confirmed while the log is whole; entries cut off the end are named", async () => {
    const heads = parseHeadFile(readFileSync(join(dir, "heads.jsonl"), "utf8"));
    expect(heads.length).toBe(4);
    expect(await checkExportedHeads(p.database.db, heads)).toEqual([]);
    const last = heads.at(-1);
    if (!last) throw new Error("no head");
    // The table's owner can switch the trigger off: cut the newest entries off the end.
    await p.database.db.execute(
      sql`alter table audit_entries disable trigger audit_entries_append_only`,
    );
    await p.database.db.execute(sql`delete from audit_entries where seq >= ${last.seq}`);
    await p.database.db.execute(
      sql`alter table audit_entries enable trigger audit_entries_append_only`,
    );
    expect((await verifyAuditChain(p.database.db)).ok).toBe(true); // a shorter chain still links
    expect(await checkExportedHeads(p.database.db, heads)).toEqual([
      expect.stringContaining(`head ${last.seq} exported at ${last.at} is missing from the log`),
    ]);
    const tampered = { ...last, hash: "0".repeat(64) };
    expect((await checkExportedHeads(p.database.db, [tampered]))[0]).toContain(
      "fields differ from the signature",
    );
    expect(() => parseHeadFile('{"seq":1}\n')).toThrow("line 1: not an exported head");
  });
});
