// The RFB (VNC) protocol pieces the browser relay speaks itself (RFC 6143): the client side of the
// handshake towards a workspace's VNC server (version 3.8, VncAuth or None), and the server side
// towards the browser, which is offered security type None only — the VNC password stays on the
// platform. After both handshakes the relay only copies bytes.
import { createCipheriv } from "node:crypto";

/** RFB security types (RFC 6143 §7.1.2). */
export const SECURITY_NONE = 1;
export const SECURITY_VNC_AUTH = 2;
export const RFB_VERSION_38 = "RFB 003.008\n";

/** A refused or broken RFB handshake; `stage` names the step. */
export class RfbError extends Error {
  constructor(
    readonly stage: "version" | "security" | "auth" | "timeout" | "closed",
    message: string,
  ) {
    super(message);
  }
}

/**
 * The VncAuth response to a 16-byte challenge (RFC 6143 §7.2.2): DES-ECB with the password as key —
 * its first 8 bytes, NUL-padded, each byte's bits reversed (the errata: VNC's DES takes keys
 * least-significant bit first). DES comes from the runtime's OpenSSL/BoringSSL (des-ecb).
 */
export function vncAuthResponse(password: string, challenge: Uint8Array): Uint8Array {
  if (challenge.length !== 16) throw new RfbError("auth", "a VncAuth challenge is 16 bytes");
  const key = Buffer.alloc(8);
  const bytes = Buffer.from(password, "latin1");
  for (let i = 0; i < 8 && i < bytes.length; i++) key[i] = reverseBits(bytes[i] ?? 0);
  const cipher = createCipheriv("des-ecb", key, null);
  cipher.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(challenge), cipher.final()]));
}

function reverseBits(b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) r |= ((b >> i) & 1) << (7 - i);
  return r;
}

/** Bytes of a stream read in exact amounts, with a deadline per read. */
export class ByteReader {
  private buffer = new Uint8Array(0);
  private waiting: {
    n: number;
    resolve: (b: Uint8Array) => void;
    reject: (e: Error) => void;
  } | null = null;
  private ended: Error | null = null;

  /** Appends received bytes. */
  push(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    this.buffer = joined;
    this.serve();
  }

  /** The stream ended: pending and later reads fail with `error`. */
  end(error: Error): void {
    this.ended = error;
    this.serve();
  }

  /** Resolves with exactly `n` bytes, rejects after `timeoutMs` or when the stream ends first. */
  read(n: number, timeoutMs = 10_000): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new RfbError("timeout", `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = {
        n,
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.serve();
    });
  }

  /** Whatever arrived beyond the reads so far (handed on once the handshake is done). */
  rest(): Uint8Array {
    const rest = this.buffer;
    this.buffer = new Uint8Array(0);
    return rest;
  }

  private serve(): void {
    const w = this.waiting;
    if (!w) return;
    if (this.buffer.length >= w.n) {
      this.waiting = null;
      const out = this.buffer.slice(0, w.n);
      this.buffer = this.buffer.slice(w.n);
      w.resolve(out);
    } else if (this.ended) {
      this.waiting = null;
      w.reject(this.ended);
    }
  }
}

const u32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getUint32(0);

async function failureReason(read: ByteReader, ms: number): Promise<string> {
  const length = u32(await read.read(4, ms));
  return new TextDecoder().decode(await read.read(Math.min(length, 4096), ms));
}

/**
 * The client side of the handshake with a VNC server, up to and including a successful
 * SecurityResult; ClientInit is left to the browser. `send` writes to the server; `read` holds what
 * it sent. Takes VncAuth with `password`, or None when the server offers it. Throws RfbError with
 * the server's reason when it refuses, or when a step has no answer within `ms` milliseconds.
 */
export async function handshakeWithServer(
  read: ByteReader,
  send: (bytes: Uint8Array) => void,
  password: string,
  ms = 10_000,
): Promise<void> {
  const version = new TextDecoder().decode(await read.read(12, ms));
  const match = /^RFB (\d{3})\.(\d{3})\n$/.exec(version);
  if (!match)
    throw new RfbError("version", `not an RFB server (it sent ${JSON.stringify(version)})`);
  if (Number(match[1]) < 3 || (Number(match[1]) === 3 && Number(match[2]) < 8))
    throw new RfbError(
      "version",
      `the VNC server speaks RFB ${match[1]}.${match[2]}; 3.8 is needed`,
    );
  send(new TextEncoder().encode(RFB_VERSION_38));
  const count = (await read.read(1, ms))[0] ?? 0;
  if (count === 0)
    throw new RfbError("security", `the VNC server refused: ${await failureReason(read, ms)}`);
  const types = [...(await read.read(count, ms))];
  const chosen = types.includes(SECURITY_VNC_AUTH)
    ? SECURITY_VNC_AUTH
    : types.includes(SECURITY_NONE)
      ? SECURITY_NONE
      : null;
  if (chosen === null)
    throw new RfbError(
      "security",
      `the VNC server offers neither VncAuth nor None (${types.join(", ")})`,
    );
  send(Uint8Array.of(chosen));
  if (chosen === SECURITY_VNC_AUTH) send(vncAuthResponse(password, await read.read(16, ms)));
  if (u32(await read.read(4, ms)) !== 0)
    throw new RfbError(
      "auth",
      `the VNC server refused the password: ${await failureReason(read, ms)}`,
    );
}

/**
 * The server side of the handshake with the browser: version 3.8, security type None only, a
 * successful SecurityResult. `send` writes to the browser (and the recording). Throws RfbError when
 * the browser speaks another version or chooses another type, or a step has no answer within `ms`
 * milliseconds.
 */
export async function handshakeWithBrowser(
  read: ByteReader,
  send: (bytes: Uint8Array) => void,
  ms = 10_000,
): Promise<void> {
  send(new TextEncoder().encode(RFB_VERSION_38));
  const version = new TextDecoder().decode(await read.read(12, ms));
  if (version !== RFB_VERSION_38)
    throw new RfbError(
      "version",
      `the viewer must speak RFB 3.8 (it sent ${JSON.stringify(version)})`,
    );
  send(Uint8Array.of(1, SECURITY_NONE));
  const choice = (await read.read(1, ms))[0];
  if (choice !== SECURITY_NONE)
    throw new RfbError("security", `the viewer chose security type ${choice}`);
  send(Uint8Array.of(0, 0, 0, 0));
}
