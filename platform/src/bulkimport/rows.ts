// The CSV of a bulk import, read and checked row by row without the database: columns, formulas,
// names, addresses, ports, and rows that contradict each other. Pure: text in, rows and problems out.
import { parse } from "csv-parse/sync";
import { z } from "zod";
import { lanAddressSchema } from "../masterdata/index.ts";
import { nameSchema } from "../shared/index.ts";

/** The columns, in the order the template has them (README, "Bulk import"). */
export const COLUMNS = [
  "customer",
  "site",
  "gateway",
  "machine",
  "lan_address",
  "service",
  "protocol",
  "port",
  "enabled",
  "mode",
] as const;
const REQUIRED = ["customer", "site"] as const;

/** One problem: the line of the file (1 is the header) and, when known, the column. */
export interface ImportProblem {
  line: number;
  column: string | null;
  message: string;
}

export interface ImportRow {
  line: number;
  customer: string;
  site: string;
  gateway: string | null;
  machine: { name: string; lanAddress: string } | null;
  service: {
    name: string;
    protocol: "tcp" | "udp";
    port: number;
    enabled: boolean;
    mode: "full" | "modbus-read-only";
  } | null;
}

/** Largest file accepted, in bytes (about 50,000 rows). */
export const MAX_IMPORT_BYTES = 5 * 1024 * 1024;

// A leading = + - @ (or tab, CR) runs as a formula when the file is opened in a spreadsheet.
const FORMULA = /^[=+\-@\t\r]/;

const portSchema = z.coerce
  .number({ error: "must be a number" })
  .int("must be a whole number")
  .min(1, "must be between 1 and 65535")
  .max(65535, "must be between 1 and 65535");

/** The mode column: empty or "full"; "read-only" or "modbus-read-only" (TCP only). */
const MODES: Record<string, "full" | "modbus-read-only"> = {
  "": "full",
  full: "full",
  "read-only": "modbus-read-only",
  "modbus-read-only": "modbus-read-only",
};

const ENABLED: Record<string, boolean> = {
  "": true,
  yes: true,
  true: true,
  on: true,
  "1": true,
  no: false,
  false: false,
  off: false,
  "0": false,
};

function check<T>(
  schema: z.ZodType<T>,
  value: string,
  line: number,
  column: string,
  problems: ImportProblem[],
): T | null {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  problems.push({ line, column, message: result.error.issues[0]?.message ?? "invalid" });
  return null;
}

/**
 * Reads and checks the file: every problem, and the rows that are well-formed (to be checked
 * further, against the database — the file is written only when there is no problem at all).
 */
