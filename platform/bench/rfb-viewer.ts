// A minimal RFB 3.8 viewer for the benchmarks (RFC 6143), over TCP or the relay's WebSocket: the
// handshake from platform/src/workspaces/rfb.ts, then server messages framed without decoding
// pixels; counts FramebufferUpdates and sends keys and pointer moves.
import { ByteReader, handshakeWithServer } from "../src/workspaces/rfb.ts";

const u16 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint16(at);
const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at);

type Step = { need: number } | { skip: number };
/** The server's messages after ServerInit (RFC 6143 §7.6), framed without decoding pixels. */
function* serverMessages(
  bytesPerPixel: number,
  onUpdate: () => void,
): Generator<Step, never, Uint8Array> {
  for (;;) {
    const type = (yield { need: 1 })[0];
    if (type === 0) {
      const rects = u16(yield { need: 3 }, 1);
      for (let i = 0; i < rects; i++) {
        const rect = yield { need: 12 };
        const encoding = new DataView(rect.buffer, rect.byteOffset).getInt32(8);
        if (encoding === 0) yield { skip: u16(rect, 4) * u16(rect, 6) * bytesPerPixel };
        else if (encoding === 1) yield { skip: 4 };
        else if (encoding === 16) yield { skip: u32(yield { need: 4 }, 0) };
        else throw new Error(`the server sent encoding ${encoding}, which was not asked for`);
      }
      onUpdate();
    } else if (type === 1) yield { skip: u16(yield { need: 5 }, 3) * 6 };
    else if (type === 3) yield { skip: u32(yield { need: 7 }, 3) };
    else if (type !== 2) throw new Error(`unexpected server message type ${type}`);
  }
}

/** Feeds received chunks to a parser; payloads it skips are never copied. */
class Framer {
  private rest = new Uint8Array(0);
  private step: Step;
  constructor(private readonly parser: Generator<Step, never, Uint8Array>) {
    this.step = parser.next(new Uint8Array(0)).value;
  }
  push(chunk: Uint8Array): void {
    let data = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    for (;;) {
      if ("skip" in this.step) {
        const n = Math.min(this.step.skip, data.length);
        this.step.skip -= n;
        data = data.subarray(n);
        if (this.step.skip > 0) break;
        this.step = this.parser.next(new Uint8Array(0)).value;
      } else {
        if (data.length < this.step.need) break;
        const taken = data.slice(0, this.step.need);
        data = data.subarray(this.step.need);
        this.step = this.parser.next(taken).value;
      }
    }
    this.rest = data.slice(); // a few header bytes at most
  }
}

export interface Link {
  send(bytes: Uint8Array): void;
  close(): void;
}
export type Connect = (receive: (chunk: Uint8Array) => void) => Promise<Link>;

/** A viewer's link straight to the VNC server's TCP port on 127.0.0.1. */
export const directTo =
  (port: number): Connect =>
  async (receive) => {
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: { data: (_s, chunk) => receive(chunk) },
    });
    socket.setNoDelay(true);
    return { send: (b) => void socket.write(b), close: () => socket.end() };
  };

/**
 * A viewer's link through the portal's relay WebSocket at `url` (wss), as noVNC's: the portal
 * session's `cookie` and the portal's `origin`; retried for 5 s while the workspace is held (409).
 */
export const throughRelay =
  (url: string, cookie: string, origin: string): Connect =>
  async (receive) => {
    // The previous round's connection may still hold the workspace for a moment (409).
    for (let attempt = 0; attempt < 50; attempt++) {
      const ws = new WebSocket(url, {
        headers: { Cookie: cookie, Origin: origin },
        tls: { rejectUnauthorized: false },
      } as unknown as string[]);
      ws.binaryType = "arraybuffer";
      ws.onmessage = (e) => receive(new Uint8Array(e.data as ArrayBuffer));
      const opened = await new Promise<boolean>((done) => {
        ws.onopen = () => done(true);
        ws.onerror = () => done(false);
      });
      if (opened) return { send: (b) => ws.send(b), close: () => ws.close() };
      await Bun.sleep(100);
    }
    throw new Error("the relay refused the viewer for 5 s");
  };

/**
 * An RFB 3.8 viewer over `connect` (VncAuth with `password`, or None) that asks for ZRLE, CopyRect
 * and Raw and keeps one incremental FramebufferUpdateRequest outstanding; resolves once the first
 * full update has arrived. Throws on a refused handshake or a message it did not ask for.
 */
export async function openViewer(connect: Connect, password: string) {
  const handshake = new ByteReader();
  let framer: Framer | null = null;
  const link = await connect((chunk) => (framer ? framer.push(chunk) : handshake.push(chunk)));
  await handshakeWithServer(handshake, link.send, password);
  link.send(Uint8Array.of(1)); // ClientInit, shared
  const init = await handshake.read(24);
  await handshake.read(u32(init, 20)); // the desktop's name
  // The whole screen (its size from ServerInit).
  const request = (incremental: number) =>
    Uint8Array.of(3, incremental, 0, 0, 0, 0, ...init.subarray(0, 4));
  const viewer = {
    updates: 0,
    lastUpdateMs: performance.now(),
    waiters: [] as (() => void)[],
    /** Resolves at the end of the next FramebufferUpdate; rejects after `timeoutMs`. */
    nextUpdate: (timeoutMs = 10_000) =>
      new Promise<void>((done, fail) => {
        const timer = setTimeout(
          () => fail(new Error(`no update within ${timeoutMs} ms`)),
          timeoutMs,
        );
        viewer.waiters.push(() => {
          clearTimeout(timer);
          done();
        });
      }),
    /** Presses the keys together (modifiers first) and releases them. */
    key(...keysyms: number[]) {
      for (const k of keysyms) link.send(Uint8Array.of(4, 1, 0, 0, ...u32be(k)));
      for (const k of keysyms.reverse()) link.send(Uint8Array.of(4, 0, 0, 0, ...u32be(k)));
    },
    pointer(x: number, y: number) {
      link.send(Uint8Array.of(5, 0, x >> 8, x & 255, y >> 8, y & 255));
    },
    close: () => link.close(),
  };
  framer = new Framer(
    serverMessages((init[4] ?? 32) / 8, () => {
      viewer.updates++;
      viewer.lastUpdateMs = performance.now();
      link.send(request(1));
      for (const done of viewer.waiters.splice(0)) done();
    }),
  );
  // SetEncodings: ZRLE, CopyRect, Raw.
  link.send(Uint8Array.of(2, 0, 0, 3, ...u32be(16), ...u32be(1), ...u32be(0)));
  const first = viewer.nextUpdate();
  link.send(request(0));
  framer.push(handshake.rest());
  await first;
  return viewer;
}
const u32be = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
export type Viewer = Awaited<ReturnType<typeof openViewer>>;
