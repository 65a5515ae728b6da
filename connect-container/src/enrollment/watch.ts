// The watched import directory (the "USB stick"): every plain file directly inside it whose name
// ends in .jws, in any letter case and whatever else the name holds (a browser's
// "meetpoint-enrollment-<id> (1).jws", a stick's "…JWS"), is imported once. Everything else is
// skipped, and every skipped entry is logged once with the reason: hidden files, symlinks,
// directories, other names — so nothing outside the directory is ever read through it, and an
// operator sees why a file was not taken.
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { MAX_BUNDLE_BYTES } from "./import.ts";

const BUNDLE_NAME = /\.jws$/i;

export type Found = { name: string; text: string } | { name: string; ignored: string };

/** Why a directory entry is not read as a bundle, or null when it is a candidate. */
function skipReason(entry: import("node:fs").Dirent): string | null {
  if (entry.name.startsWith("."))
    return "a hidden file (names starting with a dot are skipped, as partial downloads often are)";
  if (entry.isSymbolicLink()) return "a symbolic link (only plain files are imported)";
  if (entry.isDirectory()) return "a directory (only plain files directly inside are imported)";
  if (!entry.isFile()) return "not a plain file";
  if (!BUNDLE_NAME.test(entry.name)) return "not a bundle: the name does not end in .jws";
  return null;
}

/**
 * Reads new candidate files in `dir`. `seen` remembers what was handled (a skipped name; a
 * bundle file by name, size and mtime), so each is looked at, and logged, once until it changes.
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
    const once = (key: string, item: Found) => {
      if (seen.has(key)) return;
      seen.add(key);
      found.push(item);
    };
    const skipped = skipReason(entry);
    if (skipped) {
      once(`skip:${name}:${skipped}`, { name, ignored: skipped });
      continue;
    }
    let fd: number;
    try {
      // O_NOFOLLOW: a file swapped for a symlink after readdir is refused, not followed;
      // O_NONBLOCK: one swapped for a FIFO cannot hold the scan.
      fd = openSync(
        join(dir, name),
        constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      );
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
