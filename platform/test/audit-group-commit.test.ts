// recordAuditAlone's group commit: a burst of events is written together, in order, as one valid
// chain; an event the database refuses fails its own caller only. Both engines (DATABASE_URL).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { asc } from "drizzle-orm";
import { recordAuditAlone, SYSTEM_ACTOR, verifyAuditChain } from "../src/audit/index.ts";
import { auditEntries } from "../src/db/index.ts";
import { ManualClock } from "../src/shared/index.ts";
import { testDatabase } from "./support/database.ts";

let database: Awaited<ReturnType<typeof testDatabase>>;
const clock = new ManualClock(new Date("2030-01-01T00:00:00Z"));

beforeAll(async () => {
  database = await testDatabase();
});
afterAll(() => database.dispose());

const event = (n: number, note = `event ${n}`) => ({
  actor: SYSTEM_ACTOR,
  action: "gateway.report" as const,
  detail: { n, note },
});

test("a burst of 250 events is committed whole, in call order, as one chain", async () => {
  await Promise.all(
    Array.from({ length: 250 }, (_, n) => recordAuditAlone(database.db, clock, event(n))),
  );
  const rows = await database.db.select().from(auditEntries).orderBy(asc(auditEntries.seq));
  expect(rows.map((r) => (r.detail as { n: number }).n)).toEqual(
    Array.from({ length: 250 }, (_, n) => n),
  );
  expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true, entries: 250 });
});

test("an event the database refuses fails its caller; the others of its group are written", async () => {
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, (_, n) =>
      // A NUL character: jsonb refuses it (on both engines), after the hash was computed.
      recordAuditAlone(database.db, clock, event(1000 + n, n === 2 ? "bad \u0000" : "fine")),
    ),
  );
  expect(results.map((r) => r.status)).toEqual([
    "fulfilled",
    "fulfilled",
    "rejected",
    "fulfilled",
    "fulfilled",
  ]);
  const rows = await database.db.select().from(auditEntries).orderBy(asc(auditEntries.seq));
  expect(rows.slice(250).map((r) => (r.detail as { n: number }).n)).toEqual([
    1000, 1001, 1003, 1004,
  ]);
  expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true, entries: 254 });
});
