// Waiting for a condition with a deadline (a socket that accepts, a file, a line of output),
// instead of sleeping for a fixed time and hoping.
import { existsSync } from "node:fs";
import { createConnection } from "node:net";

export interface WaitOptions {
  /** Deadline in milliseconds. */
  timeoutMs: number;
  /** Pause between checks, in milliseconds; default 25. */
  intervalMs?: number;
  /** Checked after each miss: once it holds, waiting ends early with false (e.g. a process ended). */
  giveUpIf?: () => boolean;
}

/**
 * Checks `condition` until it holds (true), the deadline passes or `giveUpIf` holds (false). A
 * condition that throws or rejects counts as not holding yet; it is checked once more at the
 * deadline.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: WaitOptions,
): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await holds(condition)) return true;
    if (options.giveUpIf?.()) return false;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await Bun.sleep(Math.min(options.intervalMs ?? 25, left));
  }
}

async function holds(condition: () => boolean | Promise<boolean>): Promise<boolean> {
  try {
    return await condition();
  } catch {
    return false;
  }
}

/** A condition: the file (or socket, or directory) at `path` exists. */
export const fileExists = (path: string) => () => existsSync(path);

/** A condition: the Unix socket at `path` accepts a connection (closed again at once; 1 s each). */
export const socketAccepts = (path: string) => () =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ path });
    const done = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.setTimeout(1000, () => done(false));
  });

/** Waits for `promise`, but at most `ms` milliseconds (without leaving a timer behind). */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: Timer | undefined;
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
