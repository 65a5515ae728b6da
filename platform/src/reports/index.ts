// Transparency reports of ended remote sessions: their content (from the session and the audit
// log), the traffic chart as SVG (pure), and the signed file a customer verifies offline.
export { byteText, type ChartService, type ChartSpan, trafficChart, xmlText } from "./chart.ts";
export { type ReportSigner, type SignedReportFile, signedReportFile } from "./signed.ts";
export {
  END_REASON_TEXT,
  mayReadReport,
  REPORT_TYPE,
  type ReportedAuditEntry,
  type ReportedService,
  reportedServices,
  sessionEntriesQuery,
  type TransparencyReport,
  transparencyReport,
} from "./transparency.ts";
