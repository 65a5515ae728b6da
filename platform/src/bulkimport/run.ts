// A bulk import: the file checked whole — rows, then against what exists and what the caller may
// manage — and only then written, in one transaction with its audit entries. Any problem, and
// nothing is written; the report names every row at fault with its line. Rows that exist already
// (same names, same addresses) are left as they are, so running the same file again changes nothing.
import { and, eq, inArray } from "drizzle-orm";
import { type Context, inScope, scopeOf } from "../access/index.ts";
import { recordAudit, recordAuditAlone } from "../audit/index.ts";
import { customers, gateways, inTransaction, machines, services, sites } from "../db/index.ts";
import {
  createGateway,
  createMachine,
  createService,
  createSite,
  lanAddressProblem,
  type ProxyPool,
} from "../masterdata/index.ts";
import { isDomainError } from "../shared/index.ts";
import { COLUMNS, type ImportProblem, type ImportRow, readImportCsv } from "./rows.ts";

export interface ImportCounts {
  sites: number;
  gateways: number;
  machines: number;
  services: number;
}

export interface ImportReport {
  ok: boolean;
  /** Every problem found, by line; empty when the import was written (or would be, in a dry run). */
  problems: ImportProblem[];
  created: ImportCounts;
  /** Rows' objects that exist already, exactly as the file says. */
  unchanged: ImportCounts;
  dryRun: boolean;
}

const zero = (): ImportCounts => ({ sites: 0, gateways: 0, machines: 0, services: 0 });

/** What exists for the customers the file names, keyed like the file (names). */
async function existing(ctx: Context, customerIds: string[]) {
  const db = ctx.db;
  const siteRows = customerIds.length
    ? await db.select().from(sites).where(inArray(sites.customerId, customerIds))
    : [];
  const gatewayRows = customerIds.length
    ? await db.select().from(gateways).where(inArray(gateways.customerId, customerIds))
    : [];
  const machineRows = customerIds.length
    ? await db.select().from(machines).where(inArray(machines.customerId, customerIds))
    : [];
  const serviceRows = customerIds.length
    ? await db.select().from(services).where(inArray(services.customerId, customerIds))
    : [];
  return { siteRows, gatewayRows, machineRows, serviceRows };
}

/**
 * Checks `csv` whole and, when nothing is wrong and `dryRun` is false, writes it. Audited as
 * `import.run` (denied with the problems when refused).
 */
export async function runImport(
  ctx: Context,
  pool: ProxyPool,
  csv: string,
  options: { dryRun?: boolean; source?: string } = {},
): Promise<ImportReport> {
  const dryRun = options.dryRun ?? false;
  const report: ImportReport = {
    ok: false,
    problems: [],
    created: zero(),
    unchanged: zero(),
    dryRun,
  };
  // Every stage runs on the rows it can check, so one report names every problem of the file.
  const { rows, problems } = readImportCsv(csv);
  report.problems = [
    ...problems,
    ...poolProblems(pool, rows),
    ...(await checkAgainstDatabase(ctx, rows)),
  ].sort((a, b) => a.line - b.line || columnOrder(a.column) - columnOrder(b.column));
  if (report.problems.length === 0) {
    try {
      await inTransaction(ctx.db, async (tx) => {
        await write({ ...ctx, db: tx }, pool, rows, report);
        // A dry run writes too, to count exactly, and then undoes it all.
        if (dryRun) throw new DryRunDone();
        await recordAudit(tx, ctx.clock, {
          actor: ctx.caller.actor,
          action: "import.run",
          detail: {
            source: options.source ?? null,
            rows: rows.length,
            created: report.created,
            unchanged: report.unchanged,
          },
        });
      });
    } catch (error) {
      if (!(error instanceof DryRunDone)) {
        if (!isDomainError(error)) throw error;
        report.created = zero();
        report.unchanged = zero();
        report.problems = [
          { line: 0, column: null, message: `nothing was written: ${error.message}` },
        ];
      }
    }
  }
  report.ok = report.problems.length === 0;
  if (!report.ok)
    await recordAuditAlone(ctx.db, ctx.clock, {
      actor: ctx.caller.actor,
      action: "import.run",
      result: "denied",
      detail: {
        source: options.source ?? null,
        dryRun,
        problems: report.problems.slice(0, 50),
        problemCount: report.problems.length,
      },
    });
  return report;
}

