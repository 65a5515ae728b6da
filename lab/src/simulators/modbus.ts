// Modbus/TCP, what a PLC simulator and a technician's tool need: a server with a holding register
// table that answers reads (functions 3 and 4), writes (6 Write Single Register, 16 Write Multiple
// Registers) and Read Device Identification (43/14), exception 1 for anything else; and a client.
// Source: MODBUS Application Protocol Specification V1.1b3, §6.3, §6.4, §6.6, §6.12, §6.21, §7.
import { connect, createServer, type Server } from "node:net";

const READ_HOLDING_REGISTERS = 0x03;
const READ_INPUT_REGISTERS = 0x04;
const WRITE_SINGLE_REGISTER = 0x06;
const WRITE_MULTIPLE_REGISTERS = 0x10;
const ENCAPSULATED_INTERFACE = 0x2b;
const READ_DEVICE_IDENTIFICATION = 0x0e;

/** The PLC's registers: what `initial(n)` says until a write changes register n. */
export class RegisterTable {
  private readonly written = new Map<number, number>();
  constructor(private readonly initial: (address: number) => number) {}
  read(address: number): number {
    return (this.written.get(address) ?? this.initial(address)) & 0xffff;
  }
  write(address: number, value: number): void {
    this.written.set(address, value & 0xffff);
  }
}

/** One request or response frame: MBAP header (7 bytes) + PDU. */
function frame(transaction: number, unit: number, pdu: Buffer): Buffer {
  const header = Buffer.alloc(7);
  header.writeUInt16BE(transaction, 0);
  header.writeUInt16BE(0, 2); // protocol: Modbus
  header.writeUInt16BE(pdu.length + 1, 4);
  header.writeUInt8(unit, 6);
  return Buffer.concat([header, pdu]);
}

const exception = (fn: number, code: number) => Buffer.from([fn | 0x80, code]);

/** Vendor name, product code, revision: the basic device identification objects (§6.21). */
const IDENTIFICATION = ["Meetpoint lab", "PLC-SIM", "1.0"];

/** The answer to one request PDU; a write changes `registers`. */
export function answer(pdu: Buffer, registers: RegisterTable): Buffer {
  const fn = pdu[0] ?? 0;
  if ((fn === READ_HOLDING_REGISTERS || fn === READ_INPUT_REGISTERS) && pdu.length === 5) {
    const start = pdu.readUInt16BE(1);
    const count = pdu.readUInt16BE(3);
    if (count < 1 || count > 125) return exception(fn, 0x03);
    const out = Buffer.alloc(2 + count * 2);
    out[0] = fn;
    out[1] = count * 2;
    for (let i = 0; i < count; i++) out.writeUInt16BE(registers.read(start + i), 2 + i * 2);
    return out;
  }
  if (fn === WRITE_SINGLE_REGISTER && pdu.length === 5) {
    registers.write(pdu.readUInt16BE(1), pdu.readUInt16BE(3));
    return Buffer.from(pdu); // the echo of the request
  }
  if (fn === WRITE_MULTIPLE_REGISTERS && pdu.length >= 6) {
    const start = pdu.readUInt16BE(1);
    const count = pdu.readUInt16BE(3);
    if (count < 1 || count > 123 || pdu[5] !== count * 2 || pdu.length !== 6 + count * 2)
      return exception(fn, 0x03);
    for (let i = 0; i < count; i++) registers.write(start + i, pdu.readUInt16BE(6 + i * 2));
    return Buffer.from(pdu.subarray(0, 5));
  }
  if (fn === ENCAPSULATED_INTERFACE && pdu[1] === READ_DEVICE_IDENTIFICATION && pdu.length === 4) {
    const objects = IDENTIFICATION.flatMap((text, id) => {
      const bytes = Buffer.from(text, "latin1");
      return [Buffer.from([id, bytes.length]), bytes];
    });
    // MEI type, read device id code, conformity (basic, stream), more follows, next id, count.
    const head = Buffer.from([fn, 0x0e, pdu[2] ?? 1, 0x01, 0, 0, IDENTIFICATION.length]);
    return Buffer.concat([head, ...objects]);
  }
  return exception(fn, 0x01);
}