export function readImportCsv(text: string): { rows: ImportRow[]; problems: ImportProblem[] } {
  const problems: ImportProblem[] = [];
  if (Buffer.byteLength(text) > MAX_IMPORT_BYTES)
    return {
      rows: [],
      problems: [
        {
          line: 0,
          column: null,
          message: `the file is larger than ${MAX_IMPORT_BYTES / 1024 / 1024} MiB`,
        },
      ],
    };
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, {
      columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
      bom: true,
      info: true,
      skip_empty_lines: true,
      trim: true,
    });
  } catch (error) {
    const line = (error as { lines?: number }).lines ?? 0;
    return {
      rows: [],
      problems: [
        { line, column: null, message: `not readable as CSV: ${(error as Error).message}` },
      ],
    };
  }
  const header = text.replace(/^\uFEFF/, "").split(/\r?\n/, 1)[0] ?? "";
  if (header.trim() === "")
    return {
      rows: [],
      problems: [
        {
          line: 1,
          column: null,
          message: `the file is empty: its first line names the columns (${COLUMNS.join(", ")}), one row per line follows`,
        },
      ],
    };
  const columns = header.split(",").map((c) => c.trim().replace(/^"|"$/g, "").toLowerCase());
  const unknown = columns.filter((c) => !(COLUMNS as readonly string[]).includes(c));
  const missing = REQUIRED.filter((c) => !columns.includes(c));
  if (unknown.length || missing.length) {
    // A spreadsheet set to a comma-decimal locale saves "CSV" with semicolons (or tabs).
    const separator = !header.includes(",") && /[;\t]/.exec(header)?.[0];
    const parts = [
      separator
        ? `the columns are separated by ${separator === ";" ? "semicolons" : "tabs"}: save the file as CSV with commas`
        : "",
      unknown.length ? `unknown column(s) ${unknown.map((c) => (c ? c : '""')).join(", ")}` : "",
      missing.length ? `missing column(s) ${missing.join(", ")}` : "",
    ].filter(Boolean);
    return {
      rows: [],
      problems: [
        {
          line: 1,
          column: null,
          message: `${parts.join("; ")} — the columns are ${COLUMNS.join(", ")}`,
        },
      ],
    };
  }
  if (records.length === 0)
    return { rows: [], problems: [{ line: 1, column: null, message: "the file has no rows" }] };

  const rows: ImportRow[] = [];
  for (const { record, info } of records) {
    const line = info.lines;
    const cell = (column: (typeof COLUMNS)[number]) => record[column] ?? "";
    const before = problems.length;
    for (const column of COLUMNS) {
      if (FORMULA.test(cell(column)))
        problems.push({
          line,
          column,
          message: `starts with "${cell(column)[0]}": a spreadsheet formula is refused`,
        });
    }
    if (problems.length > before) continue;
    const customer = check(nameSchema, cell("customer"), line, "customer", problems);
    const site = check(nameSchema, cell("site"), line, "site", problems);
    const gateway = cell("gateway")
      ? check(nameSchema, cell("gateway"), line, "gateway", problems)
      : null;
    let machine: ImportRow["machine"] = null;
    if (cell("machine") || cell("lan_address")) {
      if (!cell("gateway"))
        problems.push({ line, column: "gateway", message: "a machine needs its gateway" });
      const name = check(nameSchema, cell("machine"), line, "machine", problems);
      const lanAddress = check(
        lanAddressSchema,
        cell("lan_address"),
        line,
        "lan_address",
        problems,
      );
      if (name && lanAddress) machine = { name, lanAddress };
    }
    let service: ImportRow["service"] = null;
    if (cell("service") || cell("protocol") || cell("port")) {
      if (!cell("machine"))
        problems.push({ line, column: "machine", message: "a service needs its machine" });
      const name = check(nameSchema, cell("service"), line, "service", problems);
      const protocol = check(
        z.enum(["tcp", "udp"], { error: "must be tcp or udp" }),
        cell("protocol").toLowerCase(),
        line,
        "protocol",
        problems,
      );
      const port = check(portSchema, cell("port"), line, "port", problems);
      const enabled = ENABLED[cell("enabled").toLowerCase()];
      if (enabled === undefined)
        problems.push({ line, column: "enabled", message: "must be yes or no" });
      const mode = MODES[cell("mode").toLowerCase()];
      if (mode === undefined)
        problems.push({ line, column: "mode", message: "must be full or read-only" });
      else if (mode === "modbus-read-only" && protocol === "udp")
        problems.push({
          line,
          column: "mode",
          message: "read-only Modbus is Modbus/TCP: the protocol must be tcp",
        });
      if (name && protocol && port && enabled !== undefined && mode !== undefined)
        service = { name, protocol, port, enabled, mode };
    }
    if (problems.length === before && customer && site)
      rows.push({ line, customer, site, gateway, machine, service });
  }
  problems.push(...contradictions(rows));
  return { rows, problems };
}

/** Rows that say different things about the same machine or service, or repeat a service. */
function contradictions(rows: ImportRow[]): ImportProblem[] {
  const problems: ImportProblem[] = [];
  const machines = new Map<string, ImportRow>();
  const addresses = new Map<string, ImportRow>();
  const services = new Map<string, ImportRow>();
  for (const row of rows) {
    if (!row.machine || !row.gateway) continue;
    const gatewayKey = JSON.stringify([row.customer, row.site, row.gateway]);
    const machineKey = JSON.stringify([gatewayKey, row.machine.name]);
    const seen = machines.get(machineKey);
    if (seen?.machine && seen.machine.lanAddress !== row.machine.lanAddress)
      problems.push({
        line: row.line,
        column: "lan_address",
        message: `machine "${row.machine.name}" has LAN address ${seen.machine.lanAddress} on line ${seen.line}`,
      });
    if (!seen) machines.set(machineKey, row);
    const addressKey = JSON.stringify([gatewayKey, row.machine.lanAddress]);
    const other = addresses.get(addressKey);
    if (other?.machine && other.machine.name !== row.machine.name)
      problems.push({
        line: row.line,
        column: "lan_address",
        message: `duplicate: LAN address ${row.machine.lanAddress} is machine "${other.machine.name}" on line ${other.line} (same gateway)`,
      });
    if (!other) addresses.set(addressKey, row);
    if (!row.service) continue;
    for (const key of [
      `name:${row.service.name}`,
      `port:${row.service.protocol}/${row.service.port}`,
    ]) {
      const serviceKey = JSON.stringify([machineKey, key]);
      const earlier = services.get(serviceKey);
      if (earlier) {
        problems.push({
          line: row.line,
          column: key.startsWith("name") ? "service" : "port",
          message: `duplicate of line ${earlier.line}: machine "${row.machine.name}" has this ${key.startsWith("name") ? "service name" : "protocol and port"} there`,
        });
        break;
      }
      services.set(serviceKey, row);
    }
  }
  return problems;
}
