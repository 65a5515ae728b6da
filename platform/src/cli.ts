// `bun run meetpoint <command>`: administration from the command line.
import { createWriteStream, existsSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { privateDataDirectory } from "@meetpoint/common";
import { eq } from "drizzle-orm";
import type { JWK } from "jose";
import type { Context } from "./access/index.ts";
import {
  allEntries,
  checkExportedHeads,
  exportAudit,
  intactReport,
  parseHeadFile,
  verifyAuditChain,
} from "./audit/index.ts";
import { createBackup, restoreBackup } from "./backup/index.ts";
import { importReportText, runImport } from "./bulkimport/index.ts";
import { ConfigError, readConfig } from "./config.ts";
import {
  DataDirectoryInUseError,
  type Db,
  hasSchema,
  lockDataDirectory,
  openDatabase,
  roleAssignments,
  users,
} from "./db/index.ts";
import { createAdmin } from "./identity/index.ts";
import { isDomainError, systemClock, ValidationError } from "./shared/index.ts";

const HELP = `Usage: bun run meetpoint <command>

  admin create <username> [--name "Full Name"]   create a platform admin; prints a one-time password
  audit verify [--heads FILE] [--key JWK-FILE]    check the audit log's hash chain from the genesis or
                                                  the signed checkpoint retention left (exit 1 when
                                                  broken); --heads: exported heads (MEETPOINT_AUDIT_
                                                  HEAD_FILE) must all be in it; --key: the pinned
                                                  public key checkpoints and heads are signed with
  audit export [--format jsonl|csv] [--out FILE]  write the audit log (default JSON Lines to stdout)
  import FILE.csv [--dry-run] [--as USERNAME]     bulk import of sites, gateways, machines, services
                                                  (checked whole; nothing written if a row is bad;
                                                  exit 1 with every bad row's line). --as: with that
                                                  user's rights, attributed to them (default: the
                                                  command line, as a platform admin)
  backup create --out FILE                        back up the database: pg_dump (custom format) for
                                                  PostgreSQL, a tar.gz of the PGlite data directory
                                                  (stop the platform first); the KEK is NOT in it
  backup restore FILE                             restore into an empty database / data directory
  migrate                                         apply database migrations
  help                                            this text

The database comes from DATABASE_URL, else PGlite in MEETPOINT_DATA_DIR (default ./data). PGlite
serves one process: with the platform running on the same data directory, commands are refused
(stop it first); on PostgreSQL they run beside it.`;

/** Commands that may make a new database; the others refuse a data directory without one. */
const CREATING = ["admin create", "migrate", "backup restore"];

/** A one-line refusal: the message is printed, the process exits with 2. */
class Refusal extends Error {}

/** The text of a file the user named with `option`, or a Refusal saying why it cannot be read. */
function readUserFile(option: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Refusal(
      `${option} ${path}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (error as Error).message}`,
    );
  }
}

/**
 * Who a command acts as: the user named by --as with their own rights, or the command line
 * itself as a platform admin (whoever runs it holds the database anyway).
 */
async function commandLineContext(db: Db, username: string | undefined): Promise<Context> {
  if (!username) {
    return {
      db,
      clock: systemClock,
      caller: {
        principal: {
          userId: "00000000-0000-0000-0000-000000000000",
          username: "command-line",
          displayName: "command line",
          grants: [{ role: "platform_admin", customerId: null }],
        },
        actor: { id: null, name: "command line", ip: null },
      },
    };
  }
  const [user] = await db.select().from(users).where(eq(users.username, username));
  if (!user || user.disabledAt) throw new ValidationError("--as", `no enabled user "${username}"`);
  const grants = await db
    .select({
      role: roleAssignments.role,
      customerId: roleAssignments.customerId,
      siteId: roleAssignments.siteId,
    })
    .from(roleAssignments)
    .where(eq(roleAssignments.userId, user.id));
  return {
    db,
    clock: systemClock,
    caller: {
      principal: { userId: user.id, username, displayName: user.displayName, grants },
      actor: { id: user.id, name: `${username} (command line)`, ip: null },
    },
  };
}

const OPTIONS = {
  name: { type: "string" },
  format: { type: "string" },
  out: { type: "string" },
  heads: { type: "string" },
  "dry-run": { type: "boolean" },
  as: { type: "string" },
  key: { type: "string" },
} as const;
type Options = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"];

async function run(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    throw new Refusal(`${(error as Error).message} ("bun run meetpoint help" lists the options)`);
  }
  const { values, positionals } = parsed;
  const command = positionals[0] === "import" ? "import" : positionals.slice(0, 2).join(" ");
  if (!command || command === "help") {
    console.log(HELP);
    return 0;
  }
  const known = [
    "admin create",
    "audit verify",
    "audit export",
    "backup create",
    "backup restore",
    "import",
    "migrate",
  ];
  if (!known.includes(command)) {
    console.error(`Unknown command "${command}".\n\n${HELP}`);
    return 2;
  }

  const config = readConfig(process.env);
  // A mistyped or empty data directory is not a new, empty platform: nothing is made there.
  if (
    !config.databaseUrl &&
    !CREATING.includes(command) &&
    !existsSync(join(config.dataDir, "pglite", "PG_VERSION"))
  )
    throw new Refusal(
      `No database in MEETPOINT_DATA_DIR ${resolve(config.dataDir)}: check the path (or set DATABASE_URL for PostgreSQL).`,
    );
  const existed = existsSync(config.dataDir);
  privateDataDirectory("MEETPOINT_DATA_DIR", config.dataDir);
  const lock = config.databaseUrl ? null : lockDataDirectory(config.dataDir, "the command line");
  try {
    return await runCommand(command, values, positionals, config);
  } catch (error) {
    // A restore that failed into a data directory it made leaves nothing behind.
    if (command === "backup restore" && lock && !existed) {
      lock.release();
      rmSync(config.dataDir, { recursive: true, force: true });
    }
    throw error;
  } finally {
    lock?.release();
  }
}

