// A real rsyslog (Debian's rsyslog and rsyslog-gnutls) as the SIEM's collector: listening on
// 127.0.0.1 with TLS (RFC 5425), plain TCP or UDP, writing every message it receives, raw, to a
// file; stopped and started again on the same port to play an outage.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { type ProcessHandle, spawnProcess, stopProcess, waitFor } from "@meetpoint/common";
import type { TlsFiles } from "./tls-files.ts";

export interface Rsyslog {
  port: number;
  /** Every message received so far, one per line (rsyslog's %rawmsg%). */
  received(): string[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export const rsyslogAvailable = () => Bun.which("rsyslogd") !== null;

export async function startRsyslog(
  files: TlsFiles,
  transport: "tls" | "tcp" | "udp",
): Promise<Rsyslog> {
  const port = await freePort();
  const name = `${transport}-${port}`;
  const log = join(files.dir, `received-${name}.log`);
  const conf = join(files.dir, `rsyslog-${name}.conf`);
  const input =
    transport === "udp"
      ? `module(load="imudp")\ninput(type="imudp" port="${port}" address="127.0.0.1")`
      : transport === "tls"
        ? `module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")\ninput(type="imtcp" port="${port}" address="127.0.0.1")`
        : `module(load="imtcp")\ninput(type="imtcp" port="${port}" address="127.0.0.1")`;
  writeFileSync(
    conf,
    `global(workDirectory="${files.dir}" maxMessageSize="64k"
  DefaultNetstreamDriverCAFile="${files.ca}" DefaultNetstreamDriverCertFile="${files.cert}"
  DefaultNetstreamDriverKeyFile="${files.key}")
main_queue(queue.filename="mainq-${name}" queue.saveOnShutdown="on")
${input}
template(name="raw" type="string" string="%rawmsg%\\n")
if $app-name == "meetpoint" then action(type="omfile" file="${log}" template="raw")
`,
  );
  let process: ProcessHandle | null = null;
  const collector: Rsyslog = {
    port,
    received: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []),
    async start() {
      process = spawnProcess([
        "rsyslogd",
        "-n",
        "-f",
        conf,
        "-i",
        join(files.dir, `rsyslog-${name}.pid`),
      ]);
      const child = process;
      const listening = await waitFor(
        async () => {
          if (transport === "udp")
            return (
              child.hasLine(/rsyslogd.*start/) || existsSync(join(files.dir, `rsyslog-${name}.pid`))
            );
          return new Promise<boolean>((resolve) => {
            const socket = Bun.connect({
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
            void socket;
          });
        },
        { timeoutMs: 10_000, giveUpIf: () => child.end !== null },
      );
      if (!listening) throw new Error(`rsyslogd did not start: ${child.tail().join("\n")}`);
    },
    async stop() {
      if (process) await stopProcess(process);
      process = null;
    },
  };
  await collector.start();
  return collector;
}
