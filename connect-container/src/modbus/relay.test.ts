import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, createServer, type Server, type Socket } from "node:net";
import fc from "fast-check";
import { filterRequests, PASSED_FUNCTIONS } from "./filter.ts";
import { ModbusListener, type RelayEvent } from "./relay.ts";

/** A fake machine: keeps every byte that reaches it (per connection), answers each frame. */
let received: Buffer[] = [];
let machine: Server;
let machinePort = 0;
beforeAll(async () => {
  machine = createServer((socket) => {
    let buffer = Buffer.alloc(0);
    const index = received.push(Buffer.alloc(0)) - 1;
    socket.on("data", (chunk: Buffer) => {
      received[index] = Buffer.concat([received[index] ?? Buffer.alloc(0), chunk]);
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 7 && buffer.length >= 6 + buffer.readUInt16BE(4)) {
        const frame = buffer.subarray(0, 6 + buffer.readUInt16BE(4));
        buffer = buffer.subarray(frame.length);
        // Read holding registers answer: one register of value 0x1234.
        socket.write(Buffer.from([frame[0] ?? 0, frame[1] ?? 0, 0, 0, 0, 5, 1, 3, 2, 0x12, 0x34]));
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => machine.listen(0, "127.0.0.1", resolve));
  const address = machine.address();
  machinePort = typeof address === "object" && address ? address.port : 0;
});
afterAll(() => machine.close());

function adu(transaction: number, pdu: number[]): Buffer {
  const header = Buffer.from([transaction >> 8, transaction & 0xff, 0, 0, 0, pdu.length + 1, 1]);
  return Buffer.concat([header, Buffer.from(pdu)]);
}

async function listener(sessionOf: (address: string) => string | null = () => "s1") {
  const events: [string, RelayEvent][] = [];
  const l = await ModbusListener.start({
    host: "127.0.0.1",
    upstream: { host: "127.0.0.1", port: machinePort },
    sessionOf,
    record: (id, event) => events.push([id, event]),
  });
  return { l, events };
}

/**
 * Connects, sends `parts` one by one, collects what comes back until `bytes` arrived, the
 * connection closed, or nothing came for `quietMs` after the last part.
 */
function exchange(
  port: number,
  parts: Buffer[],
  bytes: number,
  quietMs = 2000,
): Promise<{ answer: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: "127.0.0.1", port });
    let answer = Buffer.alloc(0);
    let quiet: Timer | undefined;
    const done = (closed: boolean) => {
      clearTimeout(quiet);
      socket.destroy();
      resolve({ answer, closed });
    };
    const wait = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => done(false), quietMs);
    };
    socket.on("connect", async () => {
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        await Bun.sleep(1);
      }
      wait();
    });
    socket.on("data", (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      if (answer.length >= bytes) done(false);
      else if (quiet) wait();
    });
    socket.on("close", () => done(true));
    socket.on("error", () => done(true));
  });
}

/** The frames that reached the machine, as function codes (each connection's bytes read strictly). */
function reachedMachine(): string[] {
  return received.flatMap((bytes) => {
    const { verdicts, rest, close } = filterRequests(bytes);
    expect(close).toBeNull();
    expect(rest.length).toBe(0);
    for (const v of verdicts) expect(v.kind).toBe("pass");
    return verdicts.map((v) => v.functionCode);
  });
}

