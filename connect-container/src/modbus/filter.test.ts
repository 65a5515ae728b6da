import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { filterRequests, MAX_MBAP_LENGTH } from "./filter.ts";

/** A request ADU: MBAP header (protocol 0 unless given) + PDU. */
function adu(transaction: number, pdu: number[], unit = 1, protocol = 0): Uint8Array {
  const length = pdu.length + 1;
  return new Uint8Array([
    transaction >> 8,
    transaction & 0xff,
    protocol >> 8,
    protocol & 0xff,
    length >> 8,
    length & 0xff,
    unit,
    ...pdu,
  ]);
}
const concat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));

const READS: [string, number[]][] = [
  ["1", [0x01, 0, 0, 0x07, 0xd0]], // 2000 coils
  ["2", [0x02, 0, 5, 0, 1]],
  ["3", [0x03, 0, 0, 0, 125]],
  ["4", [0x04, 0x12, 0x34, 0, 1]],
  ["43/14", [0x2b, 0x0e, 0x01, 0x00]],
];
const REFUSED: [string, number[]][] = [
  ["5", [0x05, 0, 1, 0xff, 0]],
  ["6", [0x06, 0, 1, 0, 42]],
  ["15", [0x0f, 0, 0, 0, 8, 1, 0xff]],
  ["16", [0x10, 0, 0, 0, 1, 2, 0, 42]],
  ["21", [0x15, 7, 6, 0, 1, 0, 0, 0, 1, 0, 9]],
  ["22", [0x16, 0, 1, 0, 0xf2, 0, 0x25]],
  ["23", [0x17, 0, 0, 0, 1, 0, 1, 0, 1, 2, 0, 9]],
  ["8", [0x08, 0, 1, 0, 0]], // diagnostics: restart communications
  ["7", [0x07]],
  ["17", [0x11]],
  ["20", [0x14, 7, 6, 0, 1, 0, 0, 0, 1]],
  ["24", [0x18, 0, 1]],
  ["43/13", [0x2b, 0x0d, 0, 0]],
  ["0", [0x00]],
  ["255", [0xff, 1, 2]],
];

