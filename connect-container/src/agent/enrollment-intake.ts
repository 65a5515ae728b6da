// Enrollment bundles reaching the agent, uploaded by the operator or dropped into the watched import
// directory: each verified whole before it replaces the enrollment; a new one ends the old one's
// data channel.
import { mkdirSync } from "node:fs";
import { type ImportResult, importBundle } from "../enrollment/import.ts";
import { scanImportDir } from "../enrollment/watch.ts";
import type { Store } from "../state/store.ts";
import type { Log } from "./events.ts";
import { type AgentStatus, armed } from "./status.ts";

/** How often the import directory is read, in milliseconds. */
const SCAN_INTERVAL_MS = 2000;

export interface EnrollmentIntakeDeps {
  store: Pick<Store, "enrollment" | "saveEnrollment">;
  status: () => AgentStatus;
  /** Ends remote access without telling the platform (the new enrollment may name another one). */
  disconnect: (by: string, error: string | null, report: boolean) => Promise<void>;
  /** A bundle was imported: the control channel starts over with it. */
  enrolled: () => void;
  log: Log;
  now: () => Date;
}

export class EnrollmentIntake {
  private stopped = false;
  private timer: Timer | null = null;
  private readonly seen = new Set<string>();

  constructor(private readonly deps: EnrollmentIntakeDeps) {}

  /** Imports a bundle (upload or import directory); the previous enrollment stays on any failure. */
  async importBundle(text: string, source: string): Promise<ImportResult> {
    const result = await importBundle(this.deps.store, text, this.deps.now());
    if (!result.ok) {
      this.deps.log("warn", `enrollment bundle from ${source} rejected: ${result.reason}`);
      return result;
    }
    const { body, version } = result.enrollment;
    this.deps.log(
      "info",
      `enrollment bundle from ${source} imported: gateway ${body.gatewayId}, version ${version}, platform ${body.platformUrl}`,
    );
    if (!result.first && armed(this.deps.status()))
      await this.deps.disconnect("new enrollment", null, false);
    this.deps.enrolled();
    return result;
  }

  /** Reads the import directory now and every 2 s until stop(); creates it if missing. */
  watch(dir: string): void {
    // Made here so the operator (or a mounted stick) finds where bundles go.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const scan = async () => {
      await this.scan(dir);
      if (!this.stopped) this.timer = setTimeout(scan, SCAN_INTERVAL_MS);
    };
    void scan();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async scan(dir: string): Promise<void> {
    for (const found of scanImportDir(dir, this.seen)) {
      if ("ignored" in found)
        this.deps.log(
          "warn",
          `import directory: ${JSON.stringify(found.name)} ignored: ${found.ignored}`,
        );
      else await this.importBundle(found.text, `import directory (${found.name})`);
    }
  }
}
