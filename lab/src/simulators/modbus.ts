// Modbus/TCP, the little a PLC simulator needs: a server answering "read holding registers"
// (function 3) from a register table, exception 1 for anything else; and a client to ask it.
import { connect, createServer, type Server } from "node:net";

const READ_HOLDING_REGISTERS = 0x03;

/** One request or response frame: MBAP header (7 bytes) + PDU. */
function frame(transaction: number, unit: number, pdu: Buffer): Buffer {
  const header = Buffer.alloc(7);
  header.writeUInt16BE(transaction, 0);
  header.writeUInt16BE(0, 2); // protocol: Modbus
  header.writeUInt16BE(pdu.length + 1, 4);
  header.writeUInt8(unit, 6);
  return Buffer.concat([header, pdu]);
}

/** The answer to one request PDU (pure). */
export function answer(pdu: Buffer, registers: (address: number) => number): Buffer {
  const fn = pdu[0] ?? 0;
  if (fn !== READ_HOLDING_REGISTERS || pdu.length < 5) return Buffer.from([fn | 0x80, 0x01]);
  const start = pdu.readUInt16BE(1);
  const count = pdu.readUInt16BE(3);
  if (count < 1 || count > 125) return Buffer.from([fn | 0x80, 0x03]);
  const out = Buffer.alloc(2 + count * 2);
  out[0] = fn;
  out[1] = count * 2;
  for (let i = 0; i < count; i++) out.writeUInt16BE(registers(start + i) & 0xffff, 2 + i * 2);
  return out;
}

/** Serves Modbus/TCP on host:port; register n holds `registers(n)`. */
export function modbusServer(
  host: string,
  port: number,
  registers: (address: number) => number,
): Server {
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
        socket.write(frame(transaction, unit, answer(pdu, registers)));
      }
    });
    socket.on("error", () => socket.destroy());
  });
  server.listen(port, host);
  return server;
}

/** Reads `count` holding registers from `start`; rejects on timeouts and exceptions. */
export function readHoldingRegisters(
  host: string,
  port: number,
  start: number,
  count: number,
  timeoutMs = 2000,
): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("Modbus: no answer"));
    }, timeoutMs);
    const pdu = Buffer.alloc(5);
    pdu[0] = READ_HOLDING_REGISTERS;
    pdu.writeUInt16BE(start, 1);
    pdu.writeUInt16BE(count, 3);
    let buffer = Buffer.alloc(0);
    socket.on("connect", () => socket.write(frame(1, 1, pdu)));
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, Buffer.from(chunk)]);
      if (buffer.length < 9) return;
      clearTimeout(timer);
      socket.destroy();
      const fn = buffer[7] ?? 0;
      if (fn & 0x80) return reject(new Error(`Modbus exception ${buffer[8]}`));
      const values: number[] = [];
      for (let i = 0; i < count; i++) values.push(buffer.readUInt16BE(9 + i * 2));
      resolve(values);
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
