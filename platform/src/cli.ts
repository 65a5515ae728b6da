// `bun run meetpoint <command>`: administration from the command line.

import { createWriteStream } from "node:fs";
import { parseArgs } from "node:util";
import { privateDataDirectory } from "@meetpoint/common";
import { allEntries, exportAudit, verifyAuditChain } from "./audit/index.ts";
import { ConfigError, readConfig } from "./config.ts";
import { openDatabase } from "./db/index.ts";
import { createAdmin } from "./identity/index.ts";
import { isDomainError, systemClock } from "./shared/index.ts";

const HELP = `Usage: bun run meetpoint <command>

  admin create <username> [--name "Full Name"]   create a platform admin; prints a one-time password
  audit verify                                    check the audit log's hash chain (exit 1 when broken)
  audit export [--format jsonl|csv] [--out FILE]  write the audit log (default JSON Lines to stdout)
  migrate                                         apply database migrations
  help                                            this text

The database comes from DATABASE_URL, else PGlite in MEETPOINT_DATA_DIR (default ./data).`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: "string" }, format: { type: "string" }, out: { type: "string" } },
  });
  const command = positionals.slice(0, 2).join(" ");
  if (!command || command === "help") {
    console.log(HELP);
    return 0;
  }
  const known = ["admin create", "audit verify", "audit export", "migrate"];
  if (!known.includes(command)) {
    console.error(`Unknown command "${command}".\n\n${HELP}`);
    return 2;
  }

  const config = readConfig(process.env);
  privateDataDirectory("MEETPOINT_DATA_DIR", config.dataDir);
  const database = openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  try {
    await database.migrate();
    const db = database.db;
    switch (command) {
      case "migrate":
        console.log("Migrations applied.");
        return 0;
      case "admin create": {
        const username = positionals[2];
        if (!username) {
          console.error("admin create needs a username.");
          return 2;
        }
        const password = await createAdmin(db, systemClock, {
          username,
          displayName: values.name,
          via: "command line",
        });
        console.log(
          `Created platform admin "${username}". One-time password (change at first sign-in):\n\n    ${password}\n`,
        );
        return 0;
      }
      case "audit verify": {
        const result = await verifyAuditChain(db);
        if (result.ok) {
          console.log(`Audit chain intact: ${result.entries} entries, head ${result.headHash}`);
          return 0;
        }
        console.error(
          `Audit chain BROKEN at entry ${result.brokenAt}: ${result.reason} (${result.entries} entries verified before it)`,
        );
        return 1;
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

try {
  process.exitCode = await run(Bun.argv.slice(2));
} catch (error) {
  if (error instanceof ConfigError || isDomainError(error)) {
    console.error(error.message);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