/** Serves Modbus/TCP on host:port over `registers` (a function: each register's initial value). */
export function modbusServer(
  host: string,
  port: number,
  registers: RegisterTable | ((address: number) => number),
): Server {
  const table = registers instanceof RegisterTable ? registers : new RegisterTable(registers);
  const server = createServer((socket) => {
    let buffer = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, Buffer.from(chunk)]);
      while (buffer.length >= 7) {
        const length = buffer.readUInt16BE(4);
        if (buffer.length < 6 + length) break;
        const transaction = buffer.readUInt16BE(0);
        const unit = buffer.readUInt8(6);
        const pdu = buffer.subarray(7, 6 + length);
        buffer = buffer.subarray(6 + length);
        socket.write(frame(transaction, unit, answer(pdu, table)));
      }
    });
    socket.on("error", () => socket.destroy());
  });
  server.listen(port, host);
  return server;
}

/** A Modbus exception response: `code` is the exception code (1: Illegal Function). */
export class ModbusException extends Error {
  constructor(
    readonly functionCode: number,
    readonly code: number,
  ) {
    super(`Modbus exception ${code} to function ${functionCode}`);
  }
}

/**
 * Sends one request PDU and resolves with the response PDU; rejects with ModbusException for an
 * exception response, and with an Error when there is no answer within `timeoutMs` or the
 * connection fails or closes.
 */
export function modbusRequest(
  host: string,
  port: number,
  pdu: Buffer,
  timeoutMs = 2000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error("Modbus: no answer")), timeoutMs);
    let buffer = Buffer.alloc(0);
    socket.on("connect", () => socket.write(frame(1, 1, pdu)));
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, Buffer.from(chunk)]);
      if (buffer.length < 7 || buffer.length < 6 + buffer.readUInt16BE(4)) return;
      clearTimeout(timer);
      socket.destroy();
      const response = buffer.subarray(7, 6 + buffer.readUInt16BE(4));
      const fn = response[0] ?? 0;
      if (fn & 0x80) return reject(new ModbusException(fn & 0x7f, response[1] ?? 0));
      resolve(response);
    });
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("Modbus: connection closed")));
  });
}

/** Reads `count` holding registers from `start`. */
export async function readHoldingRegisters(
  host: string,
  port: number,
  start: number,
  count: number,
  timeoutMs = 2000,
): Promise<number[]> {
  const pdu = Buffer.alloc(5);
  pdu[0] = READ_HOLDING_REGISTERS;
  pdu.writeUInt16BE(start, 1);
  pdu.writeUInt16BE(count, 3);
  const response = await modbusRequest(host, port, pdu, timeoutMs);
  const values: number[] = [];
  for (let i = 0; i < count; i++) values.push(response.readUInt16BE(2 + i * 2));
  return values;
}

/** Writes `value` to holding register `address` (function 6). */
export async function writeRegister(
  host: string,
  port: number,
  address: number,
  value: number,
  timeoutMs = 2000,
): Promise<void> {
  const pdu = Buffer.alloc(5);
  pdu[0] = WRITE_SINGLE_REGISTER;
  pdu.writeUInt16BE(address, 1);
  pdu.writeUInt16BE(value, 3);
  await modbusRequest(host, port, pdu, timeoutMs);
}

/** Writes `values` to the holding registers from `start` (function 16). */
export async function writeRegisters(
  host: string,
  port: number,
  start: number,
  values: number[],
  timeoutMs = 2000,
): Promise<void> {
  const pdu = Buffer.alloc(6 + values.length * 2);
  pdu[0] = WRITE_MULTIPLE_REGISTERS;
  pdu.writeUInt16BE(start, 1);
  pdu.writeUInt16BE(values.length, 3);
  pdu[5] = values.length * 2;
  values.forEach((v, i) => {
    pdu.writeUInt16BE(v, 6 + i * 2);
  });
  await modbusRequest(host, port, pdu, timeoutMs);
}
