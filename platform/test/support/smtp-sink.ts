// A real SMTP sink: Debian's python3-aiosmtpd on 127.0.0.1, STARTTLS offered and required before
// MAIL (aiosmtpd's default with --tlscert), every message stored in a Maildir.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type ProcessHandle, spawnProcess, stopProcess, waitFor } from "@meetpoint/common";
import { freePort } from "./rsyslog.ts";
import type { TlsFiles } from "./tls-files.ts";

/** Debian's interpreter, where python3-aiosmtpd is installed (not a pyenv or venv one). */
const PYTHON = "/usr/bin/python3";

export interface SmtpSink {
  port: number;
  /** The raw messages received so far. */
  messages(): string[];
  stop(): Promise<void>;
}

export async function smtpSinkMissing(): Promise<string | null> {
  if (!existsSync(PYTHON)) return "/usr/bin/python3 is missing";
  const probe = Bun.spawnSync([PYTHON, "-c", "import aiosmtpd"]);
  return probe.exitCode === 0
    ? null
    : "python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd)";
}

/** With `tls`: STARTTLS offered and required; null: a plain server that offers no STARTTLS. */
export async function startSmtpSink(files: TlsFiles, tls = true): Promise<SmtpSink> {
  const port = await freePort();
  const maildir = join(files.dir, `maildir-${port}`);
  const child: ProcessHandle = spawnProcess([
    PYTHON,
    "-m",
    "aiosmtpd",
    "-n",
    "-l",
    `127.0.0.1:${port}`,
    ...(tls ? ["--tlscert", files.cert, "--tlskey", files.key] : ["--no-requiretls"]),
    "-c",
    "aiosmtpd.handlers.Mailbox",
    maildir,
  ]);
  const up = await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        Bun.connect({
          hostname: "127.0.0.1",
          port,
          socket: {
            open: (s) => {
              s.end();
              resolve(true);
            },
            connectError: () => resolve(false),
            data: () => {},
          },
        }).catch(() => resolve(false));
      }),
    { timeoutMs: 10_000, giveUpIf: () => child.end !== null },
  );
  if (!up) throw new Error(`aiosmtpd did not start: ${child.tail().join("\n")}`);
  return {
    port,
    messages: () => {
      const dir = join(maildir, "new");
      return existsSync(dir)
        ? readdirSync(dir)
            .sort()
            .map((f) => readFileSync(join(dir, f), "utf8"))
        : [];
    },
    stop: async () => {
      await stopProcess(child);
    },
  };
}
