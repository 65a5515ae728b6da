import { afterAll, expect, test } from "bun:test";
import { answer, modbusServer, readHoldingRegisters } from "./modbus.ts";

const server = modbusServer("127.0.0.1", 0, (n) => 1000 + n);
afterAll(() => server.close());

test("holding registers are read over TCP; other functions answer exception 1", async () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  expect(await readHoldingRegisters("127.0.0.1", port, 4, 3)).toEqual([1004, 1005, 1006]);
  expect([...answer(Buffer.from([0x06, 0, 1, 0, 2]), () => 0)]).toEqual([0x86, 0x01]);
  expect([...answer(Buffer.from([0x03, 0, 0, 0, 0]), () => 0)]).toEqual([0x83, 0x03]);
});
