// The platform's host in the lab: the platform from its sources in its namespace, on embedded
// PGlite or on a PostgreSQL server of its own there, and its command line on the same data.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Netns, OutputLog } from "./netns.ts";
import { type Process, ROOT, waitForLog } from "./processes.ts";
import { PORTAL } from "./wan.ts";

export interface PlatformHostOptions {
  /** Remote session length the platform grants, minutes (default 60). */
  remoteSessionMinutes?: number;
  /** How long a technician's one-time config can be used, minutes (default 10). */
  technicianCertMinutes?: number;
  /** How long a gateway's one-time data-channel config can be used, minutes (default 10). */
  gatewayCertMinutes?: number;
  /** How often the OpenVPN servers renegotiate each tunnel's keys, seconds (default 3600). */
  renegotiateSeconds?: number;
  /** Run the platform on a PostgreSQL server of its own in its namespace; default embedded PGlite. */
  postgres?: boolean;
}

export interface PlatformHost {
  /** Starts the platform and waits until it serves the portal. */
  startPlatform(): Promise<Process>;
  /** Runs the platform's command line on its data (stop the platform first); code and output. */
  platformCli(args: string[]): Promise<{ code: number; output: string }>;
  /** With `postgres`: stop and start the platform's database server. */
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
}

/** Where Debian keeps the newest PostgreSQL's server programs. */
function postgresBin(): string {
  const versions =
    spawnSync("ls", ["/usr/lib/postgresql"], { encoding: "utf8" })
      .stdout?.split("\n")
      .filter(Boolean) ?? [];
  const newest = versions.sort((a, b) => Number(a) - Number(b)).at(-1);
  if (!newest) throw new Error("PostgreSQL server programs not found (apt-get install postgresql)");
  return `/usr/lib/postgresql/${newest}/bin`;
}

/**
 * Prepares the platform's host in `platformNs` with its data under `dir`: with `postgres`, a new
 * database cluster, started (its removal is pushed onto `cleanups`). The platform itself is not
 * started yet.
 */
export async function platformHost(
  platformNs: Netns,
  dir: string,
  options: PlatformHostOptions,
  cleanups: (() => void)[],
): Promise<PlatformHost> {
  let postgres: Process | null = null;
  // Outside the lab's private directory: the postgres user must reach it.
  const pgDir = options.postgres ? mkdtempSync(join(tmpdir(), "meetpoint-lab-pg-")) : "";
  const pgBin = options.postgres ? postgresBin() : null;
  /** runuser's arguments for one of the server's programs, as the postgres user, on `pgDir`. */
  const asPostgres = (program: string, ...args: string[]) => [
    "-u",
    "postgres",
    "--",
    join(pgBin ?? "", program),
    "-D",
    pgDir,
    ...args,
  ];
  const startPostgres = async () => {
    if (!pgBin) return;
    const child = platformNs.spawn([
      "runuser",
      ...asPostgres("postgres", "-k", pgDir, "-c", "listen_addresses=127.0.0.1", "-p", "5432"),
    ]);
    postgres = { child, log: new OutputLog(child) };
    await waitForLog(postgres, "ready to accept connections", 30_000, "postgres");
  };
  if (pgBin) {
    cleanups.push(() => rmSync(pgDir, { recursive: true, force: true }));
    spawnSync("chown", ["postgres:postgres", pgDir]);
    const init = spawnSync(
      "runuser",
      asPostgres("initdb", "-U", "meetpoint", "--auth=trust", "-E", "UTF8"),
      { encoding: "utf8" },
    );
    if (init.status !== 0) throw new Error(`initdb: ${init.stderr}`);
    await startPostgres();
  }

  const platformEnv = {
    DATABASE_URL: pgBin ? "postgres://meetpoint@127.0.0.1:5432/postgres" : "",
    MEETPOINT_DATA_DIR: join(dir, "platform"),
    MEETPOINT_PUBLIC_URL: PORTAL,
    MEETPOINT_HTTPS_PORT: "8443",
    MEETPOINT_HTTP_PORT: "0",
    MEETPOINT_LISTEN_ADDRESS: "0.0.0.0",
    MEETPOINT_VPN_LISTEN: "tcp:1194",
    MEETPOINT_KEK: "44".repeat(32),
    MEETPOINT_REMOTE_SESSION_MINUTES: String(options.remoteSessionMinutes ?? 60),
    MEETPOINT_TECHNICIAN_CERT_MINUTES: String(options.technicianCertMinutes ?? 10),
    MEETPOINT_GATEWAY_CERT_MINUTES: String(options.gatewayCertMinutes ?? 10),
    MEETPOINT_VPN_RENEGOTIATE_SECONDS: String(options.renegotiateSeconds ?? 3600),
  };
  return {
    startPlatform: async () => {
      const child = platformNs.spawn(["bun", join(ROOT, "platform/src/main.ts")], {
        env: platformEnv,
      });
      const process = { child, log: new OutputLog(child) };
      await waitForLog(process, "Meetpoint portal:", 60_000, "platform");
      return process;
    },
    platformCli: async (args) => {
      const child = platformNs.spawn(["bun", join(ROOT, "platform/src/cli.ts"), ...args], {
        env: platformEnv,
      });
      const process = { child, log: new OutputLog(child) };
      const code = await child.exited;
      await Bun.sleep(50);
      return { code, output: process.log.text };
    },
    stopPostgres: async () => {
      const running = postgres as Process | null;
      if (!running) throw new Error("this lab runs on PGlite");
      spawnSync("runuser", asPostgres("pg_ctl", "-m", "fast", "-w", "stop"));
      await running.child.exited;
      postgres = null;
    },
    startPostgres,
  };
}
