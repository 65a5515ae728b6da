// The audit log: chain verification, tamper detection, append-only enforcement, export, CLI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asc, sql } from "drizzle-orm";
import {
  allEntries,
  exportAudit,
  intactReport,
  recordAudit,
  recordAuditAlone,
  SYSTEM_ACTOR,
  verifyAuditChain,
} from "../src/audit/index.ts";
import { auditEntries, inTransaction } from "../src/db/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { pgError } from "../src/shared/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
beforeAll(async () => {
  p = await testPlatform();
  for (const name of ["Alpha", "Beta", "Gamma"]) await createCustomer(p.adminCtx, { name });
}, 60_000);
afterAll(() => p.dispose());

/** Runs `work` with the append-only triggers off, as an attacker with owner rights could. */
async function asAttacker(work: () => Promise<unknown>) {
  await p.database.db.execute(sql`alter table audit_entries disable trigger user`);
  try {
    await work();
  } finally {
    await p.database.db.execute(sql`alter table audit_entries enable trigger user`);
  }
}

describe("audit chain", () => {
  test("an untouched log verifies", async () => {
    const result = await verifyAuditChain(p.database.db);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.entries).toBeGreaterThan(5);
  });

  test("a rolled-back change leaves a sequence gap; verify counts it and says it is no deletion", async () => {
    // Regression: "3618 entries, head 3628" read like ten deleted entries.
    await expect(
      inTransaction(p.database.db, async (tx) => {
        await recordAudit(tx, p.clock, {
          actor: SYSTEM_ACTOR,
          action: "pki.renewal",
          detail: { note: "rolled back" },
        });
        throw new Error("refused after the entry was written");
      }),
    ).rejects.toThrow("refused");
    await recordAuditAlone(p.database.db, p.clock, {
      actor: SYSTEM_ACTOR,
      action: "pki.renewal",
      detail: { note: "after the gap" },
    });
    const result = await verifyAuditChain(p.database.db);
    if (!result.ok) throw new Error(result.reason);
    expect(result.unusedSeqs).toBe(1);
    expect(result.headSeq - result.entries).toBe(1);
    const report = intactReport(result).join("\n");
    expect(report).toContain(
      `Audit chain intact: ${result.entries} entries, head ${result.headSeq}`,
    );
    expect(report).toContain(
      "1 sequence number was drawn by transactions that rolled back (refused changes) and carry no entry: not deletions",
    );
  });

  test("UPDATE, DELETE and TRUNCATE are refused by the database", async () => {
    const refusal = async (query: ReturnType<typeof sql>) => {
      try {
        await p.database.db.execute(query);
        return "accepted";
      } catch (error) {
        return pgError(error)?.code;
      }
    };
    const INSUFFICIENT_PRIVILEGE = "42501";
    expect(await refusal(sql`update audit_entries set actor_name = 'mallory'`)).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(await refusal(sql`delete from audit_entries`)).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await refusal(sql`truncate audit_entries`)).toBe(INSUFFICIENT_PRIVILEGE);
    expect((await verifyAuditChain(p.database.db)).ok).toBe(true);
  });

  test("changing any field of any row is detected at that row", async () => {
    const entries = await p.database.db.select().from(auditEntries).orderBy(asc(auditEntries.seq));
    const target = entries[3];
    if (!target) throw new Error("too few entries");
    const tamperings = [
      sql`update audit_entries set actor_name = 'mallory' where seq = ${target.seq}`,
      sql`update audit_entries set detail = '{"name":"Other"}' where seq = ${target.seq}`,
      sql`update audit_entries set at = at + interval '1 second' where seq = ${target.seq}`,
      sql`update audit_entries set result = 'failed' where seq = ${target.seq}`,
    ];
    for (const tampering of tamperings) {
      let original: unknown;
      await asAttacker(async () => {
        original = (
          await p.database.db.select().from(auditEntries).where(sql`seq = ${target.seq}`)
        )[0];
        await p.database.db.execute(tampering);
      });
      const result = await verifyAuditChain(p.database.db);
      expect(result).toMatchObject({ ok: false, brokenAt: target.seq });
      await asAttacker(async () => {
        const o = original as typeof target;
        await p.database.db
          .update(auditEntries)
          .set({ actorName: o.actorName, detail: o.detail, at: o.at, result: o.result })
          .where(sql`seq = ${target.seq}`);
      });
      expect((await verifyAuditChain(p.database.db)).ok).toBe(true);
    }
  });

  test("a deleted row breaks the link of the next one", async () => {
    const entries = await p.database.db.select().from(auditEntries).orderBy(asc(auditEntries.seq));
    const victim = entries[2];
    const next = entries[3];
    if (!victim || !next) throw new Error("too few entries");
    await asAttacker(() =>
      p.database.db.execute(sql`delete from audit_entries where seq = ${victim.seq}`),
    );
    const result = await verifyAuditChain(p.database.db);
    expect(result).toMatchObject({
      ok: false,
      brokenAt: next.seq,
      reason: "link to the previous entry does not match",
    });
    await asAttacker(() => p.database.db.insert(auditEntries).values(victim));
    expect((await verifyAuditChain(p.database.db)).ok).toBe(true);
  });

  test("concurrent writers keep one valid chain", async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        recordAuditAlone(p.database.db, p.clock, {
          actor: { id: null, name: `writer-${i}`, ip: null },
          action: "sign_out",
        }),
      ),
    );
    expect((await verifyAuditChain(p.database.db)).ok).toBe(true);
  });
});

