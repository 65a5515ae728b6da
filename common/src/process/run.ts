// Runs a command to completion (nft, ip, sysctl, openvpn --version), optionally inside a network
// namespace, always with a deadline; the answer is data, never an exception.
import { DRAIN_MS, readStream } from "./output.ts";
import { settleWithin } from "./wait.ts";

export interface CommandResult {
  /** The exit code; 124 when the deadline killed it, 127 when it cannot be started. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin, then closed; without it stdin is empty. */
  input?: string;
  /** Deadline in milliseconds, default 10 000; past it the command is killed (SIGKILL). */
  timeoutMs?: number;
  /** Run inside this network namespace (`ip netns exec <netns> …`); null or absent: this one. */
  netns?: string | null;
}

/** A command runner as modules take it; tests pass a fake with the same signature. */
export type Runner = (args: string[], options?: RunOptions) => Promise<CommandResult>;

/** Default deadline of `run`, in milliseconds. */
const RUN_TIMEOUT_MS = 10_000;

/** The argv that runs `args` inside `netns` (unchanged without one). */
export function inNetns(args: string[], netns: string | null | undefined): string[] {
  return netns ? ["ip", "netns", "exec", netns, ...args] : args;
}

/**
 * Runs `args` and resolves with its exit code and output. Never throws: a non-zero exit is a
 * result, a missing executable answers 127 ("<name>: command not found"), a command past its
 * deadline is killed and answers 124.
 */
export const run: Runner = async (args, options = {}) => {
  const name = args[0] ?? "";
  if (!Bun.which(name)) return { code: 127, stdout: "", stderr: `${name}: command not found` };
  const timeoutMs = options.timeoutMs ?? RUN_TIMEOUT_MS;
  let child: Bun.Subprocess<Uint8Array | "ignore", "pipe", "pipe">;
  try {
    child = Bun.spawn(inNetns(args, options.netns), {
      stdin: options.input === undefined ? "ignore" : new TextEncoder().encode(options.input),
      stdout: "pipe",
      stderr: "pipe",
    });
  } catch (error) {
    return { code: 127, stdout: "", stderr: `${name}: ${String(error)}` };
  }
  let stdout = "";
  let stderr = "";
  const drained = Promise.all([
    readStream(child.stdout, { onText: (text) => (stdout += text) }),
    readStream(child.stderr, { onText: (text) => (stderr += text) }),
  ]);
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const code = await child.exited;
  clearTimeout(deadline);
  await settleWithin(drained, DRAIN_MS);
  if (!timedOut) return { code, stdout, stderr };
  return {
    code: 124,
    stdout,
    stderr: `${stderr}${stderr && !stderr.endsWith("\n") ? "\n" : ""}${name}: no result within ${timeoutMs} ms (killed)`,
  };
};
