import { expect, test } from "bun:test";
import type { Socket } from "bun";
import type { Db } from "../db/index.ts";
import { MAX_UNSENT_BYTES, type RelayConnection, type RelaySocket, VncRelay } from "./relay.ts";
import { ByteReader } from "./rfb.ts";

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
    relaying: true,
    server,
    recorder: null,
    fromBrowser: new ByteReader(),
    pendingToServer: [],
    bytesUp: 0,
    bytesDown: 0,
    closed: false,
    reason: "",
  } as unknown as RelayConnection;
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