/** LAN addresses the platform's proxy or tunnel pool holds. */
function poolProblems(pool: ProxyPool, rows: ImportRow[]): ImportProblem[] {
  return rows.flatMap((row) => {
    const problem = row.machine ? lanAddressProblem(pool, row.machine.lanAddress) : null;
    return problem ? [{ line: row.line, column: "lan_address", message: problem }] : [];
  });
}

const columnOrder = (column: string | null) =>
  column === null ? -1 : (COLUMNS as readonly string[]).indexOf(column);

/** Customers by name among those the caller manages; existing objects that contradict the file. */
async function checkAgainstDatabase(ctx: Context, rows: ImportRow[]): Promise<ImportProblem[]> {
  const problems: ImportProblem[] = [];
  const names = [...new Set(rows.map((r) => r.customer))];
  const found = names.length
    ? await ctx.db.select().from(customers).where(inArray(customers.name, names))
    : [];
  const manage = scopeOf(ctx.caller.principal, "masterdata.manage");
  const ids = new Map<string, string>();
  for (const row of rows) {
    const customer = found.find((c) => c.name === row.customer);
    // Unknown and foreign customers read alike: the file learns nothing about others' data.
    if (!customer || !inScope(manage, customer.id))
      problems.push({
        line: row.line,
        column: "customer",
        message: `no customer "${row.customer}" that you manage`,
      });
    else ids.set(row.customer, customer.id);
  }
  const { siteRows, gatewayRows, machineRows, serviceRows } = await existing(ctx, [
    ...ids.values(),
  ]);
  for (const row of rows) {
    if (!ids.has(row.customer)) continue;
    const site = siteRows.find(
      (s) => s.customerId === ids.get(row.customer) && s.name === row.site,
    );
    const gateway =
      site && row.gateway
        ? gatewayRows.find((g) => g.siteId === site.id && g.name === row.gateway)
        : undefined;
    if (!gateway || !row.machine) continue;
    const byName = machineRows.find(
      (m) => m.gatewayId === gateway.id && m.name === row.machine?.name,
    );
    const byAddress = machineRows.find(
      (m) => m.gatewayId === gateway.id && m.lanAddress === row.machine?.lanAddress,
    );
    if (byName && byName.lanAddress !== row.machine.lanAddress)
      problems.push({
        line: row.line,
        column: "lan_address",
        message: `machine "${byName.name}" exists with LAN address ${byName.lanAddress}`,
      });
    else if (byAddress && byAddress.name !== row.machine.name)
      problems.push({
        line: row.line,
        column: "lan_address",
        message: `duplicate: LAN address ${byAddress.lanAddress} is machine "${byAddress.name}" on this gateway already`,
      });
    if (!byName || !row.service) continue;
    const service = row.service;
    const sameName = serviceRows.find((s) => s.machineId === byName.id && s.name === service.name);
    const samePort = serviceRows.find(
      (s) =>
        s.machineId === byName.id && s.protocol === service.protocol && s.port === service.port,
    );
    if (
      sameName &&
      (sameName.protocol !== service.protocol ||
        sameName.port !== service.port ||
        sameName.enabled !== service.enabled ||
        sameName.mode !== service.mode)
    )
      problems.push({
        line: row.line,
        column: "service",
        message: `service "${service.name}" exists as ${sameName.protocol}/${sameName.port}${sameName.enabled ? "" : " (disabled)"}${sameName.mode === "full" ? "" : " (read-only Modbus)"}`,
      });
    else if (samePort && samePort.name !== service.name)
      problems.push({
        line: row.line,
        column: "port",
        message: `duplicate: ${service.protocol}/${service.port} is service "${samePort.name}" of this machine already`,
      });
  }
  return problems;
}

