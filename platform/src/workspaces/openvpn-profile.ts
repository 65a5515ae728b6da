// A customer's OpenVPN client config, checked line by line against an allow-list of client
// directives; inline private material is split off to be sealed, the rest kept as text. Pure.
import { ValidationError } from "../shared/index.ts";
import {
  ALLOWED,
  FILE_DIRECTIVES,
  PUBLIC_BLOCKS,
  REFUSED,
  SECRET_BLOCKS,
} from "./openvpn-directives.ts";

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
 * The config with each `remote <name> …` line replaced by one line per address `addresses` gives
 * for that name (the addresses the platform resolved and the workspace's firewall allows: the
 * workspace itself may have no DNS). Names without an entry, and addresses, stay as they are.
 */
export function pinRemoteAddresses(config: string, addresses: Map<string, string[]>): string {
  return config
    .split("\n")
    .flatMap((line) => {
      const match = /^remote\s+(\S+)(.*)$/.exec(line);
      const found = match ? addresses.get(match[1] ?? "") : undefined;
      return found?.length
        ? found.map((address) => `remote ${address}${match?.[2] ?? ""}`)
        : [line];
    })
    .join("\n");
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
