// The process toolkit: commands run to completion, supervised long-running processes, waiting for
// conditions with a deadline. The platform and the gateway both use it.
export { type CommandResult, type Runner, type RunOptions, run } from "./run.ts";
export {
  exitReason,
  type ProcessEnd,
  type ProcessHandle,
  type SpawnOptions,
  type StopOptions,
  spawnProcess,
  stopProcess,
} from "./spawn.ts";
export { fileExists, socketAccepts, type WaitOptions, waitFor } from "./wait.ts";
