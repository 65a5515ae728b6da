import { expect, test } from "bun:test";
import { ValidationError } from "../shared/index.ts";
import { assembleOpenVpnConfig, parseOpenVpnProfile, SEALED_MARKER } from "./openvpn-profile.ts";

const KEY =
  "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----";
const TLS_CRYPT =
  "-----BEGIN OpenVPN Static key V1-----\n0123456789abcdef0123456789abcdef\n-----END OpenVPN Static key V1-----";

const GOOD = [
  "# customer SSL VPN",
  "client",
  "dev tun",
  "proto udp",
  "remote vpn.customer.example 1194",
  "remote 192.0.2.7 443 tcp",
  "nobind",
  "resolv-retry infinite",
  "persist-key",
  "persist-tun",
  "remote-cert-tls server",
  'verify-x509-name "vpn.customer.example" name',
  "data-ciphers AES-256-GCM:AES-128-GCM",
  "auth SHA256",
  "comp-lzo no",
  "verb 3",
  "key-direction 1",
  "tls-version-min 1.2",
  "auth-nocache",
  "script-security 1",
  "<ca>",
  "-----BEGIN CERTIFICATE-----",
  "MIIBszCCAVmgAwIBAgIUcafe",
  "-----END CERTIFICATE-----",
  "</ca>",
  "<key>",
  KEY,
  "</key>",
  "<tls-crypt>",
  TLS_CRYPT,
  "</tls-crypt>",
].join("\r\n");

