// The gateway's state volume: small JSON files written atomically (temp file + rename), so a power
// cut leaves either the old or the new version, never half of one.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { EnvelopeBody } from "@meetpoint/common";

/** The verified enrollment: what the gateway trusts and how it authenticates. */
export interface Enrollment {
  body: EnvelopeBody<"enrollment">;
  /** Version of the bundle; a newer one must be signed by `body.signingKey`. */
  version: number;
  importedAt: string;
}

export interface OperatorAccount {
  /** Argon2id hash of the current password; null while the initial password is in force. */
  passwordHash: string | null;
  /** Hashes of earlier passwords (including the initial one): none may be chosen again. */
  previousHashes: string[];
  /** SHA-256 (hex) of the local consent API token; null until the operator creates one. */
  apiTokenHash: string | null;
}

/** Versions of the newest envelopes accepted, per kind (rollback protection across restarts). */
export type EnvelopeVersions = Partial<Record<"data-channel" | "command", number>>;

export class Store {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private read<T>(name: string): T | null {
    try {
      return JSON.parse(readFileSync(join(this.dir, name), "utf8")) as T;
    } catch {
      return null;
    }
  }

  private write(name: string, value: unknown): void {
    const path = join(this.dir, name);
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
    chmodSync(temp, 0o600);
    renameSync(temp, path);
  }

  enrollment(): Enrollment | null {
    return this.read<Enrollment>("enrollment.json");
  }

  saveEnrollment(enrollment: Enrollment): void {
    this.write("enrollment.json", enrollment);
  }

  operator(): OperatorAccount {
    return (
      this.read<OperatorAccount>("operator.json") ?? {
        passwordHash: null,
        previousHashes: [],
        apiTokenHash: null,
      }
    );
  }

  saveOperator(account: OperatorAccount): void {
    this.write("operator.json", account);
  }

  versions(): EnvelopeVersions {
    return this.read<EnvelopeVersions>("versions.json") ?? {};
  }

  saveVersions(versions: EnvelopeVersions): void {
    this.write("versions.json", versions);
  }
}
