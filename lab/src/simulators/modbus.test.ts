import { afterAll, expect, test } from "bun:test";
import {
  answer,
  ModbusException,
  modbusRequest,
  modbusServer,
  RegisterTable,
  readHoldingRegisters,
  writeRegister,
  writeRegisters,
} from "./modbus.ts";

const server = modbusServer("127.0.0.1", 0, (n) => 1000 + n);
afterAll(() => server.close());
const port = () => {
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
};

test("holding registers are read over TCP; other functions answer exception 1", async () => {
  expect(await readHoldingRegisters("127.0.0.1", port(), 4, 3)).toEqual([1004, 1005, 1006]);
  const table = new RegisterTable(() => 0);
  expect([...answer(Buffer.from([0x05, 0, 1, 0xff, 0]), table)]).toEqual([0x85, 0x01]);
  expect([...answer(Buffer.from([0x03, 0, 0, 0, 0]), table)]).toEqual([0x83, 0x03]);
  await expect(modbusRequest("127.0.0.1", port(), Buffer.from([0x08, 0, 0, 0, 0]))).rejects.toEqual(
    new ModbusException(8, 1),
  );
});

test("writes (functions 6 and 16) change the registers a read then returns", async () => {
  await writeRegister("127.0.0.1", port(), 10, 4711);
  await writeRegisters("127.0.0.1", port(), 20, [1, 2, 3]);
  expect(await readHoldingRegisters("127.0.0.1", port(), 10, 1)).toEqual([4711]);
  expect(await readHoldingRegisters("127.0.0.1", port(), 19, 5)).toEqual([1019, 1, 2, 3, 1023]);
  const table = new RegisterTable(() => 0);
  // A byte count that does not match the quantity is refused with exception 3, nothing written.
  expect([...answer(Buffer.from([0x10, 0, 0, 0, 2, 2, 0, 9]), table)]).toEqual([0x90, 0x03]);
  expect(table.read(0)).toBe(0);
});

test("Read Device Identification (43/14) names the simulator", async () => {
  const response = await modbusRequest("127.0.0.1", port(), Buffer.from([0x2b, 0x0e, 1, 0]));
  expect(response.subarray(0, 2)).toEqual(Buffer.from([0x2b, 0x0e]));
  expect(response.toString("latin1")).toContain("Meetpoint lab");
});