describe("read-only Modbus/TCP filter", () => {
  test.each(READS)("function %s passes unchanged", (code, pdu) => {
    const frame = adu(7, pdu);
    const { verdicts, rest, close } = filterRequests(frame);
    expect(close).toBeNull();
    expect(rest.length).toBe(0);
    expect(verdicts).toEqual([{ kind: "pass", functionCode: code, frame }]);
  });

  test.each(REFUSED)("function %s is refused with exception 01, never forwarded", (code, pdu) => {
    const { verdicts, close } = filterRequests(adu(0xbeef, pdu, 17));
    expect(close).toBeNull();
    expect(verdicts).toHaveLength(1);
    const [verdict] = verdicts;
    expect(verdict?.kind).toBe("refuse");
    if (verdict?.kind !== "refuse") return;
    expect(verdict.functionCode).toBe(code);
    // Same transaction and unit; function code | 0x80; exception 01 (Application Protocol §7).
    expect([...verdict.reply]).toEqual([0xbe, 0xef, 0, 0, 0, 3, 17, (pdu[0] ?? 0) | 0x80, 0x01]);
  });

  test("a read with a wrong length or quantity is refused with exception 03", () => {
    for (const pdu of [
      [0x03, 0, 0, 0, 0], // quantity 0
      [0x03, 0, 0, 0, 126], // above 125
      [0x01, 0, 0, 0x07, 0xd1], // 2001 coils
      [0x03, 0, 0, 0, 1, 0x99], // trailing byte
      [0x04, 0, 0], // short
      [0x2b, 0x0e, 0x05, 0], // read device id code 5
    ]) {
      const [verdict] = filterRequests(adu(1, pdu)).verdicts;
      expect(verdict?.kind === "refuse" && verdict.exception).toBe(3);
    }
  });

  test("a protocol identifier other than 0 closes the connection", () => {
    const result = filterRequests(adu(1, [0x03, 0, 0, 0, 1], 1, 1));
    expect(result.verdicts).toEqual([]);
    expect(result.close).toBe("protocol identifier 1, not 0");
  });

  test("a length field below 2 or above 254 closes the connection", () => {
    const tooShort = new Uint8Array([0, 1, 0, 0, 0, 1, 1]);
    expect(filterRequests(tooShort).close).toBe("length 1 outside 2–254");
    const tooLong = new Uint8Array([0, 1, 0, 0, 0, 255, 1]);
    expect(filterRequests(tooLong).close).toBe("length 255 outside 2–254");
    // Frames before the bad header are still judged; nothing after it is.
    const good = adu(1, [0x03, 0, 0, 0, 1]);
    const result = filterRequests(concat(good, tooLong, adu(2, [0x03, 0, 0, 0, 1])));
    expect(result.verdicts.map((v) => v.kind)).toEqual(["pass"]);
    expect(result.close).not.toBeNull();
  });

  test("the longest frame (260-byte ADU) is read whole", () => {
    const pdu = [0x10, 0, 0, 0, 123, 246, ...new Array(246).fill(7)]; // 252-byte PDU
    pdu.push(0); // 253 bytes: the maximum
    const frame = adu(1, pdu);
    expect(frame.length).toBe(260);
    expect((frame[4] ?? 0) * 256 + (frame[5] ?? 0)).toBe(MAX_MBAP_LENGTH);
    const result = filterRequests(frame);
    expect(result.close).toBeNull();
    expect(result.verdicts.map((v) => v.kind)).toEqual(["refuse"]);
  });

  test("split segments: a frame is judged only when complete, byte by byte", () => {
    const frame = adu(9, [0x03, 0, 1, 0, 2]);
    let buffered: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < frame.length; i++) {
      const result = filterRequests(concat(buffered, frame.subarray(i, i + 1)));
      buffered = result.rest;
      if (i < frame.length - 1) expect(result.verdicts).toEqual([]);
      else expect(result.verdicts).toEqual([{ kind: "pass", functionCode: "3", frame }]);
    }
    expect(buffered.length).toBe(0);
  });

  test("coalesced segments: several frames and a partial one in one read", () => {
    const read = adu(1, [0x03, 0, 0, 0, 1]);
    const write = adu(2, [0x06, 0, 0, 0, 9]);
    const partial = adu(3, [0x04, 0, 0, 0, 1]).subarray(0, 9);
    const result = filterRequests(concat(read, write, read, partial));
    expect(result.verdicts.map((v) => `${v.kind} ${v.functionCode}`)).toEqual([
      "pass 3",
      "refuse 6",
      "pass 3",
    ]);
    expect([...result.rest]).toEqual([...partial]);
  });

  test("property: whatever is split where, the verdicts are the same", () => {
    const frames = concat(
      adu(1, [0x03, 0, 0, 0, 1]),
      adu(2, [0x10, 0, 0, 0, 1, 2, 0, 1]),
      adu(3, [0x2b, 0x0e, 1, 0]),
      adu(4, [0x05, 0, 0, 0xff, 0]),
    );
    const whole = filterRequests(frames).verdicts;
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: frames.length }), { maxLength: 10 }),
        (cuts) => {
          const points = [...new Set(cuts)].sort((a, b) => a - b);
          let buffered: Uint8Array = new Uint8Array(0);
          const verdicts = [];
          let from = 0;
          for (const to of [...points, frames.length]) {
            const result = filterRequests(concat(buffered, frames.subarray(from, to)));
            verdicts.push(...result.verdicts);
            buffered = result.rest;
            from = to;
          }
          expect(verdicts).toEqual(whole);
        },
      ),
      { seed: 18, numRuns: 300 },
    );
  });
});
