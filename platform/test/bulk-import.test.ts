// Bulk import: a file is checked whole and written all or nothing; every bad row is reported with
// its line; a second run changes nothing; the command line does the same.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { count, eq } from "drizzle-orm";
import type { Context } from "../src/access/index.ts";
import { runImport } from "../src/bulkimport/index.ts";
import {
  auditEntries,
  gateways,
  machines,
  openDatabase,
  services,
  sites,
} from "../src/db/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
let customerAdmin: Context;

const GOOD = [
  "customer,site,gateway,machine,lan_address,service,protocol,port,enabled",
  "ACME,Plant North,Hall 1,Press 1,192.168.0.10,Web UI,tcp,80,yes",
  "ACME,Plant North,Hall 1,Press 1,192.168.0.10,Modbus,tcp,502,no",
  'ACME,Plant North,Hall 1,"Press 2, left",192.168.0.11,,,,',
  "ACME,Plant South,,,,,,,",
].join("\n");

async function counted() {
  const n = async (table: typeof sites | typeof gateways | typeof machines | typeof services) =>
    (await p.database.db.select({ n: count() }).from(table))[0]?.n ?? 0;
  return {
    sites: await n(sites),
    gateways: await n(gateways),
    machines: await n(machines),
    services: await n(services),
  };
}

beforeAll(async () => {
  p = await testPlatform();
  const acme = await createCustomer(p.adminCtx, { name: "ACME" });
  await createCustomer(p.adminCtx, { name: "BOLT" });
  customerAdmin = {
    ...p.adminCtx,
    caller: {
      principal: {
        userId: p.adminCtx.caller.principal.userId,
        username: "ca",
        displayName: "ca",
        grants: [{ role: "customer_admin", customerId: acme.id }],
      },
      actor: { id: null, name: "acme-admin", ip: "198.18.0.5" },
    },
  };
}, 60_000);
afterAll(() => p.dispose());

