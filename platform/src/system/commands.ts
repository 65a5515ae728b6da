// Running system commands (nft, conntrack, ip, openvpn) on this host or inside one network
// namespace: the lab runs the whole data plane in a namespace of its own; production in the host's.
// The process toolkit in common/ does the work; this only binds the namespace.
import {
  type CommandResult,
  type ProcessHandle,
  run,
  type SpawnOptions,
  spawnProcess,
} from "@meetpoint/common";

export interface CommandRunner {
  /** Runs to completion within `timeoutMs` (default 10 s); never throws for a non-zero exit. */
  run(args: string[], input?: string, timeoutMs?: number): Promise<CommandResult>;
  /** Starts a long-running process, keeping a tail of its output. */
  start(
    args: string[],
    options?: Pick<SpawnOptions, "onLine" | "tailLines" | "diesWithParent">,
  ): ProcessHandle;
}

/** Commands on this host, or with `netns` inside that network namespace (ip netns exec). */
export function commandRunner(netns: string | null = null): CommandRunner {
  return {
    run: (args, input, timeoutMs) => run(args, { input, netns, timeoutMs }),
    start: (args, options) => spawnProcess(args, { ...options, netns }),
  };
}