async function runCommand(
  command: string,
  values: Options,
  positionals: string[],
  config: ReturnType<typeof readConfig>,
): Promise<number> {
  if (command.startsWith("backup ")) {
    const location = config.databaseUrl ? { url: config.databaseUrl } : { dataDir: config.dataDir };
    if (command === "backup create") {
      if (!values.out) {
        console.error("backup create needs --out FILE.");
        return 2;
      }
      const bytes = await createBackup(location, values.out);
      console.log(
        `Backup written to ${values.out} (${bytes} bytes). It does not contain the KEK: keep the KEK (MEETPOINT_KEK or ${config.kek && "file" in config.kek ? config.kek.file : "the KEK file"}) apart and safe — without it the CA and sealed secrets of a restored platform are lost.`,
      );
      return 0;
    }
    const file = positionals[2];
    if (!file) {
      console.error("backup restore needs the backup file.");
      return 2;
    }
    await restoreBackup(location, file);
    console.log(
      `Restored from ${file}. Start the platform with the same KEK as the backed-up one, then run "audit verify".`,
    );
    return 0;
  }
  const database = openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  try {
    if (!CREATING.includes(command) && !(await hasSchema(database.db)))
      throw new Refusal(
        'The database at DATABASE_URL holds no Meetpoint tables: check the URL ("migrate" or "backup restore" set up a new one).',
      );
    await database.migrate();
    const db = database.db;
    switch (command) {
      case "migrate":
        console.log("Migrations applied.");
        return 0;
      case "import": {
        const file = positionals[1];
        if (!file) {
          console.error("import needs a CSV file.");
          return 2;
        }
        const ctx = await commandLineContext(db, values.as);
        const pool = {
          pool: config.proxyPool,
          blockPrefix: config.gatewayBlockPrefix,
          reserved: [config.vpn.tunnelPool],
        };
        const report = await runImport(ctx, pool, readUserFile("import", file), {
          dryRun: values["dry-run"] ?? false,
          source: file,
        });
        console.log(importReportText(report));
        return report.ok ? 0 : 1;
      }
      case "admin create": {
        const username = positionals[2];
        if (!username) {
          console.error("admin create needs a username.");
          return 2;
        }
        const password = await inUserWords({ username: "<username>", displayName: "--name" }, () =>
          createAdmin(db, systemClock, { username, displayName: values.name, via: "command line" }),
        );
        console.log(
          `Created platform admin "${username}". One-time password (change at first sign-in):\n\n    ${password}\n`,
        );
        return 0;
      }
      case "audit verify": {
        // The files named are read and checked before the chain, so a bad one is a clear
        // refusal rather than "intact" followed by a failure.
        const key = values.key
          ? parseJson("--key", values.key, readUserFile("--key", values.key))
          : undefined;
        const heads = values.heads ? parseHeads(values.heads) : null;
        const result = await verifyAuditChain(db, key);
        if (!result.ok) {
          console.error(
            `Audit chain BROKEN at entry ${result.brokenAt}: ${result.reason} (${result.entries} entries verified before it)`,
          );
          return 1;
        }
        for (const line of intactReport(result)) console.log(line);
        if (heads) {
          const problems = await checkExportedHeads(db, heads, key);
          for (const problem of problems) console.error(`Exported head not confirmed: ${problem}`);
          if (problems.length) return 1;
          console.log(`  all ${heads.length} exported heads are in the chain`);
        }
        return 0;
      }
      case "audit export": {
        const format = values.format ?? "jsonl";
        if (format !== "jsonl" && format !== "csv") {
          console.error('--format must be "jsonl" or "csv".');
          return 2;
        }
        const out = values.out ? createWriteStream(values.out, { flags: "wx" }) : process.stdout;
        for await (const line of exportAudit(allEntries(db), format)) {
          if (!out.write(line)) await new Promise((resolve) => out.once("drain", resolve));
        }
        if (values.out)
          await new Promise((resolve) =>
            (out as ReturnType<typeof createWriteStream>).end(resolve),
          );
        return 0;
      }
    }
    return 2;
  } finally {
    await database.close();
  }
}

function parseJson(option: string, path: string, text: string): JWK {
  try {
    return JSON.parse(text);
  } catch {
    throw new Refusal(`${option} ${path}: not JSON`);
  }
}

function parseHeads(path: string): ReturnType<typeof parseHeadFile> {
  const text = readUserFile("--heads", path);
  try {
    return parseHeadFile(text);
  } catch (error) {
    throw new Refusal(`--heads ${path}, ${(error as Error).message}`);
  }
}

/** Runs `work`, naming a refused field as the command line calls it (`--name`, not displayName). */
async function inUserWords<T>(words: Record<string, string>, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ValidationError && words[error.field])
      throw new Refusal(`${words[error.field]}: ${error.message.slice(error.field.length + 2)}`);
    throw error;
  }
}

try {
  process.exitCode = await run(Bun.argv.slice(2));
} catch (error) {
  if (
    error instanceof Refusal ||
    error instanceof ConfigError ||
    error instanceof DataDirectoryInUseError ||
    isDomainError(error)
  ) {
    console.error(error.message);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