describe("bulk import", () => {
  test("a good file is written whole; running it again changes nothing", async () => {
    const dry = await runImport(customerAdmin, p.proxyPool, GOOD, { dryRun: true });
    expect(dry).toMatchObject({
      ok: true,
      dryRun: true,
      created: { sites: 2, gateways: 1, machines: 2, services: 2 },
    });
    expect(await counted()).toEqual({ sites: 0, gateways: 0, machines: 0, services: 0 });

    const first = await runImport(customerAdmin, p.proxyPool, GOOD, { source: "machines.csv" });
    expect(first).toMatchObject({
      ok: true,
      problems: [],
      created: { sites: 2, gateways: 1, machines: 2, services: 2 },
    });
    expect(await counted()).toEqual({ sites: 2, gateways: 1, machines: 2, services: 2 });
    const [modbus] = await p.database.db.select().from(services).where(eq(services.name, "Modbus"));
    expect(modbus).toMatchObject({ protocol: "tcp", port: 502, enabled: false });

    const again = await runImport(customerAdmin, p.proxyPool, GOOD);
    expect(again).toMatchObject({
      ok: true,
      created: { sites: 0, gateways: 0, machines: 0, services: 0 },
      unchanged: { sites: 2, gateways: 1, machines: 2, services: 2 },
    });
    expect(await counted()).toEqual({ sites: 2, gateways: 1, machines: 2, services: 2 });
    const runs = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "import.run"));
    expect(runs.map((r) => r.result)).toEqual(["ok", "ok"]);
    expect(runs[0]?.actorName).toBe("acme-admin");
  });

  test("a formula, a duplicate, a bad address and a foreign customer: the whole file is refused with every line", async () => {
    const before = await counted();
    const bad = [
      "customer,site,gateway,machine,lan_address,service,protocol,port,enabled",
      "ACME,Plant East,Hall 9,Robot,192.168.5.1,Web,tcp,80,yes", // fine on its own
      'ACME,Plant East,Hall 9,"=HYPERLINK(""http://x"")",192.168.5.2,,,,',
      "ACME,Plant East,Hall 9,Robot,192.168.5.1,Web 2,tcp,80,yes", // duplicate port of line 2
      "ACME,Plant East,Hall 9,Welder,192.168.5.300,,,,",
      "ACME,Plant East,Hall 9,Loop,127.0.0.1,,,,",
      "ACME,Plant North,Hall 1,Press 1,192.168.0.99,,,,", // exists with another address
      "BOLT,Depot,Gate,Crane,10.0.0.5,,,,", // not this caller's customer
      "Nobody Inc,Depot,,,,,,,",
      "ACME,Plant East,Hall 9,Robot,192.168.5.1,SSH,tcp,99999,yes",
      "ACME,Plant East,Hall 9,Robot,192.168.5.1,Web,udp,80,maybe",
    ].join("\n");
    const report = await runImport(customerAdmin, p.proxyPool, bad);
    expect(report.ok).toBe(false);
    // Regression: only the first stage's problems (format) were reported; now every stage's, by line.
    expect(report.problems.map((x) => [x.line, x.column])).toEqual([
      [3, "machine"],
      [4, "port"],
      [5, "lan_address"],
      [6, "lan_address"],
      [7, "lan_address"],
      [8, "customer"],
      [9, "customer"],
      [10, "port"],
      [11, "enabled"],
    ]);
    expect(report.problems[0]?.message).toContain(
      'starts with "=": a spreadsheet formula is refused',
    );
    expect(report.problems[1]?.message).toContain("duplicate of line 2");
    expect(report.problems[4]?.message).toBe(
      'machine "Press 1" exists with LAN address 192.168.0.10',
    );
    expect(report.problems[5]?.message).toBe('no customer "BOLT" that you manage');
    expect(await counted()).toEqual(before);

    // With the rows fixed, the database's view: the foreign and unknown customers, the changed address.
    const second = await runImport(
      customerAdmin,
      p.proxyPool,
      bad
        .split("\n")
        .filter((_, i) => [0, 1, 6, 7, 8].includes(i))
        .join("\n"),
    );
    expect(second.problems.map((x) => [x.line, x.column, x.message])).toEqual([
      [3, "lan_address", 'machine "Press 1" exists with LAN address 192.168.0.10'],
      [4, "customer", 'no customer "BOLT" that you manage'],
      [5, "customer", 'no customer "Nobody Inc" that you manage'],
    ]);
    const third = await runImport(
      customerAdmin,
      p.proxyPool,
      bad
        .split("\n")
        .filter((_, i) => [0, 1, 6].includes(i))
        .join("\n"),
    );
    expect(third.problems).toEqual([
      {
        line: 3,
        column: "lan_address",
        message: 'machine "Press 1" exists with LAN address 192.168.0.10',
      },
    ]);
    expect(await counted()).toEqual(before);
    const refused = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "import.run"));
    expect(refused.filter((r) => r.result === "denied")).toHaveLength(3);
  });

  test("wrong columns, an empty file and broken CSV are refused with a reason", async () => {
    const cases: [string, string][] = [
      ["name,site\nx,y", "unknown column(s) name; missing column(s) customer"],
      // Regression: "unknown column(s) ; missing column(s) customer, site".
      ["", "the file is empty: its first line names the columns (customer, site, gateway"],
      ["\n\n", "the file is empty"],
      // Regression: no hint that the separator was the problem.
      [
        "customer;site\nACME;Plant",
        "the columns are separated by semicolons: save the file as CSV with commas; unknown column(s) customer;site",
      ],
      ["customer\tsite\nACME\tPlant", "separated by tabs"],
      ["customer,site\n", "the file has no rows"],
      ['customer,site\n"ACME,Plant', "not readable as CSV"],
    ];
    for (const [csv, message] of cases) {
      const report = await runImport(customerAdmin, p.proxyPool, csv);
      expect(report.ok).toBe(false);
      expect(report.problems[0]?.message).toContain(message);
    }
  });

  test("regression: a LAN address inside the proxy or tunnel pool is refused with its line", async () => {
    const pool = { ...p.proxyPool, reserved: [{ base: 0x647f0000, prefix: 16 }] };
    const report = await runImport(
      customerAdmin,
      pool,
      [
        "customer,site,gateway,machine,lan_address",
        "ACME,Plant West,GW,In Pool,100.64.0.5",
        "ACME,Plant West,GW,Fine,192.168.7.255",
      ].join("\n"),
    );
    expect(report.problems).toEqual([
      {
        line: 2,
        column: "lan_address",
        message:
          "100.64.0.5 lies in the proxy pool 100.64.0.0/10 (MEETPOINT_PROXY_POOL): a machine's LAN must not use the platform's address pools",
      },
    ]);
  });

  test("the mode column marks a service read-only Modbus; a bad or UDP one is refused with its line", async () => {
    const bad = await runImport(
      customerAdmin,
      p.proxyPool,
      [
        "customer,site,gateway,machine,lan_address,service,protocol,port,enabled,mode",
        "ACME,Plant Mode,GW,PLC 1,192.168.8.1,Modbus,tcp,502,yes,readonly",
        "ACME,Plant Mode,GW,PLC 1,192.168.8.1,Modbus UDP,udp,502,yes,read-only",
      ].join("\n"),
    );
    expect(bad.problems).toEqual([
      { line: 2, column: "mode", message: "must be full or read-only" },
      {
        line: 3,
        column: "mode",
        message: "read-only Modbus is Modbus/TCP: the protocol must be tcp",
      },
    ]);
    const good = await runImport(
      customerAdmin,
      p.proxyPool,
      [
        "customer,site,gateway,machine,lan_address,service,protocol,port,enabled,mode",
        "ACME,Plant Mode,GW,PLC 1,192.168.8.1,Modbus,tcp,502,yes,read-only",
        "ACME,Plant Mode,GW,PLC 1,192.168.8.1,Web,tcp,80,yes,",
      ].join("\n"),
    );
    expect(good.ok).toBe(true);
    const rows = await p.database.db.select().from(services);
    expect(rows.filter((r) => r.port === 502 && r.mode === "modbus-read-only")).toHaveLength(1);
    expect(rows.find((r) => r.name === "Web" && r.port === 80)?.mode).toBe("full");
  });

  test("bun run meetpoint import: the same checks and report on the command line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "meetpoint-import-"));
    try {
      const env: Record<string, string> = p.database.url
        ? { DATABASE_URL: p.database.url }
        : { MEETPOINT_DATA_DIR: dir, DATABASE_URL: "" };
      const cli = (args: string[]) =>
        Bun.spawnSync(["bun", join(import.meta.dir, "../src/cli.ts"), ...args], {
          env: { ...process.env, ...env },
          stdout: "pipe",
          stderr: "pipe",
        });
      const file = join(dir, "machines.csv");
      writeFileSync(
        file,
        "customer,site,gateway,machine,lan_address\nCLI Customer,Site,GW,M1,192.168.1.1\n",
      );
      if (!p.database.url) {
        // PGlite: the command line has a database of its own; it needs the customer too.
        const own = openDatabase({ url: null, dataDir: dir });
        await own.migrate();
        await createCustomer({ ...p.adminCtx, db: own.db }, { name: "ACME" });
        await own.close();
      }
      const unknown = cli(["import", file]);
      expect(unknown.exitCode).toBe(1);
      expect(unknown.stdout.toString()).toContain(
        'line 2, customer: no customer "CLI Customer" that you manage',
      );
      writeFileSync(
        file,
        "customer,site,gateway,machine,lan_address\nACME,CLI Site,GW,M1,192.168.1.1\n",
      );
      const imported = cli(["import", file]);
      expect(imported.stdout.toString()).toContain(
        "created: 1 site(s), 1 gateway(s), 1 machine(s), 0 service(s)",
      );
      expect(imported.exitCode).toBe(0);
      // Every object the command line made has its audit entry, as in the portal, and so does the run.
      const own = p.database.url ? null : openDatabase({ url: null, dataDir: dir });
      const actions = (
        await (own?.db ?? p.database.db)
          .select({ action: auditEntries.action })
          .from(auditEntries)
          .where(eq(auditEntries.actorName, "command line"))
      ).map((e) => e.action);
      await own?.close();
      for (const action of ["site.create", "gateway.create", "machine.create", "import.run"])
        expect(actions).toContain(action);
      const again = cli(["import", file]);
      expect(again.stdout.toString()).toContain(
        "unchanged (exist already): 1 site(s), 1 gateway(s), 1 machine(s)",
      );
      expect(again.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
