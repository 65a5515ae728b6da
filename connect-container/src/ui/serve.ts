// The operator UI's HTTPS server: the UI app behind Meetpoint's TLS policy (TLS 1.3, TLS 1.2 with
// AEAD suites only), each request told the client's address for the sign-in back-off.
import { TLS_SERVER_POLICY } from "@meetpoint/common";
import type { createUiApp } from "./app.tsx";
import type { UiCertificate } from "./tls.ts";

export function serveOperatorUi(
  app: ReturnType<typeof createUiApp>,
  options: { hostname: string; port: number; certificate: Pick<UiCertificate, "cert" | "key"> },
) {
  return Bun.serve({
    hostname: options.hostname,
    port: options.port,
    tls: { cert: options.certificate.cert, key: options.certificate.key, ...TLS_SERVER_POLICY },
    fetch: (request, server) =>
      app.fetch(request, { clientIp: server.requestIP(request)?.address }),
  });
}
