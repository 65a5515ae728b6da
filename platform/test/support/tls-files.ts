// A throw-away CA and a server certificate for 127.0.0.1/localhost, made with openssl, for the
// real collectors and sinks the tests start (rsyslog, the SMTP sink).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@meetpoint/common";

export interface TlsFiles {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  dispose(): void;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const result = await run(["sh", "-c", `cd '${cwd}' && openssl ${args.join(" ")}`]);
  if (result.code !== 0) throw new Error(`openssl ${args[0]}: ${result.stderr}`);
}

export async function tlsFiles(prefix: string): Promise<TlsFiles> {
  const dir = mkdtempSync(join(tmpdir(), `meetpoint-${prefix}-`));
  await openssl(
    [
      "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2",
      "-subj /CN=meetpoint-test-ca -keyout ca.key -out ca.pem",
      "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  await openssl(
    [
      "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost",
      "-keyout key.pem -out server.csr",
    ],
    dir,
  );
  await openssl(
    [
      "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out cert.pem",
      "-extfile /dev/stdin <<'EXT'\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nEXT",
    ],
    dir,
  );
  return {
    dir,
    ca: join(dir, "ca.pem"),
    cert: join(dir, "cert.pem"),
    key: join(dir, "key.pem"),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
