// A customer's OpenVPN client config, checked line by line against an allow-list of client
// directives; inline private material is split off to be sealed, the rest kept as text. Pure.
import { ValidationError } from "../shared/index.ts";
import {
  endpointRefusal,
  isHostOrAddress,
  isNumericLookingHost,
  NUMERIC_HOST_MESSAGE,
  parseNetwork,
} from "./addresses.ts";

/** A VPN peer the workspace must reach on its uplink. */
export interface VpnEndpoint {
  host: string;
  protocol: "tcp" | "udp";
  port: number;
}

/**
 * The accepted config: text without secrets and the secrets by block name. No hash of a secret is
 * kept: an unsalted hash of an <auth-user-pass> block would let its readers guess the password.
 */
export interface OpenVpnProfile {
  /** The config as the workspace loads it, each secret block's body replaced by SEALED_MARKER. */
  config: string;
  remotes: VpnEndpoint[];
  /** Inline secret blocks by name (key, tls-crypt, tls-auth, …): to be sealed, never shown. */
  secrets: Record<string, string>;
}

/** What stands in the stored config where a sealed block's body was. */
export const SEALED_MARKER = "[sealed]";

/** Inline blocks whose content is public (certificates) and kept in the config text. */
const PUBLIC_BLOCKS = new Set(["ca", "cert", "extra-certs"]);
/** Inline blocks holding private material: sealed with the KEK. */
const SECRET_BLOCKS = new Set([
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
const FILE_DIRECTIVES = [
  "ca",
  "cert",
  "extra-certs",
  "key",
  "tls-auth",
  "tls-crypt",
  "tls-crypt-v2",
  "secret",
  "pkcs12",
] as const;

/** Client directives the workspace accepts, with a check of their arguments. */
const ALLOWED: Record<string, Check> = {
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
      ? null
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
const REFUSED: Record<string, string> = {
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

/** OpenVPN reads config lines of at most 256 bytes with the newline; longer ones are split. */
const MAX_LINE_BYTES = 255;

type BlockKind = "pem" | "static" | "credentials";
/** What a line inside a block of each kind may be (for the error message). */
const BLOCK_CONTENT: Record<BlockKind, string> = {
  pem: "a PEM armor line (-----BEGIN X----- / -----END X-----) or base64",
  static: "an OpenVPN static key armor line or hex",
  credentials: "printable text without '<'",
};

function blockKind(name: string): BlockKind {
  if (name === "auth-user-pass") return "credentials";
  if (name === "tls-auth" || name === "tls-crypt" || name === "secret") return "static";
  return "pem";
}

/** True when a trimmed, non-empty line may appear inside inline block `name`. */
function blockLineFits(name: string, line: string): boolean {
  const armor = /^-----(BEGIN|END) [A-Za-z0-9 ]+-----$/.test(line);
  switch (blockKind(name)) {
    case "credentials":
      return /^[\x20-\x7e]+$/.test(line) && !line.includes("<");
    case "static":
      return (
        /^-----(BEGIN|END) OpenVPN Static key V1-----$/.test(line) || /^[0-9a-fA-F]+$/.test(line)
      );
    default:
      return armor || /^[A-Za-z0-9+/]+={0,2}$/.test(line);
  }
}

/** Splits a line into words; "double" and 'single' quotes group a word (no escapes inside). */
function words_(line: string): string[] | null {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const m of line.matchAll(re)) {
    const word = m[1] ?? m[2] ?? m[3] ?? "";
    if (m[3] !== undefined && /["']/.test(word)) return null;
    out.push(word);
  }
  return out;
}

function refuse(lineNo: number, directive: string, reason: string): never {
  throw new ValidationError("profile", `line ${lineNo}: "${directive}" ${reason}`);
}

/**
 * Checks an OpenVPN client config and splits off its secrets. Throws a ValidationError on field
 * "profile" naming the line number and directive of the first line refused: a directive not on
 * the allow-list (scripts, plugins, files on disk, management, server directives), bad arguments,
 * an unknown or unterminated inline block, control characters. A config with no `remote`, no
 * `client`/`tls-client`, or `auth-user-pass` without an inline block is refused too.
 */
export function parseOpenVpnProfile(text: string): OpenVpnProfile {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const out: string[] = [];
  const secrets: Record<string, string> = {};
  const directives = new Map<string, string[][]>();
  let block: { name: string; start: number; body: string[] } | null = null;
  const seenBlocks = new Set<string>();
  for (const [index, raw] of lines.entries()) {
    const lineNo = index + 1;
    // OpenVPN splits lines longer than 255 bytes: the rest would be read as another line.
    if (Buffer.byteLength(raw, "utf8") > MAX_LINE_BYTES)
      throw new ValidationError(
        "profile",
        `line ${lineNo}: is longer than ${MAX_LINE_BYTES} bytes (OpenVPN would split it)`,
      );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
    if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/.test(raw) || /\p{Cf}/u.test(raw)) {
      if (block)
        throw new ValidationError(
          "profile",
          `line ${lineNo}: inside <${block.name}> contains control or format characters`,
        );
      refuse(lineNo, raw.trim().split(/\s+/)[0] ?? "", "contains control or format characters");
    }
    const line = raw.trim();
    if (block) {
      // OpenVPN ends a block at any line starting with "</name>": only the exact tag may do so.
      if (line.startsWith("</") && line !== `</${block.name}>`)
        throw new ValidationError(
          "profile",
          `line ${lineNo}: inside <${block.name}> a closing tag must be exactly </${block.name}> on its own line`,
        );
      if (line === `</${block.name}>`) {
        if (block.name === "auth-user-pass" && block.body.length > 2)
          throw new ValidationError(
            "profile",
            `line ${block.start}: <auth-user-pass> holds one or two lines (user name, password)`,
          );
        const body = block.body.join("\n");
        if (!body) refuse(block.start, `<${block.name}>`, "is empty");
        if (SECRET_BLOCKS.has(block.name)) {
          if (secrets[block.name] !== undefined)
            refuse(block.start, `<${block.name}>`, "appears twice");
          secrets[block.name] = body;
          out.push(`<${block.name}>`, SEALED_MARKER, `</${block.name}>`);
        } else out.push(`<${block.name}>`, ...block.body, `</${block.name}>`);
        directives.set(`<${block.name}>`, [[]]);
        block = null;
      } else if (line.startsWith("<")) {
        throw new ValidationError(
          "profile",
          `line ${lineNo}: inside <${block.name}> a tag appears before the block is closed`,
        );
      } else if (line) {
        if (!blockLineFits(block.name, line))
          throw new ValidationError(
            "profile",
            `line ${lineNo}: inside <${block.name}> is not ${BLOCK_CONTENT[blockKind(block.name)]}`,
          );
        block.body.push(line);
      }
      continue;
    }
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("<") && !/^<([A-Za-z0-9-]+)>$/.test(line))
      refuse(
        lineNo,
        line.split(/[\s>]/)[0] ?? "<",
        "must be a tag alone on its line (no text before or after it)",
      );
    const open = line.match(/^<([A-Za-z0-9-]+)>$/);
    if (open) {
      const name = open[1] ?? "";
      if (!PUBLIC_BLOCKS.has(name) && !SECRET_BLOCKS.has(name))
        refuse(lineNo, line, "is not an inline block the workspace accepts");
      if (seenBlocks.has(name)) refuse(lineNo, line, "appears twice");
      seenBlocks.add(name);
      block = { name, start: lineNo, body: [] };
      continue;
    }
    const parts = words_(line);
    if (!parts || parts.length === 0)
      refuse(lineNo, line.split(/\s+/)[0] ?? "", "has unbalanced quotes");
    const [directive = "", ...args] = parts;
    const name = directive.replace(/^--/, "");
    if (name === "dev" && args[0]?.startsWith("tap"))
      refuse(lineNo, "dev tap", REFUSED["dev tap"] ?? "");
    const refusal = REFUSED[name];
    if (refusal) refuse(lineNo, name, refusal);
    const check = ALLOWED[name];
    if (!check) refuse(lineNo, name, "is not on the workspace's allow-list of client directives");
    const problem = check(args);
    if (problem) refuse(lineNo, name, problem);
    directives.set(name, [...(directives.get(name) ?? []), args]);
    out.push([name, ...args.map((a) => (/\s/.test(a) ? `"${a}"` : a))].join(" "));
  }
  if (block) refuse(block.start, `<${block.name}>`, "is never closed");
  if (!directives.has("client") && !directives.has("tls-client"))
    throw new ValidationError("profile", 'a client config needs "client" (or "tls-client")');
  const remotes = remotesOf(directives);
  if (remotes.length === 0)
    throw new ValidationError("profile", 'names no "remote": the workspace would reach nothing');
  for (const name of FILE_DIRECTIVES)
    if (directives.has(name) && !seenBlocks.has(name))
      throw new ValidationError(
        "profile",
        `"${name}" needs its content inline in a <${name}> block (the workspace reads no files)`,
      );
  if (directives.has("auth-user-pass") && secrets["auth-user-pass"] === undefined)
    throw new ValidationError(
      "profile",
      '"auth-user-pass" needs the user name and password inline in an <auth-user-pass> block (the workspace cannot ask)',
    );
  return { config: `${out.join("\n")}\n`, remotes, secrets };
}

function normalProto(proto: string): "tcp" | "udp" {
  return proto.startsWith("tcp") ? "tcp" : "udp";
}

function remotesOf(directives: Map<string, string[][]>): VpnEndpoint[] {
  const lastArg = (name: string) => directives.get(name)?.at(-1)?.[0];
  const defaultPort = Number(lastArg("rport") ?? lastArg("port") ?? 1194);
  const defaultProto = normalProto(lastArg("proto") ?? "udp");
  return (directives.get("remote") ?? []).map(([host = "", port, proto]) => ({
    host,
    port: port ? Number(port) : defaultPort,
    protocol: proto ? normalProto(proto) : defaultProto,
  }));
}

/**
 * The config the workspace loads: the stored text with each sealed block's body put back. Throws
 * when a block's secret is missing (the stored profile and secrets do not belong together).
 */
export function assembleOpenVpnConfig(config: string, secrets: Record<string, string>): string {
  return config.replace(
    new RegExp(`<([A-Za-z0-9-]+)>\\n${SEALED_MARKER.replace(/[[\]]/g, "\\$&")}\\n</\\1>`, "g"),
    (_whole, name: string) => {
      const body = secrets[name];
      if (body === undefined) throw new Error(`sealed block <${name}> has no stored secret`);
      return `<${name}>\n${body}\n</${name}>`;
    },
  );
}