/** Creates what is missing, row by row, through the master-data rules (each with its audit entry). */
async function write(
  ctx: Context,
  pool: ProxyPool,
  rows: ImportRow[],
  report: ImportReport,
): Promise<void> {
  const ids = new Map<string, string>();
  const seen = new Set<string>();
  const once = (kind: keyof ImportCounts, key: string, created: boolean) => {
    if (seen.has(`${kind}:${key}`)) return;
    seen.add(`${kind}:${key}`);
    report[created ? "created" : "unchanged"][kind]++;
  };
  for (const row of rows) {
    const [customer] = await ctx.db
      .select()
      .from(customers)
      .where(eq(customers.name, row.customer));
    if (!customer) throw new Error(`customer ${row.customer} vanished during the import`);
    const siteKey = JSON.stringify([customer.id, row.site]);
    let siteId = ids.get(siteKey);
    if (!siteId) {
      const [site] = await ctx.db
        .select()
        .from(sites)
        .where(and(eq(sites.customerId, customer.id), eq(sites.name, row.site)));
      siteId = site?.id ?? (await createSite(ctx, customer.id, { name: row.site })).id;
      once("sites", siteKey, !site);
      ids.set(siteKey, siteId);
    }
    if (!row.gateway) continue;
    const gatewayKey = JSON.stringify([siteId, row.gateway]);
    let gatewayId = ids.get(gatewayKey);
    if (!gatewayId) {
      const [gateway] = await ctx.db
        .select()
        .from(gateways)
        .where(and(eq(gateways.siteId, siteId), eq(gateways.name, row.gateway)));
      gatewayId =
        gateway?.id ?? (await createGateway(ctx, pool, siteId, { name: row.gateway })).gateway.id;
      once("gateways", gatewayKey, !gateway);
      ids.set(gatewayKey, gatewayId);
    }
    if (!row.machine) continue;
    const machineKey = JSON.stringify([gatewayId, row.machine.name]);
    let machineId = ids.get(machineKey);
    if (!machineId) {
      const [machine] = await ctx.db
        .select()
        .from(machines)
        .where(and(eq(machines.gatewayId, gatewayId), eq(machines.name, row.machine.name)));
      machineId = machine?.id ?? (await createMachine(ctx, pool, gatewayId, row.machine)).id;
      once("machines", machineKey, !machine);
      ids.set(machineKey, machineId);
    }
    if (!row.service) continue;
    const [service] = await ctx.db
      .select()
      .from(services)
      .where(and(eq(services.machineId, machineId), eq(services.name, row.service.name)));
    if (!service) await createService(ctx, machineId, row.service);
    once("services", JSON.stringify([machineId, row.service.name]), !service);
  }
}

class DryRunDone extends Error {}

/** The report as people read it: every problem with its line, or the counts. */
export function importReportText(report: ImportReport): string {
  const counts = (c: ImportCounts) =>
    `${c.sites} site(s), ${c.gateways} gateway(s), ${c.machines} machine(s), ${c.services} service(s)`;
  if (!report.ok) {
    return [
      `Import refused: ${report.problems.length} problem(s); nothing was written.`,
      ...report.problems.map(
        (p) => `  line ${p.line}${p.column ? `, ${p.column}` : ""}: ${p.message}`,
      ),
    ].join("\n");
  }
  return [
    report.dryRun ? "Dry run: the file is fine; nothing was written." : "Imported.",
    `  ${report.dryRun ? "would create" : "created"}: ${counts(report.created)}`,
    `  unchanged (exist already): ${counts(report.unchanged)}`,
  ].join("\n");
}
