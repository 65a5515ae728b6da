// A customer's IPsec site-to-site connection as strongSwan's swanctl loads it: the settings
// checked field by field, and a pure renderer of swanctl.conf. Secrets never enter messages.
import { createHash, createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { IPSEC_FILES } from "@meetpoint/common";
import { LINE_CONTROL, ValidationError } from "../shared/index.ts";
import {
  destinationRefusal,
  endpointRefusal,
  isHostOrAddress,
  isNumericLookingHost,
  isUnspecified,
  type Network,
  NUMERIC_HOST_MESSAGE,
  networkText,
  parseNetwork,
} from "./addresses.ts";

/** IKE proposals a workspace may ask for (strongSwan names). */
export const IKE_PROPOSALS = [
  "aes256gcm16-prfsha384-ecp384",
  "aes128gcm16-prfsha256-ecp256",
  "aes256-sha256-modp2048",
  "aes256-sha384-ecp384",
  "aes256-sha256-ecp256",
  "aes128-sha256-modp2048",
] as const;
/** ESP proposals a workspace may ask for. */
export const ESP_PROPOSALS = [
  "aes256gcm16-ecp384",
  "aes128gcm16-ecp256",
  "aes256gcm16",
  "aes128gcm16",
  "aes256-sha256-modp2048",
  "aes256-sha256",
  "aes128-sha256",
] as const;

/** The stored IPsec settings, without secrets. */
export interface IpsecSettings {
  remoteAddress: string;
  localId: string;
  remoteId: string;
  auth: "psk" | "certificate";
  /** PEM of the workspace's certificate (certificate auth); public. */
  certificate: string | null;
  /**
   * PEM of the CA the remote side's certificate must chain to (certificate auth; public): without
   * it strongSwan could trust no remote certificate. Absent in profiles stored before it existed.
   */
  remoteCa?: string | null;
  remoteSubnets: string[];
  ikeProposals: string[];
  espProposals: string[];
}

/** The certificate in `pem`, or null when it does not parse (RFC 5280 via node:crypto). */
function x509(pem: string): X509Certificate | null {
  try {
    return new X509Certificate(pem);
  } catch {
    return null;
  }
}

/** The private key in `pem` (PKCS#8, PKCS#1 or SEC 1, unencrypted), or null. */
function privateKeyOf(pem: string): KeyObject | null {
  try {
    return createPrivateKey(pem);
  } catch {
    return null;
  }
}

/**
 * The settings, the secrets to seal (psk or private key) and, for certificate auth, the SHA-256
 * fingerprint (hex, of the DER) of the public certificate. Secrets get no hash: a PSK's hash would
 * let anyone who sees it guess the key offline.
 */
export interface IpsecProfile {
  settings: IpsecSettings;
  secrets: { psk?: string; privateKey?: string };
  certificateFingerprint: string | null;
}

/**
 * Why an IKE identity is refused (null when it is not): one strongSwan reads as a wildcard — any
 * "*" (ID_ANY, or a wildcard in a DN/FQDN), the unspecified addresses 0.0.0.0 and :: — or one that
 * matches a whole range of addresses (a subnet a/b or a range a-b). Checked with and without a
 * type prefix such as "ipv4:" or "fqdn:".
 */
export function identityRefusal(value: string): string | null {
  if (value.includes("*"))
    return 'contains "*", which strongSwan reads as a wildcard: it would accept any identity';
  const bare = value.replace(
    /^(ipv4|ipv6|rfc822|email|userfqdn|fqdn|dns|asn1dn|asn1gn|keyid):/i,
    "",
  );
  for (const text of new Set([value, bare])) {
    const network = parseNetwork(text);
    if (network && isUnspecified(network))
      return "is the unspecified address, which strongSwan reads as any identity";
    if (network && network.prefix < (network.family === 4 ? 32 : 128))
      return "is a subnet: strongSwan would accept any address in it as the identity";
    const [from, to, extra] = text.split("-");
    if (extra === undefined && from && to && parseNetwork(from) && parseNetwork(to))
      return "is an address range: strongSwan would accept any address in it as the identity";
  }
  return null;
}

// An IKE identity: an address, a FQDN, user@FQDN or a distinguished name. No quotes, backslashes,
// braces or line breaks: the value is written into swanctl.conf inside double quotes.
const IDENTITY = /^[A-Za-z0-9@.=,:_ *+/-]{1,200}$/;
const PEM = (label: string) =>
  new RegExp(`^-----BEGIN ${label}-----\\n[A-Za-z0-9+/=\\n]+\\n-----END ${label}-----$`);

function field(input: Record<string, unknown>, name: string): string {
  const value = input[name];
  return typeof value === "string" ? value.replace(/\r\n?/g, "\n").trim() : "";
}

function list(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Checks the form fields of an IPsec profile (remoteAddress, localId, remoteId, auth = psk |
 * certificate, psk, certificate, privateKey, remoteCa, remoteSubnets as CIDRs separated by commas
 * or lines, ikeProposals / espProposals from the allow-lists, optional). For certificates: each
 * PEM must parse, the private key must belong to the certificate, remoteCa must be a CA
 * (basicConstraints CA:TRUE). Throws a ValidationError naming the first field at fault; secret
 * values never appear in its message.
 */
export function parseIpsecProfile(input: Record<string, unknown>): IpsecProfile {
  const remoteAddress = field(input, "remoteAddress");
  if (!remoteAddress) throw new ValidationError("remoteAddress", "is required");
  if (isNumericLookingHost(remoteAddress))
    throw new ValidationError(
      "remoteAddress",
      `${remoteAddress.slice(0, 60)} ${NUMERIC_HOST_MESSAGE}`,
    );
  if (!isHostOrAddress(remoteAddress))
    throw new ValidationError("remoteAddress", "must be an IP address or a DNS name");
  const remoteRefusal = endpointRefusal(remoteAddress);
  if (remoteRefusal)
    throw new ValidationError("remoteAddress", `${remoteAddress.slice(0, 60)} ${remoteRefusal}`);
  const localId = field(input, "localId");
  const remoteId = field(input, "remoteId");
  for (const [name, value] of [
    ["localId", localId],
    ["remoteId", remoteId],
  ] as const) {
    if (!value) throw new ValidationError(name, "is required");
    if (!IDENTITY.test(value))
      throw new ValidationError(
        name,
        "must be an address, a DNS name, user@domain or a distinguished name (no quotes, braces or line breaks)",
      );
    const why = identityRefusal(value);
    if (why) throw new ValidationError(name, `${value.slice(0, 60)} ${why}`);
  }
  const subnets = list(field(input, "remoteSubnets"));
  if (subnets.length === 0) throw new ValidationError("remoteSubnets", "name at least one CIDR");
  if (subnets.length > 64) throw new ValidationError("remoteSubnets", "at most 64 networks");
  const networks: Network[] = [];
  for (const subnet of subnets) {
    const network = parseNetwork(subnet);
    if (!network)
      throw new ValidationError(
        "remoteSubnets",
        `"${subnet.slice(0, 60)}" is not a network (address/prefix with zero host bits)`,
      );
    // What the tunnel carries is what the workspace routes into it: a catch-all or the platform's
    // own networks would send the relay's and the reports' answers to the customer.
    const refusal = destinationRefusal(network);
    if (refusal) throw new ValidationError("remoteSubnets", `"${networkText(network)}" ${refusal}`);
    networks.push(network);
  }
  const ikeProposals = list(field(input, "ikeProposals"));
  const espProposals = list(field(input, "espProposals"));
  for (const [name, values, allowed] of [
    ["ikeProposals", ikeProposals, IKE_PROPOSALS as readonly string[]],
    ["espProposals", espProposals, ESP_PROPOSALS as readonly string[]],
  ] as const) {
    const wrong = values.find((v) => !allowed.includes(v));
    if (wrong !== undefined)
      throw new ValidationError(
        name,
        `"${wrong.slice(0, 60)}" is not one of ${allowed.join(", ")}`,
      );
  }
  const auth = field(input, "auth");
  let certificateFingerprint: string | null = null;
  const secrets: IpsecProfile["secrets"] = {};
  let certificate: string | null = null;
  let remoteCa: string | null = null;
  if (auth === "psk") {
    const psk = typeof input.psk === "string" ? input.psk : "";
    if (!psk) throw new ValidationError("psk", "is required for pre-shared key authentication");
    if (psk.length < 20) throw new ValidationError("psk", "must have at least 20 characters");
    if (psk.length > 512 || LINE_CONTROL.test(psk))
      throw new ValidationError("psk", "must be at most 512 characters on one line");
    secrets.psk = psk;
  } else if (auth === "certificate") {
    certificate = field(input, "certificate");
    const own = PEM("CERTIFICATE").test(certificate) ? x509(certificate) : null;
    if (!own) throw new ValidationError("certificate", "must be one PEM certificate");
    const privateKey = field(input, "privateKey");
    const key =
      /^-----BEGIN (RSA |EC )?PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END (RSA |EC )?PRIVATE KEY-----$/.test(
        privateKey,
      )
        ? privateKeyOf(privateKey)
        : null;
    if (!key) throw new ValidationError("privateKey", "must be one unencrypted PEM private key");
    // Caught here, not at the next start: a key of another pair, or a remote CA that is no CA.
    if (!own.checkPrivateKey(key))
      throw new ValidationError(
        "privateKey",
        "does not belong to the certificate (another key pair)",
      );
    secrets.privateKey = privateKey;
    remoteCa = field(input, "remoteCa");
    const ca = PEM("CERTIFICATE").test(remoteCa) ? x509(remoteCa) : null;
    if (!ca)
      throw new ValidationError(
        "remoteCa",
        "must be one PEM certificate: the CA the remote side's certificate is issued by",
      );
    if (!ca.ca)
      throw new ValidationError(
        "remoteCa",
        "is not a CA certificate (basicConstraints CA:TRUE): give the CA that issued the remote side's certificate",
      );
    const der = Buffer.from(certificate.split("\n").slice(1, -1).join(""), "base64");
    certificateFingerprint = createHash("sha256").update(der).digest("hex");
  } else throw new ValidationError("auth", "must be psk or certificate");
  return {
    settings: {
      remoteAddress,
      localId,
      remoteId,
      auth,
      certificate,
      remoteCa,
      remoteSubnets: networks.map(networkText),
      ikeProposals,
      espProposals,
    },
    secrets,
    certificateFingerprint,
  };
}

/**
 * The swanctl.conf text of the workspace's one connection "customer" (IKEv2, start at load,
 * restart on close). For psk auth `secrets.psk` is written hex-encoded (0x…) into the secrets
 * section; for certificate auth the certificate and remote CA are named by their IPSEC_FILES paths
 * and the private key is loaded from its IPSEC_FILES path (swanctl's `private/` folder next to the
 * config), all written by the supervisor from the spec's profile.files. `remoteAddresses`, when given, are the remote
 * address's name resolved by the platform (the workspace itself may have no DNS): they become
 * remote_addrs. Throws when settings fail the checks of parseIpsecProfile (a stored value altered
 * afterwards must not reach the file) or an address is not one.
 */
export function renderSwanctlConf(
  settings: IpsecSettings,
  secrets: { psk?: string },
  remoteAddresses: string[] = [],
): string {
  if (!isHostOrAddress(settings.remoteAddress)) throw new Error("remote address is malformed");
  if (remoteAddresses.some((a) => isIP(a) === 0)) throw new Error("remote address is malformed");
  for (const id of [settings.localId, settings.remoteId])
    if (!IDENTITY.test(id) || identityRefusal(id)) throw new Error("identity is malformed");
  const subnets = settings.remoteSubnets.map((s) => {
    const network = parseNetwork(s);
    if (!network) throw new Error("remote subnet is malformed");
    // Again at each start: the forbidden networks may have changed since the profile was stored.
    const refusal = destinationRefusal(network);
    if (refusal) throw new Error(`remote subnet ${networkText(network)} ${refusal}`);
    return networkText(network);
  });
  const proposals = (values: string[], allowed: readonly string[]) => {
    if (values.some((v) => !allowed.includes(v))) throw new Error("proposal not allowed");
    return values.length ? values.join(",") : "default";
  };
  const local =
    settings.auth === "psk"
      ? ["      auth = psk", `      id = "${settings.localId}"`]
      : [
          "      auth = pubkey",
          `      certs = ${IPSEC_FILES.certificate}`,
          `      id = "${settings.localId}"`,
        ];
  const remoteAuth = settings.auth === "psk" ? "psk" : "pubkey";
  if (settings.auth === "certificate" && !settings.remoteCa)
    throw new Error(
      "the profile names no remote CA (stored before it was asked for): store the profile again with it",
    );
  const lines = [
    "# Rendered by Meetpoint for a jump workspace: do not edit.",
    "connections {",
    "  customer {",
    "    version = 2",
    `    remote_addrs = ${remoteAddresses.length ? remoteAddresses.join(",") : settings.remoteAddress}`,
    `    proposals = ${proposals(settings.ikeProposals, IKE_PROPOSALS)}`,
    "    local {",
    ...local,
    "    }",
    "    remote {",
    `      auth = ${remoteAuth}`,
    `      id = "${settings.remoteId}"`,
    ...(settings.auth === "certificate" ? [`      cacerts = ${IPSEC_FILES.remoteCa}`] : []),
    "    }",
    "    children {",
    "      customer {",
    "        local_ts = dynamic",
    `        remote_ts = ${subnets.join(",")}`,
    `        esp_proposals = ${proposals(settings.espProposals, ESP_PROPOSALS)}`,
    "        start_action = start",
    "        close_action = start",
    "        dpd_action = restart",
    "      }",
    "    }",
    "  }",
    "}",
  ];
  if (settings.auth === "psk") {
    if (!secrets.psk) throw new Error("the pre-shared key is missing");
    lines.push(
      "secrets {",
      "  ike-customer {",
      `    id-remote = "${settings.remoteId}"`,
      `    secret = 0x${Buffer.from(secrets.psk, "utf8").toString("hex")}`,
      "  }",
      "}",
    );
  }
  // Certificate auth: no secrets section. swanctl loads the key from IPSEC_FILES.privateKey (the
  // `private/` folder beside this file); a secrets `private` entry only names a key's passphrase.
  return `${lines.join("\n")}\n`;
}

/** The VPN endpoint(s) of an IPsec profile: IKE on UDP 500 and NAT-T on UDP 4500, and ESP. */
export function ipsecEndpoints(settings: IpsecSettings) {
  return [
    { host: settings.remoteAddress, protocol: "udp" as const, port: 500 },
    { host: settings.remoteAddress, protocol: "udp" as const, port: 4500 },
    { host: settings.remoteAddress, protocol: "esp" as const, port: null },
  ];
}
