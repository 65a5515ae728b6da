// Diagnostics runs in the background, so the page answers at once and shows each check as it
// ends: one run at a time, reused by whoever asks while it runs or shortly after it ended.
import type { DiagnosticLine, DiagnosticsProgress } from "../diagnostics/report.ts";

/** A finished run is shown again (not re-run) to whoever asks within this time, in milliseconds. */
const REUSE_MS = 5000;

export interface DiagnosticsRun {
  startedAt: Date;
  endedAt: Date | null;
  /** The lines so far (all of them once it ended). */
  lines: DiagnosticLine[];
  /** The check running now; null once ended. */
  running: string | null;
  finished: Promise<DiagnosticLine[]>;
}

/** Runs the diagnostics (`diagnose`) on demand, one run at a time. */
export class DiagnosticsRuns {
  private current: DiagnosticsRun | null = null;

  constructor(
    private readonly diagnose: (progress: DiagnosticsProgress) => Promise<DiagnosticLine[]>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The run that is going on; else the last one if it ended moments ago; else a new one. */
  fresh(): DiagnosticsRun {
    const current = this.current;
    if (
      current &&
      (current.endedAt === null || this.now().getTime() - current.endedAt.getTime() < REUSE_MS)
    )
      return current;
    return this.start();
  }

  /** A new run, unless one is going on (then that one). */
  start(): DiagnosticsRun {
    if (this.current && this.current.endedAt === null) return this.current;
    const run: DiagnosticsRun = {
      startedAt: this.now(),
      endedAt: null,
      lines: [],
      running: "starting",
      finished: Promise.resolve([]),
    };
    run.finished = this.diagnose((lines, running) => {
      run.lines = lines;
      run.running = running;
    }).then(
      (lines) => {
        run.lines = lines;
        run.running = null;
        run.endedAt = this.now();
        return lines;
      },
      (error) => {
        run.running = null;
        run.endedAt = this.now();
        run.lines = [
          ...run.lines,
          {
            check: "Diagnostics",
            verdict: "fail",
            detail: `the checks could not finish: ${(error as Error).message}`,
            hint: null,
            who: null,
            blocks: true,
          },
        ];
        return run.lines;
      },
    );
    this.current = run;
    return run;
  }

  /** The run shown last, if any. */
  get last(): DiagnosticsRun | null {
    return this.current;
  }
}
