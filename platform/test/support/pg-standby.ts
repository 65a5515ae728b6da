// A real PostgreSQL primary and hot standby (Debian's PostgreSQL 15 binaries) in temporary
// directories on free loopback ports, run as the `postgres` OS user: streaming replication with a
// synchronous standby (synchronous_commit = remote_apply), so a commit the primary acknowledges is
// already applied on the standby. For failover tests: stop the primary hard, promote the standby.
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = "/usr/lib/postgresql/15/bin";

export interface StandbyPair {
  primaryPort: number;
  standbyPort: number;
  /** postgres.js/libpq URL naming both servers, connecting only to the one that is primary. */
  url: string;
  /** Stops the primary at once, as a crash would (pg_ctl stop -m immediate). */
  killPrimary(): Promise<void>;
  /** Promotes the standby to primary (pg_ctl promote, waits until it accepts writes). */
  promoteStandby(): Promise<void>;
  /** Stops both servers and removes their directories (safe to call more than once). */
  dispose(): Promise<void>;
}

/**
 * Why a standby pair cannot be made here, or null when it can: it needs root (to run the servers
 * as `postgres`), that user, and PostgreSQL 15's server binaries.
 */
export async function standbyPairMissing(): Promise<string | null> {
  if (process.getuid?.() !== 0) return "needs root to run PostgreSQL as the postgres user";
  if (!(await Bun.file(`${BIN}/pg_ctl`).exists())) return `needs PostgreSQL 15 (${BIN}/pg_ctl)`;
  const id = Bun.spawnSync(["id", "-u", "postgres"]);
  if (id.exitCode !== 0) return "needs the postgres OS user";
  return null;
}

/**
 * Makes and starts the pair; resolves once the standby streams synchronously. Throws with the
 * failing command's output; what was made is removed then.
 */
export async function startStandbyPair(): Promise<StandbyPair> {
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-pg-ha-"));
  const uid = Number(Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim());
  const gid = Number(Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim());
  chownSync(dir, uid, gid);
  const primary = join(dir, "primary");
  const standby = join(dir, "standby");
  const primaryPort = await freePort(55_432);
  const standbyPort = await freePort(primaryPort + 1);
  const started: string[] = [];
  const stopAll = async () => {
    for (const data of started.splice(0))
      await asPostgres([`${BIN}/pg_ctl`, "-D", data, "-m", "immediate", "stop"]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await asPostgres([`${BIN}/initdb`, "-D", primary, "-U", "postgres", "--auth=trust", "-N"]);
    await appendFile(
      join(primary, "postgresql.conf"),
      [
        "listen_addresses = '127.0.0.1'",
        `port = ${primaryPort}`,
        `unix_socket_directories = '${dir}'`,
        "wal_level = replica",
        "max_wal_senders = 4",
        "hot_standby = on",
        // A commit returns only once the standby has applied it: nothing acknowledged is lost.
        "synchronous_standby_names = 'standby'",
        "synchronous_commit = remote_apply",
        "",
      ].join("\n"),
    );
    await pgCtlStart(primary);
    started.push(primary);
    await asPostgres([
      `${BIN}/pg_basebackup`,
      "-h",
      "127.0.0.1",
      "-p",
      String(primaryPort),
      "-U",
      "postgres",
      "-D",
      standby,
      "-X",
      "stream",
      "-R",
    ]);
    // postgresql.auto.conf wins over the copied postgresql.conf. Once promoted, the standby has no
    // standby of its own: it must not wait for one.
    await appendFile(
      join(standby, "postgresql.auto.conf"),
      [
        `port = ${standbyPort}`,
        `primary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=postgres application_name=standby'`,
        "synchronous_standby_names = ''",
        "",
      ].join("\n"),
    );
    await pgCtlStart(standby);
    started.push(standby);
    await waitForSyncStandby(primaryPort);
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    primaryPort,
    standbyPort,
    url: `postgres://postgres@127.0.0.1:${primaryPort},127.0.0.1:${standbyPort}/postgres?target_session_attrs=primary`,
    async killPrimary() {
      await asPostgres([`${BIN}/pg_ctl`, "-D", primary, "-m", "immediate", "stop"]);
    },
    async promoteStandby() {
      await asPostgres([`${BIN}/pg_ctl`, "-D", standby, "-w", "promote"]);
    },
    dispose: stopAll,
  };
}

async function pgCtlStart(data: string): Promise<void> {
  await asPostgres([`${BIN}/pg_ctl`, "-D", data, "-l", join(data, "server.log"), "-w", "start"]);
}

/** Waits (≤ 20 s) until the primary reports the standby as its synchronous one. */
async function waitForSyncStandby(port: number): Promise<void> {
  const until = Date.now() + 20_000;
  let state = "";
  while (Date.now() < until) {
    state = (
      await asPostgres([
        `${BIN}/psql`,
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "postgres",
        "-Atc",
        "select sync_state from pg_stat_replication where application_name = 'standby'",
      ])
    ).trim();
    if (state === "sync") return;
    await Bun.sleep(200);
  }
  throw new Error(`the standby did not become synchronous within 20 s (state "${state}")`);
}

/** Runs `command` as the postgres OS user; resolves to its stdout, throws with its output. */
async function asPostgres(command: string[]): Promise<string> {
  const child = Bun.spawn(["runuser", "-u", "postgres", "--", ...command], {
    stdout: "pipe",
    stderr: "pipe",
    cwd: "/",
  });
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  if (code !== 0) throw new Error(`${command.join(" ")} failed (${code}): ${err.trim() || out}`);
  return out;
}

/** The first port from `from` on that 127.0.0.1 lets us listen on. */
async function freePort(from: number): Promise<number> {
  for (let port = from; port < from + 200; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port on 127.0.0.1 from ${from}`);
}