describe("audit export", () => {
  test("JSON Lines carries every entry with its hashes", async () => {
    const lines: string[] = [];
    for await (const line of exportAudit(allEntries(p.database.db), "jsonl")) lines.push(line);
    const rows = await p.database.db.select().from(auditEntries);
    expect(lines).toHaveLength(rows.length);
    const first = JSON.parse(lines[0] ?? "{}");
    expect(first).toMatchObject({
      seq: expect.any(Number),
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      prevHash: "0".repeat(64),
    });
  });

  test("CSV quotes separators and neutralises spreadsheet formulas", async () => {
    await recordAuditAlone(p.database.db, p.clock, {
      actor: { id: null, name: '=HYPERLINK("http://x","y")', ip: null },
      action: "sign_out",
      detail: { note: "a,b\nc" },
    });
    let csv = "";
    for await (const line of exportAudit(allEntries(p.database.db), "csv")) csv += line;
    expect(csv.split("\r\n")[0]).toBe(
      "seq,at,actorId,actorName,action,targetType,targetId,customerId,ip,result,detail,prevHash,hash",
    );
    expect(csv).toContain(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csv).toContain('"{""note"":""a,b\\nc""}"');
  });

  test("the portal export filters by action", async () => {
    const response = await p.admin.get("/audit/export.jsonl?action=customer.");
    expect(response.status).toBe(200);
    const lines = (await response.text()).trim().split("\n");
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(JSON.parse(line).action).toBe("customer.create");
  });

  test("the filters live in the address, and the export links carry exactly them", async () => {
    const page = await p.admin.page("/audit?action=customer.&actor=adm&result=ok");
    expect(page).toContain('value="customer."');
    for (const format of ["jsonl", "csv"])
      expect(page).toContain(
        `href="/audit/export.${format}?action=customer.&amp;actor=adm&amp;result=ok" hx-boost="false" download="meetpoint-audit.${format}"`,
      );
    const shown = [...page.matchAll(/<td class="mono[^"]*"[^>]*>(customer\.create)<\/td>/g)].length;
    const exported = (
      await (await p.admin.get("/audit/export.jsonl?action=customer.&actor=adm&result=ok")).text()
    )
      .trim()
      .split("\n");
    expect(exported).toHaveLength(shown);
    const none = await p.admin.get("/audit/export.csv?actor=nobody-at-all");
    expect(none.status).toBe(200);
    expect((await none.text()).trim().split("\r\n")).toHaveLength(1);
  });

  test("an export that cannot be made is never a 200: bad filters 400, a failing query 500", async () => {
    // Regression: actor=a%00 answered 200 with an empty body (the query failed inside the stream).
    expect((await p.admin.get("/audit/export.jsonl?actor=a%00")).status).toBe(400);
    expect((await p.admin.get("/audit/export.csv?from=yesterday")).status).toBe(400);
    expect((await p.admin.get("/audit/export.csv?from=0000-01-01")).status).toBe(400);
    // The table gone from under the export (sessions and users still work): an error, not 200.
    await p.database.db.execute(sql`alter table audit_entries rename to audit_entries_away`);
    try {
      for (const format of ["jsonl", "csv"])
        expect((await p.admin.get(`/audit/export.${format}`)).status).toBe(500);
    } finally {
      await p.database.db.execute(sql`alter table audit_entries_away rename to audit_entries`);
    }
  });

  test("the audit page filters by result and rejects a malformed date with 400", async () => {
    const failedOnly = await p.admin.page("/audit?result=failed");
    expect(failedOnly).not.toMatch(/<td class="mono[^"]*"[^>]*>customer\.create<\/td>/);
    const bad = await p.admin.get("/audit?from=yesterday");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("From: must be a date");
  });
});

describe("command line", () => {
  const cli = (args: string[], env: Record<string, string>) =>
    Bun.spawnSync(["bun", join(import.meta.dir, "../src/cli.ts"), ...args], {
      env: { ...process.env, ...env },
      stdout: "pipe",
      stderr: "pipe",
    });

  test("admin create, audit verify, audit export, tamper detection, bad arguments", async () => {
    const dir = mkdtempSync(join(tmpdir(), "meetpoint-cli-"));
    const env: Record<string, string> = p.database.url
      ? { DATABASE_URL: p.database.url }
      : { MEETPOINT_DATA_DIR: dir };
    if (!p.database.url) env.DATABASE_URL = "";
    try {
      const created = cli(["admin", "create", "ops-admin", "--name", "Ops Admin"], env);
      expect(created.exitCode).toBe(0);
      expect(created.stdout.toString()).toMatch(/One-time password[^\n]*\n\n {4}\S{20}/);
      const duplicate = cli(["admin", "create", "ops-admin"], env);
      expect(duplicate.exitCode).toBe(2);
      expect(duplicate.stderr.toString()).toContain("A user with this username exists already.");

      const verified = cli(["audit", "verify"], env);
      expect(verified.stdout.toString()).toMatch(/Audit chain intact: \d+ entries/);
      expect(verified.exitCode).toBe(0);

      const exported = cli(["audit", "export", "--format", "csv"], env);
      expect(exported.exitCode).toBe(0);
      expect(exported.stdout.toString()).toContain("ops-admin");

      // Regression: a missing or malformed --heads file printed "intact", then a stack trace.
      const headsFile = join(dir, "heads.jsonl");
      writeFileSync(headsFile, "not json\n");
      for (const [heads, said] of [
        [join(dir, "missing.jsonl"), `--heads ${join(dir, "missing.jsonl")}: no such file`],
        [headsFile, `--heads ${headsFile}, line 1: not JSON`],
      ] as const) {
        const refused = cli(["audit", "verify", "--heads", heads], env);
        expect(refused.exitCode).toBe(2);
        expect(refused.stdout.toString()).toBe("");
        expect(refused.stderr.toString()).toBe(`${said}\n`);
      }
      // Regression: the field was called "input" — the command line's own words name it.
      const badName = cli(["admin", "create", "bad name!"], env);
      expect(badName.exitCode).toBe(2);
      expect(badName.stderr.toString()).toBe(
        "<username>: 2–64 characters: letters, digits, . _ @ -\n",
      );
      const badDisplay = cli(["admin", "create", "fine", "--name", " "], env);
      expect(badDisplay.stderr.toString()).toBe("--name: is required\n");
      expect(cli(["audit", "verify", "--frobnicate"], env).stderr.toString()).toContain(
        "Unknown option '--frobnicate'",
      );

      expect(cli(["audit", "export", "--format", "xml"], env).exitCode).toBe(2);
      expect(cli(["frobnicate"], env).exitCode).toBe(2);
      expect(cli(["migrate"], env).exitCode).toBe(0);

      if (p.database.url) {
        await asAttacker(() =>
          p.database.db.execute(sql`update audit_entries set action = 'nothing' where seq = 1`),
        );
        const broken = cli(["audit", "verify"], env);
        expect(broken.exitCode).toBe(1);
        expect(broken.stderr.toString()).toContain("Audit chain BROKEN at entry 1");
      } else {
        const tamper = `
          import { PGlite } from "@electric-sql/pglite";
          const db = new PGlite(${JSON.stringify(`${dir}/pglite`)});
          await db.exec("alter table audit_entries disable trigger user; update audit_entries set action = 'nothing' where seq = 1;");
          await db.close();`;
        const tampered = Bun.spawnSync(["bun", "-e", tamper], {
          cwd: join(import.meta.dir, ".."),
          stderr: "pipe",
        });
        expect(tampered.exitCode).toBe(0);
        const broken = cli(["audit", "verify"], env);
        expect(broken.exitCode).toBe(1);
        expect(broken.stderr.toString()).toContain("Audit chain BROKEN at entry 1");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("regression: read commands refuse a data directory without a database and make nothing there", () => {
    const parent = mkdtempSync(join(tmpdir(), "meetpoint-cli-"));
    const mistyped = join(parent, "dtaa");
    try {
      for (const args of [
        ["audit", "verify"],
        ["audit", "export"],
        ["import", "x.csv"],
      ]) {
        const refused = cli(args, { DATABASE_URL: "", MEETPOINT_DATA_DIR: mistyped });
        expect(refused.exitCode).toBe(2);
        expect(refused.stdout.toString()).toBe("");
        expect(refused.stderr.toString()).toBe(
          `No database in MEETPOINT_DATA_DIR ${mistyped}: check the path (or set DATABASE_URL for PostgreSQL).\n`,
        );
        expect(existsSync(mistyped)).toBe(false);
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  }, 60_000);
});
