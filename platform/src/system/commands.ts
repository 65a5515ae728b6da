// Running system commands (nft, conntrack, openvpn), optionally inside a network namespace: the
// lab runs the whole data plane in a namespace of its own; production runs in the host's.
import { type Subprocess, spawn } from "bun";

export interface CommandRunner {
  /** Runs to completion; resolves with exit code and output, never throws for a non-zero exit. */
  run(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Starts a long-running process. */
  start(args: string[]): Subprocess<"ignore", "pipe", "pipe">;
}

/** Commands on this host, or with `netns` inside that network namespace (ip netns exec). */
export function commandRunner(netns: string | null = null): CommandRunner {
  const wrap = (args: string[]) => (netns ? ["ip", "netns", "exec", netns, ...args] : args);
  return {
    async run(args, input) {
      if (!Bun.which(args[0] ?? ""))
        return { code: 127, stdout: "", stderr: `${args[0]}: command not found` };
      const child = spawn(wrap(args), {
        stdin: input === undefined ? "ignore" : new TextEncoder().encode(input),
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr, code] = await Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
        child.exited,
      ]);
      return { code, stdout, stderr };
    },
    start(args) {
      return spawn(wrap(args), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    },
  };
}
