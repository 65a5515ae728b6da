// Long-running processes (OpenVPN client and servers): started with a bounded tail of their output,
// stopped with SIGTERM and, after a grace period, SIGKILL; how each ended, in words.
import { DRAIN_MS, readStream } from "./output.ts";
import { inNetns } from "./run.ts";
import { settleWithin } from "./wait.ts";

/** How a process ended: its exit code, or the signal that killed it (a number if unnamed). */
export interface ProcessEnd {
  code: number | null;
  signal: NodeJS.Signals | number | null;
}

/** "exit 1", "killed by SIGKILL". */
export function exitReason(end: ProcessEnd): string {
  return end.signal ? `killed by ${end.signal}` : `exit ${end.code}`;
}

export interface SpawnOptions {
  /** Run inside this network namespace (`ip netns exec <netns> …`); null or absent: this one. */
  netns?: string | null;
  /** Lines of output kept (stdout and stderr together, oldest dropped first); default 100. */
  tailLines?: number;
  /** Called with every line of output (either stream) as it arrives. */
  onLine?: (line: string) => void;
  /**
   * The process is killed (SIGKILL) when this one dies, even by kill -9: started through
   * `setpriv --pdeathsig SIGKILL` (util-linux; setpriv(1), prctl(2) PR_SET_PDEATHSIG). For what
   * must never outlive its supervisor, like a VPN endpoint whose access the supervisor decides.
   */
  diesWithParent?: boolean;
}

/** A started process as its supervisor sees it. */
export interface ProcessHandle {
  readonly pid: number;
  /** How it ended; null while it runs. */
  readonly end: ProcessEnd | null;
  /** Resolves once it ended and its output was read (at most 500 ms after the end). */
  readonly exited: Promise<ProcessEnd>;
  /** The kept lines of output, oldest first. */
  tail(): string[];
  /** Whether one of the kept lines contains `pattern` (a string) or matches it (a RegExp). */
  hasLine(pattern: string | RegExp): boolean;
  /** Sends `signal` (default SIGTERM); nothing once the process ended. */
  kill(signal?: NodeJS.Signals): void;
}

/** Default of `SpawnOptions.tailLines`. */
const TAIL_LINES = 100;

/**
 * Starts `args` with stdin closed and its output kept as a tail of lines. Throws when the
 * executable cannot be started (Bun's error, e.g. "Executable not found in $PATH"), or when
 * `diesWithParent` is asked for and setpriv is missing.
 */
export function spawnProcess(args: string[], options: SpawnOptions = {}): ProcessHandle {
  if (options.diesWithParent && !Bun.which("setpriv"))
    throw new Error("setpriv (util-linux) is missing: it binds the process to this one's life");
  const bound = options.diesWithParent
    ? ["setpriv", "--pdeathsig", "SIGKILL", "--", ...args]
    : args;
  const child = Bun.spawn(inNetns(bound, options.netns), {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const keep = options.tailLines ?? TAIL_LINES;
  const lines: string[] = [];
  const onLine = (line: string) => {
    options.onLine?.(line);
    lines.push(line);
    if (lines.length > keep) lines.shift();
  };
  const drained = Promise.all([
    readStream(child.stdout, { onLine }),
    readStream(child.stderr, { onLine }),
  ]);
  let end: ProcessEnd | null = null;
  const exited = child.exited.then(async () => {
    const ended: ProcessEnd = { code: child.exitCode, signal: child.signalCode };
    end = ended;
    await settleWithin(drained, DRAIN_MS);
    return ended;
  });
  return {
    pid: child.pid,
    get end() {
      return end;
    },
    exited,
    tail: () => [...lines],
    hasLine: (pattern) =>
      lines.some((line) =>
        typeof pattern === "string" ? line.includes(pattern) : pattern.test(line),
      ),
    kill: (signal = "SIGTERM") => {
      if (end === null) child.kill(signal);
    },
  };
}

export interface StopOptions {
  /** How long the process may take to end once asked, in milliseconds; default 3000. */
  graceMs?: number;
  /** How it is asked to end; default SIGTERM. Another way (a management command) goes here. */
  terminate?: (process: ProcessHandle) => void | Promise<void>;
}

/**
 * Stops a process: asks it to end (`terminate`), waits `graceMs`, then SIGKILL. Resolves with how
 * it ended; a process that had already ended resolves at once (after `terminate` ran).
 */
export async function stopProcess(
  process: ProcessHandle,
  options: StopOptions = {},
): Promise<ProcessEnd> {
  await (options.terminate ?? ((p: ProcessHandle) => p.kill("SIGTERM")))(process);
  let inTime = false;
  await settleWithin(
    process.exited.then(() => {
      inTime = true;
    }),
    options.graceMs ?? 3000,
  );
  if (!inTime) process.kill("SIGKILL");
  return process.exited;
}
