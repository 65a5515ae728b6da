// The relay's byte plumbing for one viewer: the TCP connection to the workspace's VNC server, the
// handshakes on either side (rfb.ts), then every byte copied both ways and into the recording, with
// a bound on what either side leaves unread.
import { join } from "node:path";
import type { Socket } from "bun";
import { RecordingWriter } from "./recording.ts";
import type { RelayConnection, RelayDeps, RelaySocket } from "./relay.ts";
import { ByteReader, handshakeWithBrowser, handshakeWithServer, RfbError } from "./rfb.ts";

/**
 * Bytes either side may leave unread before the connection is closed: a viewer (or desktop) that
 * does not read cannot grow the platform's memory, and the recording stays what was sent.
 */
export const MAX_UNSENT_BYTES = 16 * 2 ** 20;

/**
 * Joins a viewer's WebSocket to the workspace's VNC server (on open): connects, does both
 * handshakes, then relays; a failure closes the WebSocket with the reason.
 */
export async function connect(deps: RelayDeps, ws: RelaySocket): Promise<void> {
  const c = ws.data;
  const timeoutMs = deps.timeoutMs ?? 10_000;
  c.recorder = new RecordingWriter(join(deps.recordingsDir, c.file), c.startedMs);
  const toBrowser = (bytes: Uint8Array) => {
    if (c.closed) return;
    const sent = ws.send(bytes);
    if (sent === 0 || ws.getBufferedAmount() > MAX_UNSENT_BYTES) {
      c.reason = "failed: the viewer does not read what the desktop sends";
      ws.close(1013, "the viewer does not read what the desktop sends");
      return;
    }
    c.recorder?.frame(false, bytes);
    c.bytesDown += bytes.length;
  };
  try {
    const fromServer = new ByteReader();
    const { host, port, password } = c.grant.display;
    const socket = await withTimeout(
      Bun.connect({
        hostname: host,
        port,
        socket: {
          data: (_s, chunk) => {
            if (c.relaying) toBrowser(chunk);
            else fromServer.push(chunk);
          },
          drain: (s) => flush(s, c),
          close: () => {
            fromServer.end(new Error("the VNC server closed the connection"));
            if (!c.reason) c.reason = "the workspace's desktop closed the connection";
            ws.close(1011, "the workspace's desktop closed the connection");
          },
          error: (_s, error) => fromServer.end(error),
        },
      }),
      timeoutMs,
      `connecting to the workspace's VNC server ${host}:${port}`,
    );
    c.server = socket;
    if (c.closed) return void socket.end();
    await handshakeWithServer(fromServer, (b) => socket.write(b), password, timeoutMs).catch(
      silent("the workspace's desktop"),
    );
    await handshakeWithBrowser(c.fromBrowser, toBrowser, timeoutMs).catch(silent("the viewer"));
    // From here on bytes are copied: first what arrived during the handshakes.
    c.relaying = true;
    // The viewer's ClientInit is answered with ServerInit (RFC 6143 §7.3.2): either side silent
    // would leave the viewer at "Connecting…" unless the relay gives up on it.
    const handshaken = c.bytesDown;
    setTimeout(() => {
      if (c.closed || c.bytesDown > handshaken) return;
      const why =
        c.bytesUp === 0
          ? `the viewer sent no ClientInit within ${timeoutMs} ms`
          : `the workspace's desktop sent no ServerInit within ${timeoutMs} ms`;
      deps.log?.(`workspace ${c.grant.workspaceId}: relay failed: ${why}`);
      c.reason = `failed: ${why}`;
      ws.close(1011, why);
    }, timeoutMs).unref?.();
    // (The viewer's early bytes, ClientInit usually, are in the recording already.)
    const early = c.fromBrowser.rest();
    if (early.length) {
      c.bytesUp += early.length;
      c.pendingToServer.push(early);
      flush(socket, c);
    }
    const pending = fromServer.rest();
    if (pending.length) toBrowser(pending);
  } catch (error) {
    const message = (error as Error).message;
    deps.log?.(`workspace ${c.grant.workspaceId}: relay failed: ${message}`);
    c.reason = `failed: ${message}`;
    ws.close(1011, message.slice(0, 120));
  }
}

/** Bytes from the viewer: kept for the handshake with it until relaying, then sent on. */
export function fromBrowser(ws: RelaySocket, message: string | Uint8Array): void {
  const c = ws.data;
  const bytes = typeof message === "string" ? new TextEncoder().encode(message) : message;
  if (!c.relaying || !c.server) {
    c.fromBrowser.push(bytes);
    c.recorder?.frame(true, bytes);
    return;
  }
  c.recorder?.frame(true, bytes);
  c.bytesUp += bytes.length;
  c.pendingToServer.push(bytes);
  flush(c.server, c);
  const unsent = c.pendingToServer.reduce((n, b) => n + b.length, 0);
  if (unsent > MAX_UNSENT_BYTES) {
    c.reason = "failed: the desktop does not read what the viewer sends";
    ws.close(1013, "the desktop does not read what the viewer sends");
  }
}

/** A handshake step without an answer names the side that kept silent; other errors stay. */
const silent = (side: string) => (error: unknown) => {
  if (error instanceof RfbError && error.stage === "timeout")
    throw new RfbError("timeout", `${side}: ${error.message}`);
  throw error;
};

function flush(socket: Socket<undefined>, c: RelayConnection): void {
  while (c.pendingToServer.length) {
    const next = c.pendingToServer[0] as Uint8Array;
    const written = socket.write(next);
    if (written < next.length) {
      c.pendingToServer[0] = next.subarray(Math.max(0, written));
      return; // the rest on drain
    }
    c.pendingToServer.shift();
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
