// Which OpenVPN client directives a customer's profile may use, and how their arguments are
// checked: the allow-list, the refusals with their reasons, and the inline blocks (public ones kept
// in the config, private ones sealed). Tables and pure checks; parseOpenVpnProfile applies them.
import { prefixOfNetmask } from "@meetpoint/common";
import {
  destinationRefusal,
  endpointRefusal,
  isHostOrAddress,
  isNumericLookingHost,
  NUMERIC_HOST_MESSAGE,
  parseNetwork,
} from "./addresses.ts";

/** Inline blocks whose content is public (certificates) and kept in the config text. */
export const PUBLIC_BLOCKS = new Set(["ca", "cert", "extra-certs"]);
/** Inline blocks holding private material: sealed with the KEK. */
export const SECRET_BLOCKS = new Set([
  "key",
  "tls-auth",
  "tls-crypt",
  "tls-crypt-v2",
  "secret",
  "pkcs12",
  "auth-user-pass",
]);

const PORT = /^([1-9]\d{0,4})$/;
const isPort = (t: string | undefined) => t !== undefined && PORT.test(t) && Number(t) <= 65535;
const PROTOS = new Set([
  "udp",
  "udp4",
  "udp6",
  "tcp",
  "tcp4",
  "tcp6",
  "tcp-client",
  "tcp4-client",
  "tcp6-client",
]);
const WORD = /^[A-Za-z0-9._:+-]{1,100}$/;
const NUMBER = /^\d{1,6}$/;

type Check = (args: string[]) => string | null;

/**
 * Why a `route <network> [netmask]` is refused: a destination a workspace may never reach (the
 * platform's networks, catch-alls, loopback…: destinationRefusal) — routed into the tunnel it
 * would send the relay's and the reports' answers to the customer. Null when it may stand.
 */
function routeRefusal(address: string, netmask: string | undefined): string | null {
  const bits = netmask && netmask !== "default" ? prefixOfNetmask(netmask) : 32;
  if (bits === null) return `route ${address} ${netmask}: not a netmask (one-bits from the left)`;
  const network = parseNetwork(`${address}/${bits}`);
  if (!network) return `route ${address} ${netmask ?? ""}: not a network (host bits set?)`.trim();
  const refusal = destinationRefusal(network);
  return refusal ? `route ${address}/${bits} ${refusal}` : null;
}
const none: Check = (a) => (a.length === 0 ? null : "takes no arguments");
const oneOf =
  (...values: string[]): Check =>
  (a) =>
    a.length === 1 && values.includes(a[0] ?? "") ? null : `must be ${values.join(" or ")}`;
const numbers =
  (min: number, max: number): Check =>
  (a) =>
    a.length >= min && a.length <= max && a.every((x) => NUMBER.test(x))
      ? null
      : `takes ${min === max ? min : `${min}–${max}`} number(s)`;
const words =
  (min: number, max: number): Check =>
  (a) =>
    a.length >= min && a.length <= max && a.every((x) => WORD.test(x))
      ? null
      : `takes ${min === max ? min : `${min}–${max}`} plain word(s)`;
const FROM_DISK = "reads a file from disk: put its content inline in a block instead";
/**
 * Inline-only file directives: `ca [inline]` or nothing but the block (whose presence
 * parseOpenVpnProfile checks); no further argument.
 */
const inlineOnly: Check = (a) =>
  a.length === 0 || (a.length === 1 && a[0] === "[inline]")
    ? null
    : a[0] === "[inline]"
      ? "takes nothing after [inline]"
      : FROM_DISK;
/** tls-auth / secret: `[inline]` and an optional key direction 0 or 1, as OpenVPN allows. */
const inlineWithDirection: Check = (a) =>
  a.length === 0 ||
  (a[0] === "[inline]" && (a.length === 1 || (a.length === 2 && ["0", "1"].includes(a[1] ?? ""))))
    ? null
    : a[0] === "[inline]"
      ? "takes only a key direction (0 or 1) after [inline]"
      : FROM_DISK;

/** Directives naming a file, accepted only with their inline block. */
export const FILE_DIRECTIVES = [...PUBLIC_BLOCKS, ...SECRET_BLOCKS].filter(
  // auth-user-pass without a block is its own case (it would prompt): see ALLOWED.
  (name) => name !== "auth-user-pass",
);

