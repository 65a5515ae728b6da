// The lab's long-running processes (platform, agents, openvpn, postgres): a child with its output,
// started from this repository's sources, waited for by what it prints.
import { join } from "node:path";
import type { Subprocess } from "bun";
import { eventually, type OutputLog } from "./netns.ts";

/** The repository root: the lab runs the platform and the agent from their sources here. */
export const ROOT = join(import.meta.dir, "../..");

export interface Process {
  child: Subprocess<"ignore", "pipe", "pipe">;
  log: OutputLog;
}

/** Waits until `text` appears in the process's output; throws with its last lines after `ms`. */
export async function waitForLog(
  process: Process,
  text: string,
  ms: number,
  what: string,
): Promise<void> {
  if (!(await eventually(async () => process.log.has(text), ms, 100)))
    throw new Error(`${what}: "${text}" did not appear:\n${process.log.text.slice(-3000)}`);
}

/** Stops a process with SIGTERM and waits until it has exited. */
export async function stopProcess(process: Process): Promise<void> {
  process.child.kill("SIGTERM");
  await process.child.exited;
}
