// Debian's Chromium for the browser tests and the Compose lab, driven by playwright-core: one set
// of flags for all of them.
import { type Browser, chromium } from "playwright-core";

/** The flags every Chromium here runs with (no sandbox in CI containers, nothing online). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Debian's chromium on the PATH, else its usual place. */
export const CHROMIUM_PATH = Bun.which("chromium") ?? "/usr/bin/chromium";

/** A headless Chromium with CHROMIUM_ARGS and `extraArgs` (e.g. --host-resolver-rules=…). */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs] });
}
