// The TLS policy in a real Bun.serve, probed with openssl s_client: with an ECDSA and with an RSA
// certificate, old suites and versions are refused and the modern ones negotiate.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { handshake, REFUSED_PROBES } from "../../test/support/tls-probe.ts";
import { TLS_SERVER_POLICY } from "./policy.ts";

const dir = mkdtempSync(join(tmpdir(), "meetpoint-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function certificate(kind: "ec" | "rsa") {
  const key = join(dir, `${kind}.key`);
  const cert = join(dir, `${kind}.crt`);
  const algorithm =
    kind === "ec"
      ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
      : ["-newkey", "rsa:2048"];
  const made = spawnSync("openssl", [
    "req",
    "-x509",
    ...algorithm,
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
  return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
}

for (const kind of ["ec", "rsa"] as const) {
  describe(`TLS policy with an ${kind === "ec" ? "ECDSA" : "RSA"} certificate`, () => {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { ...certificate(kind), ...TLS_SERVER_POLICY },
      fetch: () => new Response("ok"),
    });
    afterAll(() => server.stop(true));
    const port = server.port ?? 0;
    const auth = kind === "ec" ? "ECDSA" : "RSA";

    test("TLS 1.3 and the TLS 1.2 AEAD suites negotiate", async () => {
      expect((await handshake(port, "-tls1_3")).protocol).toBe("TLSv1.3");
      for (const suite of [
        `ECDHE-${auth}-AES128-GCM-SHA256`,
        `ECDHE-${auth}-AES256-GCM-SHA384`,
        `ECDHE-${auth}-CHACHA20-POLY1305`,
      ])
        expect((await handshake(port, "-tls1_2", suite)).cipher).toBe(suite);
    });

    test("CBC and non-forward-secret suites, TLS 1.0 and 1.1 are refused", async () => {
      const probes = [...REFUSED_PROBES, ["-tls1_2", `ECDHE-${auth}-AES256-SHA`] as const];
      for (const [version, suite] of probes) {
        const result = await handshake(port, version, suite);
        expect(`${version} ${suite ?? ""} → ${result.cipher}`).toBe(
          `${version} ${suite ?? ""} → null`,
        );
      }
    });
  });
}
