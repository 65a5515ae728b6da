// The lab: network namespaces and processes for end-to-end tests and benchmarks.
export {
  browserSkipReason,
  eventually,
  labSkipReason,
  labUnavailable,
  link,
  linkToHost,
  Netns,
  OutputLog,
  operatorLink,
  waitFor,
} from "./netns.ts";
export { PortalClient } from "./portal.ts";
export {
  ModbusException,
  modbusRequest,
  modbusServer,
  RegisterTable,
  readHoldingRegisters,
  writeRegister,
  writeRegisters,
} from "./simulators/modbus.ts";
