// Benchmark: one-time connection configurations per second (key pair + certificate + database
// record + .ovpn), next to OpenSSL's ECDSA P-256 signing rate on the same machine in the same run.
import { renderClientProfile } from "@meetpoint/common";
import { openDatabase } from "../src/db/index.ts";
import { loadKek, Pki, SERVER_NAME } from "../src/pki/index.ts";
import { systemClock } from "../src/shared/index.ts";

export interface PkiFigures {
  configsPerSecond: number;
  database: string;
  opensslEcdsaP256SignsPerSecond: number | null;
}

function opensslSignRate(seconds: number): number | null {
  const run = Bun.spawnSync(["openssl", "speed", "-seconds", String(seconds), "ecdsap256"], {
    stderr: "pipe",
  });
  const line = run.stdout
    .toString()
    .split("\n")
    .find((l) => /256 bits ecdsa \(nistp256\)/.test(l));
  const numbers = line?.match(/[\d.]+/g)?.map(Number) ?? [];
  // "256 bits ecdsa (nistp256)   0.0000s   0.0001s  40000.0  12000.0": sign/s is the second-to-last.
  return numbers.length >= 2 ? (numbers.at(-2) ?? null) : null;
}

export async function benchPki(options: {
  seconds: number;
  databaseUrl: string | null;
}): Promise<PkiFigures> {
  const database = openDatabase({ url: options.databaseUrl, dataDir: null });
  await database.migrate();
  const pki = await Pki.open({
    db: database.db,
    kek: await loadKek({ hex: "33".repeat(32) }),
    clock: systemClock,
    policy: {
      technicianSeconds: 600,
      gatewaySeconds: 600,
      dataChannelSeconds: 30 * 86_400,
      clockSkewSeconds: 120,
    },
  });
  const caPem = await pki.trustBundlePem();
  const issueOne = async () => {
    const issued = await pki.issueClientCertificate("technician", crypto.randomUUID());
    return renderClientProfile({
      remotes: [{ host: "platform.lab.test", port: 443, protocol: "tcp" }],
      serverName: SERVER_NAME,
      caPem,
      certificatePem: issued.certificatePem,
      privateKeyPem: issued.privateKeyPem,
      tlsCryptKey: pki.tlsCryptKey,
      routes: ["100.64.0.1"],
    });
  };
  for (let i = 0; i < 50; i++) await issueOne(); // warm-up
  let issued = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  while (performance.now() < deadline) {
    await issueOne();
    issued++;
  }
  const elapsed = (performance.now() - started) / 1000;
  await database.close();
  return {
    configsPerSecond: issued / elapsed,
    database: database.driver,
    opensslEcdsaP256SignsPerSecond: opensslSignRate(Math.max(1, Math.round(options.seconds / 2))),
  };
}
