// The watched import directory (the "USB stick"): bundle files (*.jws) directly inside it are
// imported once each. Symlinks, directories, hidden or oddly named files are ignored and logged,
// so nothing outside the directory is ever read through it.
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { MAX_BUNDLE_BYTES } from "./import.ts";

const BUNDLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.jws$/;

export type Found = { name: string; text: string } | { name: string; ignored: string };

/**
 * Reads new candidate files in `dir`. `seen` remembers what was handled (name, size and mtime),
 * so each file is looked at once until it changes.
 */
export function scanImportDir(dir: string, seen: Set<string>): Found[] {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const found: Found[] = [];
  for (const entry of entries) {
    const name = entry.name;
    if (name.startsWith(".")) continue;
    const once = (key: string, item: Found) => {
      if (seen.has(key)) return;
      seen.add(key);
      found.push(item);
    };
    if (entry.isSymbolicLink()) {
      once(`link:${name}`, { name, ignored: "a symbolic link (only plain files are imported)" });
      continue;
    }
    if (!entry.isFile() || !BUNDLE_NAME.test(name)) {
      if (!entry.isFile() || name.endsWith(".jws"))
        once(`other:${name}`, { name, ignored: "not a plain bundle file (*.jws)" });
      continue;
    }
    let fd: number;
    try {
      // O_NOFOLLOW: a file swapped for a symlink after readdir is refused, not followed.
      fd = openSync(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      once(`open:${name}`, { name, ignored: "cannot be opened as a plain file" });
      continue;
    }
    try {
      const stat = fstatSync(fd);
      const key = `file:${name}:${stat.size}:${stat.mtimeMs}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (!stat.isFile()) found.push({ name, ignored: "not a plain file" });
      else if (stat.size > MAX_BUNDLE_BYTES)
        found.push({ name, ignored: `too large (${stat.size} bytes)` });
      else {
        const buffer = Buffer.alloc(stat.size);
        readSync(fd, buffer, 0, stat.size, 0);
        found.push({ name, text: buffer.toString("utf8") });
      }
    } finally {
      closeSync(fd);
    }
  }
  return found;
}
