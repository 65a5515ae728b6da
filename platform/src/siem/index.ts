// SIEM export: audit entries streamed as syslog (RFC 5424 over TLS per RFC 5425, or TCP/UDP; CEF
// optional) to each configured destination, in order, from a durable spool with an alarm.
export {
  type DestinationConfig,
  parseSiemConfig,
  readSiemConfig,
  type SiemConfig,
  selects,
} from "./destinations.ts";
export { SiemExport, type SiemExportDeps } from "./export.ts";
export { cef, octetCounted, rfc5424, SD_ID, type SyslogIdentity } from "./format.ts";
export {
  type AlarmChange,
  type ForwarderStatus,
  type RoundResult,
  SiemForwarder,
} from "./forwarder.ts";
export { openConnection, type SyslogConnection } from "./transport.ts";
