import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { parseConfig } from "./parse.ts";
import {
  CLIENT_BLOCKS,
  CLIENT_DIRECTIVES,
  type ClientProfile,
  ProfileError,
  renderClientProfile,
} from "./render.ts";

const pem = (label: string) =>
  `-----BEGIN ${label}-----\nMIIBszCCAVmgAwIBAgIQ\nAAAA\n-----END ${label}-----\n`;
const staticKey = `-----BEGIN OpenVPN Static key V1-----\n${"0123456789abcdef0123456789abcdef\n".repeat(16)}-----END OpenVPN Static key V1-----\n`;

const valid: ClientProfile = {
  remotes: [{ host: "platform.example.test", port: 443, protocol: "tcp" }],
  serverName: "meetpoint-server",
  caPem: pem("CERTIFICATE") + pem("CERTIFICATE"),
  certificatePem: pem("CERTIFICATE"),
  privateKeyPem: pem("PRIVATE KEY"),
  tlsCryptKey: staticKey,
  routes: ["100.64.0.1", "100.64.0.2"],
};

function expectOnlyAllowed(text: string, profile: ClientProfile) {
  const parsed = parseConfig(text);
  for (const d of parsed.directives)
    expect(CLIENT_DIRECTIVES as readonly string[]).toContain(d.name);
  expect(parsed.blocks.map((b) => b.tag).sort()).toEqual([...CLIENT_BLOCKS].sort());
  expect(parsed.directives.filter((d) => d.name === "remote")).toHaveLength(profile.remotes.length);
  expect(parsed.directives.filter((d) => d.name === "route")).toHaveLength(profile.routes.length);
  expect(parsed.directives.filter((d) => d.name === "http-proxy")).toHaveLength(
    profile.httpProxy ? 1 : 0,
  );
  const singles = parsed.directives
    .filter((d) => d.name !== "remote" && d.name !== "route")
    .map((d) => d.name);
  expect(new Set(singles).size).toBe(singles.length);
  expect(parsed.directives.find((d) => d.name === "script-security")?.args).toEqual(["1"]);
}

describe(".ovpn rendering", () => {
  test("a valid profile renders to exactly the allowed directives", () => {
    const text = renderClientProfile(valid);
    expectOnlyAllowed(text, valid);
    expect(text).toContain("remote platform.example.test 443 tcp-client\n");
    expect(text).toContain("route 100.64.0.2 255.255.255.255\n");
    expect(text).toContain("data-ciphers AES-256-GCM:CHACHA20-POLY1305\n");
  });

  test("hostile characters in any field: refused, or still only allowed directives", () => {
    const hostile = fc.oneof(
      fc.string({ unit: "grapheme-composite" }),
      fc.string({
        unit: fc.constantFrom(
          "\r",
          "\n",
          "\0",
          "\u2028",
          "\u2029",
          "<",
          ">",
          '"',
          "'",
          " ",
          "\t",
          "a",
          "1",
          ".",
          "-",
          "#",
          ";",
        ),
      }),
      fc.constantFrom(
        "x\nscript-security 3\nup /bin/sh",
        "x\r\nroute-up evil",
        "</ca>\n<connection>",
        "1.2.3.4\u2028plugin x",
        "\0",
      ),
    );
    const fields = [
      "host",
      "serverName",
      "caPem",
      "certificatePem",
      "privateKeyPem",
      "tlsCryptKey",
      "route",
      "proxyHost",
    ] as const;
    fc.assert(
      fc.property(fc.constantFrom(...fields), hostile, (field, value) => {
        const profile: ClientProfile = structuredClone(valid);
        if (field === "host") profile.remotes[0] = { host: value, port: 443, protocol: "tcp" };
        else if (field === "route") profile.routes = [value];
        else if (field === "proxyHost") profile.httpProxy = { host: value, port: 3128 };
        else profile[field] = field === "serverName" ? value : (profile[field] as string) + value;
        let text: string;
        try {
          text = renderClientProfile(profile);
        } catch (error) {
          expect(error).toBeInstanceOf(ProfileError);
          return;
        }
        expectOnlyAllowed(text, profile);
      }),
      { numRuns: 2000 },
    );
  });

  test("a technician's corporate proxy: one http-proxy line, host and port only", () => {
    const profile = { ...valid, httpProxy: { host: "proxy.corp.example", port: 3128 } };
    const text = renderClientProfile(profile);
    expectOnlyAllowed(text, profile);
    expect(text).toContain("http-proxy proxy.corp.example 3128\n");
  });

  test("each bad field is named", () => {
    const cases: [Partial<ClientProfile>, string][] = [
      [{ remotes: [] }, "remotes"],
      [{ remotes: [{ host: "a b", port: 443, protocol: "tcp" }] }, "remotes.0.host"],
      [{ remotes: [{ host: "h", port: 0, protocol: "tcp" }] }, "remotes.0.port"],
      [{ serverName: "server name" }, "serverName"],
      [{ caPem: "junk" }, "caPem"],
      [{ certificatePem: pem("CERTIFICATE") + pem("CERTIFICATE") }, "certificatePem"],
      [{ privateKeyPem: pem("EC PRIVATE KEY") }, "privateKeyPem"],
      [{ tlsCryptKey: "-----BEGIN OpenVPN Static key V1-----\n" }, "tlsCryptKey"],
      [{ routes: ["100.64.0.0/24"] }, "routes.0"],
      [{ httpProxy: { host: "http://proxy.corp", port: 3128 } }, "httpProxy.host"],
      [{ httpProxy: { host: "proxy corp", port: 3128 } }, "httpProxy.host"],
      [{ httpProxy: { host: "proxy.corp\nup /bin/sh", port: 3128 } }, "httpProxy.host"],
      [{ httpProxy: { host: "proxy.corp", port: 70000 } }, "httpProxy.port"],
      [
        {
          httpProxy: { host: "proxy.corp", port: 3128 },
          remotes: [{ host: "h", port: 1194, protocol: "udp" }],
        },
        "httpProxy",
      ],
    ];
    for (const [change, field] of cases) {
      expect(() => renderClientProfile({ ...valid, ...change })).toThrow(`${field}:`);
    }
  });
});
