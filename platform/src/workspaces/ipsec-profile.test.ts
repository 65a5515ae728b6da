import { expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { IPSEC_FILES } from "@meetpoint/common";
import { tlsFiles } from "../../test/support/tls-files.ts";
import { ValidationError } from "../shared/index.ts";
import { parseIpsecProfile, renderSwanctlConf } from "./ipsec-profile.ts";

const PSK_INPUT = {
  remoteAddress: "vpn.customer.example",
  localId: "vendor@meetpoint.example",
  remoteId: "C=DE, O=Customer, CN=vpn",
  auth: "psk",
  psk: 'a "quoted" pre-shared key, long enough',
  remoteSubnets: "10.20.0.0/16, 2001:db8:20::/48",
  ikeProposals: "aes256gcm16-prfsha384-ecp384",
  espProposals: "",
};

function fieldOf(input: Record<string, unknown>): string {
  try {
    parseIpsecProfile(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    const e = error as ValidationError;
    expect(e.message).not.toContain("pre-shared key, long"); // never the secret
    return e.field;
  }
  throw new Error("accepted");
}

test("a PSK connection renders to swanctl.conf with the PSK hex-encoded, nowhere else", () => {
  const profile = parseIpsecProfile(PSK_INPUT);
  expect(profile.settings.remoteSubnets).toEqual(["10.20.0.0/16", "2001:db8:20::/48"]);
  expect(JSON.stringify(profile.settings)).not.toContain("pre-shared");
  // No hash of the PSK anywhere in what is stored or shown: a hash could be guessed offline.
  expect(Object.keys(profile).sort()).toEqual(["certificateFingerprint", "secrets", "settings"]);
  expect(profile.certificateFingerprint).toBeNull();
  const conf = renderSwanctlConf(profile.settings, profile.secrets);
  expect(conf).toContain("remote_addrs = vpn.customer.example");
  expect(conf).toContain('id = "C=DE, O=Customer, CN=vpn"');
  expect(conf).toContain("remote_ts = 10.20.0.0/16,2001:db8:20::/48");
  expect(conf).toContain("proposals = aes256gcm16-prfsha384-ecp384");
  expect(conf).toContain("esp_proposals = default");
  expect(conf).toContain(`secret = 0x${Buffer.from(PSK_INPUT.psk).toString("hex")}`);
  expect(conf).not.toContain("quoted");
  expect(() => renderSwanctlConf(profile.settings, {})).toThrow(/pre-shared key is missing/);
});

test("certificate auth references the files, keeps the key out; a key of another pair or a remote CA that is no CA is 400", async () => {
  // A CA and a certificate it issued, with their keys (openssl, EC P-256).
  const files = await tlsFiles("ipsec-profile");
  const read = (name: string) => readFileSync(join(files.dir, name), "utf8").trim();
  const [cert = "", key = "", ca = "", caKey = ""] = [
    "cert.pem",
    "key.pem",
    "ca.pem",
    "ca.key",
  ].map(read);
  files.dispose();
  const input = {
    ...PSK_INPUT,
    auth: "certificate",
    psk: "",
    certificate: cert,
    privateKey: key,
    remoteCa: ca,
  };
  // Without the remote side's CA no remote certificate could be trusted.
  expect(fieldOf({ ...input, remoteCa: "" })).toBe("remoteCa");
  expect(fieldOf({ ...input, remoteCa: key })).toBe("remoteCa");
  // Mistakes that would only show at the next start are refused when saving.
  expect(() => parseIpsecProfile({ ...input, privateKey: caKey })).toThrow(/another key pair/);
  expect(fieldOf({ ...input, privateKey: caKey })).toBe("privateKey");
  expect(() => parseIpsecProfile({ ...input, remoteCa: cert })).toThrow(/not a CA certificate/);
  const garbled = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
  expect(fieldOf({ ...input, certificate: garbled })).toBe("certificate");
  expect(fieldOf({ ...input, remoteCa: garbled })).toBe("remoteCa");
  expect(
    fieldOf({
      ...input,
      privateKey: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
    }),
  ).toBe("privateKey");
  const profile = parseIpsecProfile(input);
  expect(profile.settings.remoteCa).toBe(ca);
  expect(profile.secrets).toEqual({ privateKey: key });
  // The public certificate's SHA-256 (of its DER) identifies the key pair; the key gets no hash.
  expect(profile.certificateFingerprint).toBe(
    new X509Certificate(cert).fingerprint256.replaceAll(":", "").toLowerCase(),
  );
  expect(profile.settings.certificate).toBe(cert);
  const conf = renderSwanctlConf(profile.settings, {});
  expect(conf).toContain("auth = pubkey");
  expect(conf).toContain(`certs = ${IPSEC_FILES.certificate}`);
  expect(conf).toContain(`cacerts = ${IPSEC_FILES.remoteCa}`);
  expect(conf).not.toContain("secrets");
  expect(conf).not.toContain("MII");
  // A profile stored before the remote CA was asked for cannot start, and says why.
  expect(() => renderSwanctlConf({ ...profile.settings, remoteCa: null }, {})).toThrow(
    /no remote CA/,
  );
});

test("missing or hostile fields are 400 naming the field", () => {
  expect(fieldOf({ ...PSK_INPUT, remoteAddress: "" })).toBe("remoteAddress");
  expect(fieldOf({ ...PSK_INPUT, remoteAddress: "a b" })).toBe("remoteAddress");
  expect(fieldOf({ ...PSK_INPUT, localId: "" })).toBe("localId");
  expect(fieldOf({ ...PSK_INPUT, remoteId: "" })).toBe("remoteId");
  expect(fieldOf({ ...PSK_INPUT, remoteId: 'x"\n}\nconnections {' })).toBe("remoteId");
  expect(fieldOf({ ...PSK_INPUT, localId: "a}b" })).toBe("localId");
  expect(fieldOf({ ...PSK_INPUT, remoteSubnets: "" })).toBe("remoteSubnets");
  expect(fieldOf({ ...PSK_INPUT, remoteSubnets: "10.20.0.1/16" })).toBe("remoteSubnets");
  expect(fieldOf({ ...PSK_INPUT, remoteSubnets: "10.0.0.0/33" })).toBe("remoteSubnets");
  expect(fieldOf({ ...PSK_INPUT, remoteSubnets: "2001:db8::/129" })).toBe("remoteSubnets");
  // A catch-all or the platform's own networks would route the relay's answers to the customer.
  for (const subnets of ["0.0.0.0/0", "10.20.0.0/16, 198.19.232.0/21", "100.64.0.0/10", "::/0"])
    expect(fieldOf({ ...PSK_INPUT, remoteSubnets: subnets })).toBe("remoteSubnets");
  expect(fieldOf({ ...PSK_INPUT, ikeProposals: "3des-md5-modp768" })).toBe("ikeProposals");
  expect(fieldOf({ ...PSK_INPUT, espProposals: "null" })).toBe("espProposals");
  expect(fieldOf({ ...PSK_INPUT, auth: "xauth" })).toBe("auth");
  expect(fieldOf({ ...PSK_INPUT, psk: "" })).toBe("psk");
  expect(fieldOf({ ...PSK_INPUT, psk: "short" })).toBe("psk");
  expect(fieldOf({ ...PSK_INPUT, psk: "long enough but\nhas a newline in it" })).toBe("psk");
  expect(fieldOf({ ...PSK_INPUT, auth: "certificate", psk: "", certificate: "x" })).toBe(
    "certificate",
  );
});

test("the renderer refuses settings altered after the checks", () => {
  const profile = parseIpsecProfile(PSK_INPUT);
  expect(() =>
    renderSwanctlConf({ ...profile.settings, remoteSubnets: ["100.64.0.0/10"] }, profile.secrets),
  ).toThrow(/100\.64\.0\.0\/10/);
  expect(() =>
    renderSwanctlConf({ ...profile.settings, remoteId: 'x"\nsecrets {' }, profile.secrets),
  ).toThrow(/identity/);
  expect(() =>
    renderSwanctlConf({ ...profile.settings, remoteSubnets: ["0.0.0.0/0\n}"] }, profile.secrets),
  ).toThrow(/subnet/);
});

test("the IPsec remote address must be a public peer", () => {
  for (const [remoteAddress, reason] of [
    ["gateway", /fully-qualified/],
    ["127.0.0.1", /loopback/],
    ["vpn.localhost", /internal name/],
  ] as const) {
    try {
      parseIpsecProfile({ ...PSK_INPUT, remoteAddress });
      throw new Error("accepted");
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe("remoteAddress");
      expect((error as ValidationError).reason).toMatch(reason);
    }
  }
});

test("identities strongSwan reads as wildcards or ranges are 400 naming the field", () => {
  for (const id of [
    "*",
    "0.0.0.0",
    "::",
    "0::0",
    "CN=*",
    "C=DE, O=Customer, CN=*",
    "*.customer.example",
    "ipv4:0.0.0.0",
    "10.0.0.0/8",
    "10.0.0.1-10.0.0.9",
  ]) {
    expect(fieldOf({ ...PSK_INPUT, remoteId: id })).toBe("remoteId");
    expect(fieldOf({ ...PSK_INPUT, localId: id })).toBe("localId");
  }
  expect(() => parseIpsecProfile({ ...PSK_INPUT, remoteId: "*" })).toThrow(/wildcard/);
  expect(() => parseIpsecProfile({ ...PSK_INPUT, remoteId: "::" })).toThrow(/any identity/);
  // Ordinary identities stay accepted: an address, a FQDN, user@FQDN, an IPv6 address.
  for (const id of ["203.0.113.7", "vpn.customer.example", "vpn@customer.example", "2001:db8::7"])
    expect(parseIpsecProfile({ ...PSK_INPUT, remoteId: id }).settings.remoteId).toBe(id);
  // A stored value altered afterwards does not reach swanctl.conf.
  const profile = parseIpsecProfile(PSK_INPUT);
  expect(() => renderSwanctlConf({ ...profile.settings, remoteId: "*" }, profile.secrets)).toThrow(
    /identity/,
  );
});

test("a numeric-looking remote address is refused with a clear message", () => {
  for (const remoteAddress of ["0x7f.0x1", "127.1", "2130706433"]) {
    expect(fieldOf({ ...PSK_INPUT, remoteAddress })).toBe("remoteAddress");
    expect(() => parseIpsecProfile({ ...PSK_INPUT, remoteAddress })).toThrow(
      /looks like an IPv4 address/,
    );
  }
});
