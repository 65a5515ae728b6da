// Reads an OpenVPN configuration the way openvpn does (directives, inline blocks, comments), so that
// tests and the gateway can check a profile contains only what is allowed.

export interface ParsedConfig {
  directives: { name: string; args: string[] }[];
  blocks: { tag: string; content: string }[];
}

/**
 * Splits a config into directives and inline blocks. Line breaks are whatever openvpn treats as
 * one (LF, and CR before it); anything else — U+2028, NUL — stays inside a line.
 */
export function parseConfig(text: string): ParsedConfig {
  const directives: ParsedConfig["directives"] = [];
  const blocks: ParsedConfig["blocks"] = [];
  const lines = text.split("\n").map((line) => line.replace(/\r$/, ""));
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const open = line.match(/^<([^/>][^>]*)>$/);
    if (open?.[1]) {
      const tag = open[1];
      const content: string[] = [];
      for (i++; i < lines.length && (lines[i] ?? "").trim() !== `</${tag}>`; i++)
        content.push(lines[i] ?? "");
      if (i >= lines.length) throw new Error(`inline block <${tag}> is not closed`);
      blocks.push({ tag, content: `${content.join("\n")}\n` });
      continue;
    }
    const [name = "", ...args] = line.replace(/^--/, "").split(/[ \t]+/);
    directives.push({ name, args });
  }
  return { directives, blocks };
}
