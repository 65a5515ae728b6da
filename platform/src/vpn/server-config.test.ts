import { describe, expect, test } from "bun:test";
import { parseCidr } from "@meetpoint/common";
import {
  parseOpenvpnVersion,
  renderServerConfig,
  type ServerSettings,
  supportedVersion,
} from "./server-config.ts";

const settings: ServerSettings = {
  instance: {
    index: 0,
    protocol: "tcp",
    listenAddress: null,
    port: 443,
    tunnelNetwork: parseCidr("100.127.0.0/20") ?? { base: 0, prefix: 0 },
  },
  files: {
    ca: "/var/lib/meetpoint/pki/ca.pem",
    crl: "/var/lib/meetpoint/pki/crl.pem",
    tlsCrypt: "/var/lib/meetpoint/pki/tls-crypt.key",
    certificate: "/var/lib/meetpoint/vpn/server.pem",
    privateKey: "/var/lib/meetpoint/vpn/server.key",
    managementSocket: "/run/meetpoint/vpn0.sock",
    pidFile: "/run/meetpoint/vpn0.pid",
  },
  proxyPool: parseCidr("100.64.0.0/10") ?? { base: 0, prefix: 0 },
  maxClients: 1024,
};

describe("OpenVPN server config", () => {
  test("hardened, controlled through the management socket, no scripts", () => {
    const text = renderServerConfig(settings);
    for (const line of [
      "proto tcp-server",
      "port 443",
      "dev meetpoint-vpn0",
      "ifconfig 100.127.0.1 255.255.240.0",
      'push "topology subnet"',

      "tls-crypt /var/lib/meetpoint/pki/tls-crypt.key",
      "crl-verify /var/lib/meetpoint/pki/crl.pem",
      "remote-cert-tls client",
      "tls-version-min 1.2",
      "data-ciphers AES-256-GCM:CHACHA20-POLY1305",
      "script-security 1",
      "management /run/meetpoint/vpn0.sock unix",
      "management-client-auth",
    ]) {
      expect(text).toContain(`${line}\n`);
    }
    expect(text).not.toMatch(
      /^(up|down|client-connect|auth-user-pass-verify|learn-address|tls-verify|plugin) /m,
    );
    expect(text).not.toContain("client-to-client");
  });

  test("UDP instances on their own port", () => {
    const text = renderServerConfig({
      ...settings,
      instance: {
        ...settings.instance,
        index: 2,
        protocol: "udp",
        port: 1194,
        listenAddress: "198.18.1.1",
      },
    });
    expect(text).toContain("proto udp\n");
    expect(text).toContain("local 198.18.1.1\n");
    expect(text).toContain("dev meetpoint-vpn2\n");
    expect(text).toContain("explicit-exit-notify 1\n");
  });

  test("paths and addresses that could smuggle directives are refused", () => {
    expect(() =>
      renderServerConfig({
        ...settings,
        files: { ...settings.files, crl: "/tmp/crl.pem\nscript-security 3" },
      }),
    ).toThrow("not a plain absolute path");
    expect(() =>
      renderServerConfig({
        ...settings,
        instance: { ...settings.instance, listenAddress: "0.0.0.0 1\nup /bin/sh" },
      }),
    ).toThrow("bad listen address");
  });

  test("OpenVPN 2.6.11 or newer is required", () => {
    expect(parseOpenvpnVersion("OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)]")).toEqual([
      2, 6, 14,
    ]);
    expect(parseOpenvpnVersion("bash: openvpn: not found")).toBeNull();
    expect(supportedVersion([2, 6, 14])).toBe(true);
    expect(supportedVersion([2, 6, 11])).toBe(true);
    expect(supportedVersion([2, 6, 10])).toBe(false);
    expect(supportedVersion([2, 5, 99])).toBe(false);
    expect(supportedVersion([2, 7, 0])).toBe(true);
  });
});
