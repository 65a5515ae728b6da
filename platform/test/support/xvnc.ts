// A real TigerVNC server (Debian's tigervnc-standalone-server) on loopback with VncAuth and a
// password file made by vncpasswd -f, for the browser relay's tests.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "./rsyslog.ts";

export interface Xvnc {
  port: number;
  password: string;
  /** The X display number, for X clients (DISPLAY=:<display>). */
  display: number;
  stop(): Promise<void>;
}

/** Why Xvnc cannot run here (a line for the skip message), or null. */
export function xvncMissing(): string | null {
  for (const tool of ["Xvnc", "vncpasswd"])
    if (!Bun.which(tool))
      return `${tool} is not installed (apt-get install tigervnc-standalone-server tigervnc-tools)`;
  return null;
}

/**
 * Starts Xvnc on 127.0.0.1 with a random 8-character password; waits until it accepts. `geometry`
 * is the screen's size (WxH), 320x200 unless given.
 */
export async function startXvnc(options: { geometry?: string } = {}): Promise<Xvnc> {
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-xvnc-"));
  const password = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
  const made = Bun.spawnSync(["vncpasswd", "-f"], {
    stdin: new TextEncoder().encode(`${password}\n`),
  });
  if (made.exitCode !== 0) throw new Error(`vncpasswd -f: ${made.stderr.toString()}`);
  const passwordFile = join(dir, "passwd");
  writeFileSync(passwordFile, made.stdout, { mode: 0o600 });
  const port = await freePort();
  // A display number no other X server holds (the lock file names it).
  let display = 0;
  for (let n = 40 + Math.floor(Math.random() * 500); n < 1000; n++)
    if (!existsSync(`/tmp/.X${n}-lock`)) {
      display = n;
      break;
    }
  const proc: Subprocess = Bun.spawn(
    [
      "Xvnc",
      `:${display}`,
      "-rfbport",
      String(port),
      "-localhost",
      "-nolisten",
      "tcp",
      "-SecurityTypes",
      "VncAuth",
      "-PasswordFile",
      passwordFile,
      "-geometry",
      options.geometry ?? "320x200",
      "-depth",
      "24",
      "-AlwaysShared",
      // The classic stippled root window: a desktop that is visibly not blank.
      "-retro",
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: { data() {} },
    }).then(
      (s) => {
        s.end();
        return true;
      },
      () => false,
    );
    if (up) break;
    if (proc.exitCode !== null || Date.now() > deadline)
      throw new Error(
        `Xvnc did not listen on ${port}: ${await new Response(proc.stderr as ReadableStream).text()}`,
      );
    await Bun.sleep(50);
  }
  return {
    port,
    password,
    display,
    async stop() {
      proc.kill();
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
