// The RFB pieces the relay speaks: VncAuth's DES response (a published DES vector through VNC's
// bit-reversed key), and both handshakes over byte streams.
import { expect, test } from "bun:test";
import { parseRecording, RecordingWriter } from "./recording.ts";
import {
  ByteReader,
  handshakeWithBrowser,
  handshakeWithServer,
  RfbError,
  vncAuthResponse,
} from "./rfb.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("VncAuth: DES-ECB under the password with each key byte's bits reversed (RFC 6143 errata)", () => {
  // FIPS 81 / NBS vector: key 0123456789abcdef, "Now is t" → 3fa40e8a984d4815. VNC reverses each
  // password byte's bits before using it as the key, so the password is the reversed key.
  const password = Buffer.from([0x80, 0xc4, 0xa2, 0xe6, 0x91, 0xd5, 0xb3, 0xf7]).toString("latin1");
  const challenge = new Uint8Array(Buffer.from("Now is tNow is t", "latin1"));
  expect(hex(vncAuthResponse(password, challenge))).toBe("3fa40e8a984d48153fa40e8a984d4815");
  // Only the first 8 bytes count; shorter passwords are NUL-padded (key 0 → 8ca64de9c1b123a7).
  expect(hex(vncAuthResponse(`${password}ignored`, challenge))).toBe(
    "3fa40e8a984d48153fa40e8a984d4815",
  );
  expect(hex(vncAuthResponse("", new Uint8Array(16)))).toBe("8ca64de9c1b123a78ca64de9c1b123a7");
  expect(() => vncAuthResponse("x", new Uint8Array(8))).toThrow(RfbError);
});

test("the handshake with a VNC server sends version, VncAuth and the response; a refusal carries its reason", async () => {
  const challenge = new Uint8Array(16).fill(7);
  const fromServer = new ByteReader();
  const sent: Uint8Array[] = [];
  fromServer.push(new TextEncoder().encode("RFB 003.008\n"));
  fromServer.push(Uint8Array.of(2, 1, 2));
  fromServer.push(challenge);
  fromServer.push(Uint8Array.of(0, 0, 0, 0));
  await handshakeWithServer(fromServer, (b) => sent.push(b), "secret");
  expect(new TextDecoder().decode(sent[0])).toBe("RFB 003.008\n");
  expect([...(sent[1] ?? [])]).toEqual([2]);
  expect(hex(sent[2] ?? new Uint8Array())).toBe(hex(vncAuthResponse("secret", challenge)));

  const refusing = new ByteReader();
  refusing.push(new TextEncoder().encode("RFB 003.008\n"));
  refusing.push(Uint8Array.of(1, 2, ...challenge, 0, 0, 0, 1, 0, 0, 0, 14));
  refusing.push(new TextEncoder().encode("Wrong password"));
  await expect(handshakeWithServer(refusing, () => {}, "bad")).rejects.toThrow("Wrong password");

  const old = new ByteReader();
  old.push(new TextEncoder().encode("RFB 003.003\n"));
  await expect(handshakeWithServer(old, () => {}, "x")).rejects.toThrow("3.8 is needed");
});

test("the browser is offered None only; another choice is refused", async () => {
  const fromBrowser = new ByteReader();
  const sent: number[] = [];
  fromBrowser.push(new TextEncoder().encode("RFB 003.008\n"));
  fromBrowser.push(Uint8Array.of(1));
  await handshakeWithBrowser(fromBrowser, (b) => sent.push(...b));
  expect(sent.slice(12)).toEqual([1, 1, 0, 0, 0, 0]);

  const choosing = new ByteReader();
  choosing.push(new TextEncoder().encode("RFB 003.008\n"));
  choosing.push(Uint8Array.of(2));
  await expect(handshakeWithBrowser(choosing, () => {})).rejects.toThrow("security type 2");
});

test("a read waits for its bytes and fails at its deadline", async () => {
  const r = new ByteReader();
  const pending = r.read(3, 1000);
  r.push(Uint8Array.of(1));
  r.push(Uint8Array.of(2, 3, 4));
  expect([...(await pending)]).toEqual([1, 2, 3]);
  expect([...r.rest()]).toEqual([4]);
  await expect(r.read(1, 20)).rejects.toThrow("within 20 ms");
});

test("a recording is noVNC's VNC_frame_data; its SHA-256 is the file's", async () => {
  const path = `${process.env.TMPDIR ?? "/tmp"}/meetpoint-rec-${crypto.randomUUID()}/r.vncrec.js`;
  let now = 1000;
  const w = new RecordingWriter(path, 1000, () => now);
  w.frame(false, new TextEncoder().encode("RFB 003.008\n"));
  now = 1250;
  w.frame(true, Uint8Array.of(1));
  const { sha256 } = await w.finish();
  const text = await Bun.file(path).text();
  expect(text).toBe("var VNC_frame_data = [\n'{0{UkZCIDAwMy4wMDgK',\n'}250{AQ==',\n'EOF'];\n");
  expect(new Bun.CryptoHasher("sha256").update(text).digest("hex")).toBe(sha256);
  expect(parseRecording(text).map((f) => [f.fromClient, f.ms, f.data.length])).toEqual([
    [false, 0, 12],
    [true, 250, 1],
  ]);
  expect(() => parseRecording(text.replace("'EOF'];\n", ""))).toThrow("no EOF");
});

test("a recording's frames are on disk before it ends (a crash loses the end, not the session)", async () => {
  const path = `${process.env.TMPDIR ?? "/tmp"}/meetpoint-rec-${crypto.randomUUID()}/r.vncrec.js`;
  const w = new RecordingWriter(path, Date.now());
  w.frame(false, new TextEncoder().encode("RFB 003.008\n"));
  await Bun.sleep(100);
  // Read by another reader, as after a crash: the frame is there, the end is not.
  const text = await Bun.file(path).text();
  expect(text).toStartWith("var VNC_frame_data = [\n'{");
  expect(text).toContain("{UkZCIDAwMy4wMDgK',\n");
  expect(() => parseRecording(text)).toThrow("no EOF");
  await w.finish();
});
