// A minimal SNTP client (RFC 4330): one request, the server's transmit time, the offset to ours.
import { createSocket } from "node:dgram";

const NTP_EPOCH_OFFSET = 2_208_988_800; // seconds from 1900 to 1970

export interface SntpResult {
  /** Server clock minus local clock, in milliseconds. */
  offsetMs: number;
  roundTripMs: number;
  stratum: number;
}

function readTime(buffer: Buffer, offset: number): number {
  const seconds = buffer.readUInt32BE(offset) - NTP_EPOCH_OFFSET;
  const fraction = buffer.readUInt32BE(offset + 4) / 2 ** 32;
  return (seconds + fraction) * 1000;
}

/** Asks `host` (UDP 123) for the time; rejects on timeout, unreachable hosts and bad answers. */
export function sntpQuery(host: string, timeoutMs = 2000, port = 123): Promise<SntpResult> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    const request = Buffer.alloc(48);
    request[0] = 0x23; // LI 0, version 4, mode 3 (client)
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const sent = Date.now();
    socket.on("error", (error) => {
      clearTimeout(timer);
      socket.close();
      reject(error);
    });
    socket.on("message", (message) => {
      const received = Date.now();
      clearTimeout(timer);
      socket.close();
      const mode = (message[0] ?? 0) & 0x07;
      const stratum = message[1] ?? 0;
      if (message.length < 48 || mode !== 4 || stratum === 0 || stratum > 15) {
        reject(new Error("not a valid SNTP answer (kiss-of-death or wrong mode)"));
        return;
      }
      const receiveTime = readTime(message, 32);
      const transmitTime = readTime(message, 40);
      resolve({
        offsetMs: Math.round((receiveTime - sent + (transmitTime - received)) / 2),
        roundTripMs: received - sent - (transmitTime - receiveTime),
        stratum,
      });
    });
    socket.send(request, port, host);
  });
}
