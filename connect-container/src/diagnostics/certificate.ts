// Check of the pinned platform CA: readable, and valid at the local clock's time.
import { X509Certificate } from "node:crypto";
import { isoTime } from "@meetpoint/common";
import { type DiagnosticLine, line } from "./line.ts";

/** One line per certificate in the pinned CA bundle, against `now` (the local clock). */
export function caValidityChecks(caCertificates: string, now: Date): DiagnosticLine[] {
  const pems =
    caCertificates.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g) ?? [];
  return pems.map((pem) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      return line(
        "Platform CA validity",
        "fail",
        "the pinned CA certificate cannot be read",
        "Re-import the enrollment bundle.",
        "the operator at the machine",
      );
    }
    const t = now.getTime();
    const from = new Date(cert.validFrom).getTime();
    const to = new Date(cert.validTo).getTime();
    const valid = `${isoTime(cert.validFrom)} – ${isoTime(cert.validTo)}`;
    return t < from || t > to
      ? line(
          "Platform CA validity",
          "fail",
          `${valid}, local time ${isoTime(now)}`,
          "Either the local clock is wrong or the CA expired: check NTP, then re-enroll.",
          "plant IT",
        )
      : line("Platform CA validity", "ok", valid);
  });
}
