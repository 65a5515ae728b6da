// The gateway's event log: what happened, in plain words, for the operator and for IT. Kept in
// memory for the UI and appended to the state volume (rotated at 1 MB, one previous file kept).
import { appendFileSync, existsSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";

export interface AgentEvent {
  at: string;
  level: "info" | "warn" | "error";
  text: string;
}

/** Where the agent's parts write what happened (EventLog.add). */
export type Log = (level: AgentEvent["level"], text: string) => void;

const KEEP = 200;
const ROTATE_BYTES = 1_000_000;

export class EventLog {
  private events: AgentEvent[] = [];
  private readonly file: string | null;

  /** `dir` null keeps the log in memory only (tests). */
  constructor(
    dir: string | null,
    private readonly now: () => Date = () => new Date(),
    private readonly echo: (line: string) => void = () => {},
  ) {
    this.file = dir ? join(dir, "events.log") : null;
    if (this.file && existsSync(this.file)) {
      this.events = readFileSync(this.file, "utf8")
        .trim()
        .split("\n")
        .slice(-KEEP)
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as AgentEvent];
          } catch {
            return [];
          }
        });
    }
  }

  add(level: AgentEvent["level"], text: string): void {
    const event = { at: this.now().toISOString(), level, text };
    this.events.push(event);
    if (this.events.length > KEEP) this.events.shift();
    this.echo(`${event.at} ${level} ${text}`);
    if (!this.file) return;
    try {
      if (existsSync(this.file) && statSync(this.file).size > ROTATE_BYTES)
        renameSync(this.file, `${this.file}.1`);
      appendFileSync(this.file, `${JSON.stringify(event)}\n`, { mode: 0o600 });
    } catch {
      // A full disk must not stop the gateway; the event stays in memory.
    }
  }

  /** Newest first. */
  recent(limit = KEEP): AgentEvent[] {
    return this.events.slice(-limit).reverse();
  }
}