function refusal(text: string): string {
  try {
    parseOpenVpnProfile(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe("profile");
    return (error as ValidationError).reason;
  }
  throw new Error("accepted");
}

test("a client config is accepted; its endpoints derived; key and tls-crypt split off, no hash of them", () => {
  const profile = parseOpenVpnProfile(GOOD);
  expect(profile.remotes).toEqual([
    { host: "vpn.customer.example", port: 1194, protocol: "udp" },
    { host: "192.0.2.7", port: 443, protocol: "tcp" },
  ]);
  expect(profile.secrets.key).toBe(KEY);
  expect(profile.secrets["tls-crypt"]).toBe(TLS_CRYPT);
  expect(Object.keys(profile).sort()).toEqual(["config", "remotes", "secrets"]);
  expect(profile.config).not.toContain("MIIBVQIBADAN");
  expect(profile.config).not.toContain("0123456789abcdef");
  expect(profile.config).toContain("MIIBszCCAVmgAwIBAgIUcafe"); // the CA is public
  expect(profile.config).toContain(`<key>\n${SEALED_MARKER}\n</key>`);
  const assembled = assembleOpenVpnConfig(profile.config, profile.secrets);
  expect(assembled).toContain(KEY);
  expect(assembled).toContain(TLS_CRYPT);
  expect(() => assembleOpenVpnConfig(profile.config, { key: KEY })).toThrow(/tls-crypt/);
});

test("port and proto directives apply to remotes that name none", () => {
  const profile = parseOpenVpnProfile(
    "client\ndev tun\nproto tcp-client\nport 8443\nremote 2001:db8::1\n",
  );
  expect(profile.remotes).toEqual([{ host: "2001:db8::1", port: 8443, protocol: "tcp" }]);
});

test("script-bearing and file-reading directives are refused naming line and directive", () => {
  const base = "client\ndev tun\nremote 192.0.2.1\n";
  expect(refusal(`${base}up /bin/sh`)).toBe('line 4: "up" runs a command');
  expect(refusal(`${base}down x`)).toContain('line 4: "down"');
  expect(refusal(`${base}route-up x`)).toContain('"route-up" runs a command');
  expect(refusal(`${base}tls-verify x`)).toContain('"tls-verify"');
  expect(refusal(`${base}learn-address x`)).toContain('"learn-address"');
  expect(refusal(`${base}client-connect x`)).toContain('"client-connect"');
  expect(refusal(`${base}plugin /lib/x.so`)).toContain('"plugin" loads a plugin');
  expect(refusal(`${base}script-security 2`)).toContain('line 4: "script-security" above 1');
  expect(refusal(`${base}auth-user-pass /etc/creds`)).toContain(
    '"auth-user-pass" reads credentials',
  );
  expect(refusal(`${base}management 127.0.0.1 7505`)).toContain('"management"');
  expect(refusal(`${base}config /etc/other.conf`)).toContain('"config"');
  expect(refusal(`${base}cd /tmp`)).toContain('"cd"');
  expect(refusal(`${base}chroot /`)).toContain('"chroot"');
  expect(refusal(`${base}daemon`)).toContain('"daemon"');
  expect(refusal(`${base}log /tmp/x`)).toContain('"log" writes a file');
  expect(refusal(`${base}writepid /tmp/x`)).toContain('"writepid"');
  expect(refusal(`${base}status /tmp/x`)).toContain('"status"');
  expect(refusal(`${base}ca /etc/ca.pem`)).toContain('line 4: "ca" reads a file from disk');
  expect(refusal(`${base}tls-auth ta.key 1`)).toContain('"tls-auth" reads a file');
  expect(refusal(`${base}--up x`)).toContain('"up"'); // the command-line spelling too
  expect(refusal(`${base}redirect-gateway def1`)).toContain("not on the workspace's allow-list");
  expect(refusal("client\ndev tap\nremote 192.0.2.1")).toContain('line 2: "dev tap"');
  expect(refusal(`${base}comp-lzo yes`)).toContain('"comp-lzo" must be no');
});

test("hostile text: control characters, quotes, blocks", () => {
  const base = "client\ndev tun\nremote 192.0.2.1\n";
  expect(refusal(`${base}verb 3\u0000`)).toContain("line 4");
  expect(refusal(`${base}verb 3\u202e`)).toContain("format characters");
  expect(refusal("client\ndev tun\nremote 192.0.2.1;rm -rf /")).toContain('line 3: "remote"');
  expect(refusal("client\ndev tun\nremote bad_host!")).toContain('"remote" must be');
  expect(refusal(`${base}verify-x509-name "a`)).toContain("unbalanced quotes");
  expect(refusal(`${base}<key>\nabc`)).toContain('line 4: "<key>" is never closed');
  expect(refusal(`${base}<key>\nabc\n<ca>\n</ca>\n</key>`)).toContain("line 6");
  expect(refusal(`${base}<connection>\nremote x\n</connection>`)).toContain(
    '"<connection>" is not an inline block',
  );
  expect(refusal("dev tun\nremote 192.0.2.1")).toContain('"client"');
  expect(refusal("client\ndev tun")).toContain('"remote"');
  expect(refusal(`${base}auth-user-pass`)).toContain("inline");
});

test("inline credentials are accepted and sealed like keys", () => {
  const profile = parseOpenVpnProfile(
    "client\ndev tun\nremote 192.0.2.1\nauth-user-pass\n<auth-user-pass>\nsvc-vendor\ns3cret\n</auth-user-pass>\n",
  );
  expect(profile.secrets["auth-user-pass"]).toBe("svc-vendor\ns3cret");
  expect(profile.config).not.toContain("s3cret");
});

test("inline blocks: OpenVPN's looser block endings and line splitting cannot smuggle directives", () => {
  const cert = "MIIBszCCAVmgAwIBAgIUQ";
  const head = "client\ndev tun\nremote vpn.customer.example 1194\n";
  // OpenVPN ends <ca> at "</ca>x" and then runs the up script; the validator must refuse it.
  const prefixClose = `${head}<ca>\n${cert}\n</ca>x\nscript-security 2\nup "/bin/sh -c id"\n<ca> #\n${cert}\n</ca>\n`;
  expect(refusal(prefixClose)).toContain("line 6");
  expect(refusal(prefixClose)).toContain("</ca>");
  // A line over 255 bytes is split by OpenVPN: refused, naming the line.
  const longLine = `${head}<ca>\n${cert}\n${"A".repeat(255)}</ca>\nscript-security 2\nup /bin/true\n<ca>\n${cert}\n</ca>\n`;
  expect(refusal(longLine)).toContain("line 6");
  expect(refusal(longLine)).toContain("255 bytes");
  // A directive inside a PEM block is not base64.
  expect(refusal(`${head}<ca>\n${cert}\nup /bin/true\n</ca>\n`)).toContain("line 6");
  // Text after an opening tag, a nested opening tag, a second block of the same name.
  expect(refusal(`${head}<ca> #\n${cert}\n</ca>\n`)).toContain("line 4");
  expect(refusal(`${head}<ca>\n<ca>\n${cert}\n</ca>\n`)).toContain("line 5");
  expect(refusal(`${head}<ca>\n${cert}\n</ca>\n<ca>\n${cert}\n</ca>\n`)).toContain("appears twice");
  // Static keys hold only their armor and hex.
  expect(refusal(`${head}<tls-crypt>\n${TLS_CRYPT}\nnot-hex\n</tls-crypt>\n`)).toContain("line 8");
  // Credentials: one or two lines.
  expect(
    refusal(`${head}auth-user-pass\n<auth-user-pass>\nalice\npw\nthird\n</auth-user-pass>\n`),
  ).toContain("one or two lines");
});

test("errors inside a block name the block and line, never the content", () => {
  const text =
    "client\nremote vpn.customer.example 1194\nauth-user-pass\n<auth-user-pass>\nalice\nS3cretP\u00adss\n</auth-user-pass>\n";
  const message = refusal(text);
  expect(message).toContain("line 6");
  expect(message).toContain("<auth-user-pass>");
  expect(message).not.toContain("S3cret");
});

test("remote must be a public peer: no bare or internal names, loopback or platform networks", () => {
  for (const [remote, reason] of [
    ["postgres 5432", /fully-qualified/],
    ["db.internal 1194", /internal name/],
    ["127.0.0.1 1194", /loopback/],
    ["169.254.169.254 1194", /link-local/],
    ["172.20.0.3 1194", /172\.16\.0\.0\/12/],
  ] as const) {
    const message = refusal(`client\ndev tun\nremote ${remote}\n`);
    expect(message).toContain("line 3");
    expect(message).toMatch(reason);
  }
});

test("a file directive with [inline] needs its block and takes no further argument", () => {
  const base = "client\ndev tun\nremote vpn.customer.example\n";
  const ca = "<ca>\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n</ca>\n";
  expect(refusal(`${base}ca [inline] /etc/shadow\n${ca}`)).toContain(
    '"ca" takes nothing after [inline]',
  );
  expect(refusal(`${base}ca [inline]\n`)).toContain(
    '"ca" needs its content inline in a <ca> block',
  );
  expect(refusal(`${base}ca\n`)).toContain("<ca> block");
  expect(refusal(`${base}key [inline]\n`)).toContain("<key> block");
  expect(refusal(`${base}tls-auth [inline] 2\n`)).toContain("key direction (0 or 1)");
  expect(refusal(`${base}tls-auth [inline] 1 x\n`)).toContain("key direction");
  expect(refusal(`${base}ca /etc/ssl/ca.pem\n`)).toContain("reads a file from disk");
  expect(parseOpenVpnProfile(`${base}ca [inline]\n${ca}`).config).toContain("ca [inline]");
  const tlsAuth = `<tls-auth>\n${TLS_CRYPT}\n</tls-auth>\n`;
  expect(parseOpenVpnProfile(`${base}tls-auth [inline] 1\n${tlsAuth}`).secrets["tls-auth"]).toBe(
    TLS_CRYPT,
  );
});

test("numeric-looking remote names (inet_aton forms) are refused with a clear message", () => {
  for (const remote of [
    "0x7f.0x1",
    "0xa9.0xfe.0xa9.0xfe",
    "127.1",
    "2130706433",
    "0177.0.0.1",
    "010.0.0.1",
  ]) {
    const message = refusal(`client\ndev tun\nremote ${remote} 1194\n`);
    expect(message).toContain(`"remote" ${remote} looks like an IPv4 address`);
  }
  expect(parseOpenVpnProfile("client\ndev tun\nremote 0x7f.example 1194\n").remotes[0]?.host).toBe(
    "0x7f.example",
  );
});

test("routes to the platform's networks or catch-alls are refused; a customer's network stands", () => {
  const base = "client\ndev tun\nremote 192.0.2.1\n";
  expect(parseOpenVpnProfile(`${base}route 10.20.0.0 255.255.0.0\n`).config).toContain(
    "route 10.20.0.0 255.255.0.0",
  );
  expect(parseOpenVpnProfile(`${base}route 10.20.0.7\n`).config).toContain("route 10.20.0.7");
  expect(refusal(`${base}route 198.19.232.0 255.255.255.248`)).toContain("line 4");
  expect(refusal(`${base}route 198.19.232.0 255.255.255.248`)).toContain("198.19.232.0/29");
  expect(refusal(`${base}route 100.64.0.0 255.192.0.0`)).toContain("100.64.0.0/10");
  expect(refusal(`${base}route 0.0.0.0 128.0.0.0`)).toContain("catch-all");
  expect(refusal(`${base}route 127.0.0.0 255.0.0.0`)).toContain("loopback");
  expect(refusal(`${base}route 10.20.0.1 255.255.0.0`)).toContain("host bits");
  // A mask with a gap names no prefix length (it was once read as its count of one-bits).
  expect(refusal(`${base}route 10.0.20.0 255.0.255.0`)).toContain("not a netmask");
});
