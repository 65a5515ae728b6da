import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "bun";
import type { Db } from "../db/index.ts";
import {
  MAX_UNSENT_BYTES,
  type RelaySocket,
  relayConnection,
  type ViewerGrant,
  VncRelay,
} from "./relay.ts";

test("a desktop that does not read what the viewer sends: closed at MAX_UNSENT_BYTES, memory bounded", async () => {
  const relay = new VncRelay({
    db: null as unknown as Db, // not reached: nothing here ends or records in the database
    clock: { now: () => new Date() },
    displays: { lookup: async () => null },
    recordingsDir: "/nonexistent",
  });
  // A VNC server connection whose kernel buffer is full: it takes nothing.
  const server = { write: () => 0 } as unknown as Socket<undefined>;
  const data = {
    ...relayConnection({ workspaceId: "w" } as ViewerGrant, "r", "r.vncrec.js"),
    relaying: true,
    server,
  };
  const closed: [number | undefined, string | undefined][] = [];
  const ws: RelaySocket = {
    data,
    send: () => 0,
    getBufferedAmount: () => 0,
    close: (code, reason) => closed.push([code, reason]),
  };
  const chunk = new Uint8Array(2 ** 20);
  for (let i = 0; i * chunk.length <= MAX_UNSENT_BYTES && closed.length === 0; i++)
    relay.websocket.message(ws, chunk);
  expect(closed).toEqual([[1013, "the desktop does not read what the viewer sends"]]);
  expect(data.reason).toContain("does not read");
  await relay.stop();
});

/** A desktop on loopback that speaks RFB 3.8 with None and then answers ClientInit, or not. */
function loopbackDesktop(answersClientInit: boolean) {
  let received = 0;
  return Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open: (s) => void s.write("RFB 003.008\n"),
      data: (s, chunk) => {
        const before = received;
        received += chunk.length;
        // Version (12 bytes): offer None; the choice (1): SecurityResult OK; ClientInit (1).
        if (before < 12 && received >= 12) s.write(Uint8Array.of(1, 1));
        if (before < 13 && received >= 13) s.write(Uint8Array.of(0, 0, 0, 0));
        if (before < 14 && received >= 14 && answersClientInit)
          s.write(Uint8Array.of(0, 8, 0, 8, ...new Uint8Array(16), 0, 0, 0, 1, 65));
      },
    },
  });
}

/** Bytes the relay sends the viewer in its own handshake: version 12, security types 2, result 4. */
const HANDSHAKE_TO_VIEWER = 18;

test("a desktop that never answers ClientInit, or a viewer that never sends it: closed naming the silent side after timeoutMs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-relay-"));
  const outcomes: string[] = [];
  for (const [desktopAnswers, viewerSendsClientInit] of [
    [false, true],
    [true, false],
    [true, true],
  ]) {
    const desktop = loopbackDesktop(desktopAnswers === true);
    const relay = new VncRelay({
      db: null as unknown as Db, // not reached: the connection is not ended through the relay here
      clock: { now: () => new Date() },
      displays: { lookup: async () => null },
      recordingsDir: dir,
      timeoutMs: 300,
    });
    const grant = {
      workspaceId: "w",
      display: { runId: "r", host: "127.0.0.1", port: desktop.port, password: "x" },
    } as ViewerGrant;
    const data = relayConnection(grant, "r", `${outcomes.length}.vncrec.js`);
    // The viewer's side, sent at once: version, security type None, ClientInit (shared) or not.
    data.fromBrowser.push(new TextEncoder().encode("RFB 003.008\n"));
    data.fromBrowser.push(viewerSendsClientInit ? Uint8Array.of(1, 1) : Uint8Array.of(1));
    const closed: string[] = [];
    const ws: RelaySocket = {
      data,
      send: (bytes) => bytes.length,
      getBufferedAmount: () => 0,
      close: (code, reason) => void closed.push(`${code} ${reason}`),
    };
    relay.websocket.open(ws);
    // Until it is closed, or ServerInit reached the viewer and the deadline has passed.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && closed.length === 0) {
      if (data.bytesDown > HANDSHAKE_TO_VIEWER && Date.now() > data.startedMs + 600) break;
      await Bun.sleep(20);
    }
    outcomes.push(
      closed.join("; ") || (data.bytesDown > HANDSHAKE_TO_VIEWER ? "relaying" : "stuck"),
    );
    data.closed = true;
    data.server?.end();
    await data.recorder?.finish();
    desktop.stop(true);
    await relay.stop();
  }
  expect(outcomes).toEqual([
    "1011 the workspace's desktop sent no ServerInit within 300 ms",
    "1011 the viewer sent no ClientInit within 300 ms",
    "relaying",
  ]);
  rmSync(dir, { recursive: true, force: true });
});
