// The gateway's state volume: small JSON files written atomically (temp file + rename), so a power
// cut leaves either the old or the new version, never half of one.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { EnvelopeBody, SshEvent } from "@meetpoint/common";

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
export type EnvelopeVersions = Partial<
  Record<"data-channel" | "command" | "gateway-settings", number>
>;

/** The newest signed gateway settings accepted (verified when they arrived). */
export interface AcceptedSettings {
  body: EnvelopeBody<"gateway-settings">;
  version: number;
  acceptedAt: string;
}

/** An SSH key the operator added in the operator UI (used while the platform allows it). */
export interface OperatorSshKey {
  /** "<type> <base64>", checked when added. */
  key: string;
  label: string;
  fingerprint: string;
  addedAt: string;
}

/** The proxy the operator entered; the password sealed (see agent/proxy-setting.ts). */
export interface StoredProxy {
  host: string;
  port: number;
  username: string | null;
  /** AES-256-GCM of the password with the volume's seal key, base64 (iv | ciphertext | tag). */
  sealedPassword: string | null;
  savedAt: string;
}

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

  settings(): AcceptedSettings | null {
    return this.read<AcceptedSettings>("gateway-settings.json");
  }

  saveSettings(settings: AcceptedSettings): void {
    this.write("gateway-settings.json", settings);
  }

  operatorSshKeys(): OperatorSshKey[] {
    return this.read<OperatorSshKey[]>("operator-ssh-keys.json") ?? [];
  }

  saveOperatorSshKeys(keys: OperatorSshKey[]): void {
    this.write("operator-ssh-keys.json", keys);
  }

  proxy(): StoredProxy | null {
    return this.read<StoredProxy>("proxy.json");
  }

  saveProxy(proxy: StoredProxy | null): void {
    if (proxy) this.write("proxy.json", proxy);
    else rmSync(join(this.dir, "proxy.json"), { force: true });
  }

  /** Maintenance-window occurrences the agent armed for already ("<id>@<start>"), kept across restarts. */
  armedWindows(): string[] {
    return this.read<string[]>("armed-windows.json") ?? [];
  }

  saveArmedWindows(keys: string[]): void {
    this.write("armed-windows.json", keys);
  }

  /** SSH events not yet reported to the platform (kept across restarts), oldest first. */
  pendingSshEvents(): SshEvent[] {
    return this.read<SshEvent[]>("ssh-events.json") ?? [];
  }

  savePendingSshEvents(events: SshEvent[]): void {
    this.write("ssh-events.json", events);
  }

  /**
   * The volume's 256-bit key that seals secrets at rest (the proxy password), made at first use.
   * It keeps them out of copies of single state files and of diagnostics; whoever holds the whole
   * volume holds the key too.
   */
  sealKey(): Buffer {
    const kept = Buffer.from(this.read<string>("seal.key") ?? "", "hex");
    if (kept.length === 32) return kept;
    const key = randomBytes(32);
    this.write("seal.key", key.toString("hex"));
    return key;
  }
}
