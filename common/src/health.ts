// A container's health check: exits 0 when the URL answers 2xx within 4 s, else 1 with the reason.
// Run: bun common/src/health.ts https://127.0.0.1:8443/healthz
// The certificate is not checked: the check runs on loopback, against the service's own listener.
const url = process.argv[2];
if (!url) {
  console.error("usage: bun common/src/health.ts <url>");
  process.exit(2);
}
try {
  const response = await fetch(url, {
    tls: { rejectUnauthorized: false },
    signal: AbortSignal.timeout(4000),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  process.exit(0);
} catch (error) {
  console.error(`${url}: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}

export {};
