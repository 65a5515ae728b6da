// A TCP relay on loopback to a server, in a process of its own (a busy test process must not slow
// it), which a test can cut: killing it drops every relayed connection at once — what the platform
// sees when its database host goes away.
import { connect, createServer } from "node:net";

export interface TcpRelay {
  port: number;
  /** Kills the relay: its listener and every relayed connection are gone. */
  cut(): Promise<void>;
}

export async function tcpRelay(host: string, port: number): Promise<TcpRelay> {
  const child = Bun.spawn(["bun", import.meta.path, host, String(port)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  const listening = Number(new TextDecoder().decode(value).trim());
  if (!Number.isInteger(listening) || listening <= 0) {
    child.kill();
    throw new Error("the relay did not start");
  }
  return {
    port: listening,
    cut: async () => {
      child.kill("SIGKILL");
      await child.exited;
    },
  };
}

/** The relay process: relays every connection to host:port, prints its own port. */
function serve(host: string, port: number): void {
  const server = createServer((client) => {
    const upstream = connect({ host, port });
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    if (address && typeof address !== "string") process.stdout.write(`${address.port}\n`);
  });
}

if (import.meta.main) serve(process.argv[2] ?? "127.0.0.1", Number(process.argv[3]));
