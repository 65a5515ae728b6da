// Side effects that follow a committed change — firewall grants, conntrack, OpenVPN connections,
// certificates, gateway commands. Each is retried; all are tried even when one fails; what still
// fails is logged and surfaced together (CutIncompleteError), never swallowed.
import { CutIncompleteError } from "../shared/index.ts";

export interface Effect {
  /** What the step does, in words for the log and the error ("remove firewall grants"). */
  step: string;
  run: () => Promise<unknown>;
  /** How often to try; default 3 (waiting 100 ms, then 200 ms between tries). */
  attempts?: number;
}

/** Runs `effects` in order; skips falsy entries. Throws CutIncompleteError naming what failed. */
export async function carryOut(
  effects: (Effect | false | null | undefined)[],
  log: (line: string) => void = console.error,
): Promise<void> {
  const failures: { step: string; error: unknown }[] = [];
  for (const effect of effects) {
    if (!effect) continue;
    const attempts = effect.attempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        await effect.run();
        break;
      } catch (error) {
        if (attempt >= attempts) {
          log(`${effect.step} failed (${attempt} of ${attempts} tries): ${String(error)}`);
          failures.push({ step: effect.step, error });
          break;
        }
        await Bun.sleep(100 * attempt);
      }
    }
  }
  if (failures.length) throw new CutIncompleteError(failures);
}
