// What a TLS client can negotiate with a server: `openssl s_client` (as an auditor would run it)
// for one protocol version and, for TLS 1.2, one cipher suite.

export interface Handshake {
  /** The negotiated cipher suite, or null when the handshake failed. */
  cipher: string | null;
  protocol: string | null;
}

/** Tries one handshake with 127.0.0.1:`port`; `version` like "-tls1_2", `cipher` an OpenSSL name. */
export async function handshake(
  port: number,
  version: string,
  cipher?: string,
): Promise<Handshake> {
  const args = ["openssl", "s_client", "-connect", `127.0.0.1:${port}`, version];
  // SECLEVEL=0 lets the client offer old suites and versions at all; the server must refuse them.
  args.push("-cipher", `${cipher ?? "DEFAULT"}@SECLEVEL=0`);
  const child = Bun.spawn(args, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill(), 10_000);
  const output = await new Response(child.stdout).text();
  await child.exited;
  clearTimeout(timer);
  const match = output.match(/New, (\S+), Cipher is (\S+)/);
  const negotiated = match?.[2] && match[2] !== "(NONE)" ? match[2] : null;
  return {
    cipher: negotiated,
    protocol: negotiated ? (match?.[1]?.replace(/,$/, "") ?? null) : null,
  };
}

/** The probes of an audit: each old suite or version must fail, each modern one succeed. */
export const REFUSED_PROBES: [string, string | undefined][] = [
  ["-tls1_2", "ECDHE-ECDSA-AES128-SHA"],
  ["-tls1_2", "ECDHE-RSA-AES128-SHA"],
  ["-tls1_2", "AES256-SHA"],
  ["-tls1_2", "AES128-GCM-SHA256"],
  ["-tls1_2", "ECDHE-ECDSA-AES256-SHA384"],
  ["-tls1_1", undefined],
  ["-tls1", undefined],
];