describe("Modbus listener (sockets)", () => {
  test("a read is relayed and answered by the machine; a write is refused here", async () => {
    received = [];
    const { l, events } = await listener();
    const read = adu(1, [3, 0, 0, 0, 1]);
    const write = adu(2, [6, 0, 0, 0, 9]);
    const { answer } = await exchange(l.port, [Buffer.concat([write, read])], 9 + 11);
    // The refusal comes first (answered here), then the machine's answer to the read.
    expect([...answer.subarray(0, 9)]).toEqual([0, 2, 0, 0, 0, 3, 1, 0x86, 0x01]);
    expect([...answer.subarray(9)]).toEqual([0, 1, 0, 0, 0, 5, 1, 3, 2, 0x12, 0x34]);
    expect(reachedMachine()).toEqual(["3"]);
    expect(events).toEqual([
      ["s1", { kind: "refuse", functionCode: "6" }],
      ["s1", { kind: "pass", functionCode: "3" }],
    ]);
    l.stop();
  });

  test("a malformed header closes the connection; nothing of it reaches the machine", async () => {
    received = [];
    const { l, events } = await listener();
    const bad = Buffer.from([0, 1, 0, 7, 0, 6, 1, 6, 0, 0, 0, 1]);
    const { closed } = await exchange(l.port, [bad], 1);
    expect(closed).toBe(true);
    expect(Buffer.concat(received).length).toBe(0);
    expect(events).toEqual([["s1", { kind: "close", reason: "protocol identifier 7, not 0" }]]);
    l.stop();
  });

  test("a source that is no session's technician is closed at once", async () => {
    received = [];
    const { l } = await listener(() => null);
    const { closed } = await exchange(l.port, [adu(1, [3, 0, 0, 0, 1])], 1);
    expect(closed).toBe(true);
    expect(Buffer.concat(received).length).toBe(0);
    l.stop();
  });

  test("the session's end closes its connections at once; others stay", async () => {
    const { l } = await listener();
    const socket = connect({ host: "127.0.0.1", port: l.port });
    const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now())));
    await new Promise((resolve) => socket.on("connect", resolve));
    await Bun.sleep(20);
    expect(l.open).toBe(1);
    expect(l.closeSessionsBut(new Set(["s1"]))).toBe(0);
    const cut = Date.now();
    expect(l.closeSessionsBut(new Set(["other"]))).toBe(1);
    expect((await closed) - cut).toBeLessThan(1000);
    expect(l.open).toBe(0);
    l.stop();
  });

  test("a technician that never reads its refusals is not buffered without bound: the relay stops reading", async () => {
    const { l, events } = await listener();
    const socket = connect({ host: "127.0.0.1", port: l.port });
    socket.pause(); // never reads the exceptions
    await new Promise((resolve) => socket.on("connect", resolve));
    const write = adu(1, [6, 0, 0, 0, 9]);
    // 48 MB of writes: more than the kernel's socket buffers on both legs can hold.
    const frames = 4_000_000;
    const burst = Buffer.alloc(frames * write.length);
    for (let i = 0; i < frames; i++) write.copy(burst, i * write.length);
    socket.write(burst);
    // The buffers fill, the relay pauses, and the rest of the burst stays with the sender.
    let seen = -1;
    while (seen !== events.length) {
      seen = events.length;
      await Bun.sleep(200);
    }
    expect(events.length).toBeLessThan(frames);
    expect(socket.writableLength).toBeGreaterThan(0);
    socket.destroy();
    l.stop();
  });

  test("fuzz (seeded): random frames, split at random — no crash, only reads reach the machine", async () => {
    received = [];
    const { l } = await listener();
    const pdu = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 12 }),
      fc
        .constantFrom(0x01, 0x02, 0x03, 0x04)
        .chain((code) =>
          fc
            .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 2100 }))
            .map(
              ([address, quantity]) =>
                new Uint8Array([
                  code,
                  address >> 8,
                  address & 0xff,
                  quantity >> 8,
                  quantity & 0xff,
                ]),
            ),
        ),
      fc.tuple(fc.integer({ min: 0, max: 5 })).map(([id]) => new Uint8Array([0x2b, 0x0e, id, 0])),
    );
    const frame = fc.oneof(
      { weight: 8, arbitrary: pdu.map((p) => adu(7, [...p])) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 20 }).map(Buffer.from) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(frame, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 9 }),
        async (frames, size) => {
          const bytes = Buffer.concat(frames);
          const parts: Buffer[] = [];
          for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
          await exchange(l.port, parts, Number.POSITIVE_INFINITY, 30);
        },
      ),
      { seed: 1808, numRuns: 60 },
    );
    // Each connection's bytes reach the machine whole frames at a time, and only reads.
    const passed = new Set<string>(PASSED_FUNCTIONS);
    const reached = reachedMachine();
    for (const code of reached) expect(passed.has(code)).toBe(true);
    // The fuzz did reach the machine (a filter that dropped everything would pass the above).
    expect(reached.length).toBeGreaterThan(20);
    l.stop();
  });
});

test("pure fuzz (seeded): any bytes — no throw, nothing but well-formed reads passes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const { verdicts, rest } = filterRequests(bytes);
      expect(rest.length).toBeLessThan(260);
      for (const v of verdicts) {
        if (v.kind !== "pass") continue;
        expect(PASSED_FUNCTIONS as readonly string[]).toContain(v.functionCode);
        expect(v.frame[2]).toBe(0);
        expect(v.frame[3]).toBe(0);
      }
    }),
    { seed: 18, numRuns: 20_000 },
  );
});
