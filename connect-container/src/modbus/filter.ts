// The read-only Modbus/TCP filter, pure: request bytes from the technician in, per frame a verdict
// out — forward a read to the machine, or answer a refusal (exception 01) in the PLC's place — and
// "close" for a header that is not Modbus/TCP. Source: MODBUS Application Protocol Specification
// V1.1b3 (2012) and MODBUS Messaging on TCP/IP Implementation Guide V1.0b (2006).

/** MBAP header: transaction (2), protocol (2), length (2), unit (1) — Implementation Guide §3.1.3. */
export const MBAP_LENGTH = 7;
/**
 * Largest value of the MBAP length field: unit (1) + the largest PDU (253 bytes, Application
 * Protocol §4.1), i.e. a 260-byte ADU.
 */
export const MAX_MBAP_LENGTH = 254;
/** Smallest value of the MBAP length field: unit (1) + function code (1). */
export const MIN_MBAP_LENGTH = 2;

/** Exception codes, Application Protocol §7. */
export const ILLEGAL_FUNCTION = 0x01;
export const ILLEGAL_DATA_VALUE = 0x03;

const READ_DEVICE_IDENTIFICATION = 0x0e;
const ENCAPSULATED_INTERFACE = 0x2b;

/**
 * Requests that pass, by function code, with their request PDU's exact length and the quantity
 * bounds the specification gives (Application Protocol §6):
 *
 * - 0x01 Read Coils (§6.1): quantity 1–2000.
 * - 0x02 Read Discrete Inputs (§6.2): quantity 1–2000.
 * - 0x03 Read Holding Registers (§6.3): quantity 1–125.
 * - 0x04 Read Input Registers (§6.4): quantity 1–125.
 * - 0x2B / MEI 0x0E Read Device Identification (§6.21): vendor, product code, revision — it reads
 *   identification objects only and changes no state in the device; read device id code 1–4.
 *
 * Everything else is refused with exception 01 (Illegal Function) and never reaches the machine:
 * every write (0x05, 0x06, 0x0F, 0x10, 0x15 Write File Record, 0x16 Mask Write Register, 0x17
 * Read/Write Multiple Registers — it writes), 0x2B / 0x0D (CANopen General Reference, which can
 * write objects), and the serial-line-only diagnostics (0x07, 0x08, 0x0B, 0x0C, 0x11: not defined
 * for TCP, and 0x08 sub-function 0x01 restarts the device's communications). The other reads — 0x14
 * Read File Record and 0x18 Read FIFO Queue — are refused too: rare on PLCs, and not needed to
 * watch a machine; a read the filter does not know is not a read it can vouch for.
 */
export const PASSED_FUNCTIONS = ["1", "2", "3", "4", "43/14"] as const;

const QUANTITY_LIMITS: Record<number, number> = { 1: 2000, 2: 2000, 3: 125, 4: 125 };

/** What the filter decided for one request frame. */
export type FrameVerdict =
  /** Forward `frame` (the whole ADU, unchanged) to the machine. */
  | { kind: "pass"; functionCode: string; frame: Uint8Array }
  /** Do not forward; answer the technician with `reply` (an exception ADU) instead. */
  | { kind: "refuse"; functionCode: string; exception: number; reply: Uint8Array };

/** The filter's reading of the bytes received so far. */
export interface FilterResult {
  /** One verdict per complete frame, in the order received. */
  verdicts: FrameVerdict[];
  /** Bytes of an incomplete frame, to be read again with what arrives next (≤ 259 bytes). */
  rest: Uint8Array;
  /** Not Modbus/TCP: close the connection (after acting on `verdicts`); null otherwise. */
  close: string | null;
}

/** The function code's name as counted in the evidence: "3", or "43/14" for an MEI type. */
function functionName(pdu: Uint8Array): string {
  const code = pdu[0] ?? 0;
  if (code === ENCAPSULATED_INTERFACE && pdu.length >= 2) return `${code}/${pdu[1]}`;
  return String(code);
}

/** The exception response to a request: same transaction and unit, function code | 0x80. */
export function exceptionReply(frame: Uint8Array, exception: number): Uint8Array {
  const reply = new Uint8Array(MBAP_LENGTH + 2);
  reply.set(frame.subarray(0, 2), 0); // transaction identifier
  // protocol identifier 0 (already zero)
  reply[5] = 3; // length: unit + function code + exception code
  reply[6] = frame[6] ?? 0; // unit identifier
  reply[7] = ((frame[MBAP_LENGTH] ?? 0) | 0x80) & 0xff;
  reply[8] = exception;
  return reply;
}

/** Exception 0 when the request PDU may pass; the exception code to answer otherwise. */
function judge(pdu: Uint8Array): number {
  const code = pdu[0] ?? 0;
  const limit = QUANTITY_LIMITS[code];
  if (limit !== undefined) {
    if (pdu.length !== 5) return ILLEGAL_DATA_VALUE;
    const quantity = ((pdu[3] ?? 0) << 8) | (pdu[4] ?? 0);
    return quantity >= 1 && quantity <= limit ? 0 : ILLEGAL_DATA_VALUE;
  }
  if (code === ENCAPSULATED_INTERFACE && pdu[1] === READ_DEVICE_IDENTIFICATION) {
    if (pdu.length !== 4) return ILLEGAL_DATA_VALUE;
    const readDeviceIdCode = pdu[2] ?? 0;
    return readDeviceIdCode >= 1 && readDeviceIdCode <= 4 ? 0 : ILLEGAL_DATA_VALUE;
  }
  return ILLEGAL_FUNCTION;
}

/**
 * Reads request frames from `bytes` (what is buffered from the technician's side): each complete
 * frame gets a verdict; an incomplete one is returned as `rest`. A header whose protocol identifier
 * is not 0, or whose length field is below 2 or above 254, ends the reading with `close`.
 */
export function filterRequests(bytes: Uint8Array): FilterResult {
  const verdicts: FrameVerdict[] = [];
  let offset = 0;
  while (bytes.length - offset >= MBAP_LENGTH) {
    const protocol = ((bytes[offset + 2] ?? 0) << 8) | (bytes[offset + 3] ?? 0);
    const length = ((bytes[offset + 4] ?? 0) << 8) | (bytes[offset + 5] ?? 0);
    if (protocol !== 0)
      return { verdicts, rest: new Uint8Array(0), close: `protocol identifier ${protocol}, not 0` };
    if (length < MIN_MBAP_LENGTH || length > MAX_MBAP_LENGTH)
      return {
        verdicts,
        rest: new Uint8Array(0),
        close: `length ${length} outside ${MIN_MBAP_LENGTH}–${MAX_MBAP_LENGTH}`,
      };
    const end = offset + 6 + length;
    if (end > bytes.length) break;
    const frame = bytes.slice(offset, end);
    const pdu = frame.subarray(MBAP_LENGTH);
    const functionCode = functionName(pdu);
    const exception = judge(pdu);
    verdicts.push(
      exception === 0
        ? { kind: "pass", functionCode, frame }
        : { kind: "refuse", functionCode, exception, reply: exceptionReply(frame, exception) },
    );
    offset = end;
  }
  return { verdicts, rest: bytes.slice(offset), close: null };
}