/** Client directives the workspace accepts, with a check of their arguments. */
export const ALLOWED: Record<string, Check> = {
  client: none,
  "tls-client": none,
  pull: none,
  dev: (a) =>
    a.length === 1 && /^tun\d{0,3}$/.test(a[0] ?? "")
      ? null
      : "must be tun (a routed tunnel; tap bridges the workspace into the customer's LAN and is not supported)",
  "dev-type": oneOf("tun"),
  proto: (a) => (a.length === 1 && PROTOS.has(a[0] ?? "") ? null : "must be udp or tcp(-client)"),
  remote: (a) =>
    isNumericLookingHost(a[0] ?? "") && a.length <= 3
      ? `${(a[0] ?? "").slice(0, 60)} ${NUMERIC_HOST_MESSAGE}`
      : a.length >= 1 &&
          a.length <= 3 &&
          isHostOrAddress(a[0] ?? "") &&
          (a[1] === undefined || isPort(a[1])) &&
          (a[2] === undefined || PROTOS.has(a[2]))
        ? (() => {
            const why = endpointRefusal(a[0] ?? "");
            return why ? `${(a[0] ?? "").slice(0, 60)} ${why}` : null;
          })()
        : "must be: remote <host or address> [port] [udp|tcp]",
  port: (a) => (a.length === 1 && isPort(a[0]) ? null : "must be a port 1–65535"),
  rport: (a) => (a.length === 1 && isPort(a[0]) ? null : "must be a port 1–65535"),
  nobind: none,
  float: none,
  "remote-random": none,
  "resolv-retry": (a) =>
    a.length === 1 && (a[0] === "infinite" || NUMBER.test(a[0] ?? ""))
      ? null
      : "must be infinite or seconds",
  "persist-key": none,
  "persist-tun": none,
  "remote-cert-tls": oneOf("server"),
  "ns-cert-type": oneOf("server"),
  "verify-x509-name": (a) =>
    a.length >= 1 &&
    a.length <= 2 &&
    /^[^"'\\]{1,200}$/.test(a[0] ?? "") &&
    (a[1] === undefined || ["subject", "name", "name-prefix"].includes(a[1]))
      ? null
      : "must be: verify-x509-name <name> [subject|name|name-prefix]",
  cipher: words(1, 1),
  "data-ciphers": words(1, 1),
  "data-ciphers-fallback": words(1, 1),
  "ncp-ciphers": words(1, 1),
  "tls-cipher": words(1, 1),
  "tls-ciphersuites": words(1, 1),
  "tls-groups": words(1, 1),
  auth: words(1, 1),
  "comp-lzo": oneOf("no"),
  "allow-compression": oneOf("no"),
  verb: numbers(1, 1),
  mute: numbers(1, 1),
  "mute-replay-warnings": none,
  "key-direction": oneOf("0", "1"),
  "tls-version-min": (a) =>
    (a.length === 1 || (a.length === 2 && a[1] === "or-highest")) &&
    ["1.2", "1.3"].includes(a[0] ?? "")
      ? null
      : "must be 1.2 or 1.3 [or-highest]",
  "tls-version-max": oneOf("1.2", "1.3"),
  "auth-nocache": none,
  "auth-retry": oneOf("none", "nointeract"),
  "connect-retry": numbers(1, 2),
  "connect-retry-max": numbers(1, 1),
  "connect-timeout": numbers(1, 1),
  "server-poll-timeout": numbers(1, 1),
  "hand-window": numbers(1, 1),
  "reneg-sec": numbers(1, 1),
  ping: numbers(1, 1),
  "ping-restart": numbers(1, 1),
  keepalive: numbers(2, 2),
  "explicit-exit-notify": numbers(0, 1),
  mssfix: numbers(0, 1),
  "tun-mtu": numbers(1, 1),
  "route-nopull": none,
  "route-delay": numbers(0, 2),
  route: (a) =>
    a.length >= 1 &&
    a.length <= 4 &&
    a.every(
      (x) =>
        parseNetwork(x) !== null ||
        NUMBER.test(x) ||
        ["vpn_gateway", "net_gateway", "default"].includes(x),
    )
      ? routeRefusal(a[0] ?? "", a[1])
      : "must be: route <network> [netmask] [gateway] [metric]",
  "script-security": (a) =>
    a.length === 1 && ["0", "1"].includes(a[0] ?? "")
      ? null
      : "above 1 lets the config run scripts: only 0 or 1",
  "auth-user-pass": (a) =>
    a.length === 0
      ? null
      : "reads credentials from a file on disk: put them inline in an <auth-user-pass> block",
  ca: inlineOnly,
  cert: inlineOnly,
  "extra-certs": inlineOnly,
  key: inlineOnly,
  "tls-auth": inlineWithDirection,
  "tls-crypt": inlineOnly,
  "tls-crypt-v2": inlineOnly,
  secret: inlineWithDirection,
  pkcs12: inlineOnly,
};

/** Directives refused with a specific reason (everything not in ALLOWED is refused as well). */
export const REFUSED: Record<string, string> = {
  up: "runs a command",
  down: "runs a command",
  "down-pre": "runs a command",
  ipchange: "runs a command",
  "route-up": "runs a command",
  "route-pre-down": "runs a command",
  "tls-verify": "runs a command",
  "learn-address": "runs a command",
  "client-connect": "runs a command",
  "client-disconnect": "runs a command",
  "auth-user-pass-verify": "runs a command",
  iproute: "runs a command",
  plugin: "loads a plugin",
  management: "opens a management interface",
  config: "reads another config file from disk",
  cd: "changes directory on disk",
  chroot: "changes the root directory",
  daemon: "detaches from the supervisor",
  log: "writes a file on disk",
  "log-append": "writes a file on disk",
  writepid: "writes a file on disk",
  status: "writes a file on disk",
  "replay-persist": "writes a file on disk",
  "tmp-dir": "writes files on disk",
  askpass: "reads a file from disk",
  "crl-verify": "reads a file from disk",
  capath: "reads files from disk",
  dh: "reads a file from disk",
  "dev-node": "opens a device node",
  setenv: "sets environment for scripts",
  "setenv-safe": "sets environment for scripts",
  user: "the supervisor decides the user",
  group: "the supervisor decides the group",
  "dev tap": "tap bridges the workspace into the customer's LAN",
  server: "is a server directive",
  mode: "is a server directive",
};
