// SSH keys the operator enters in the operator UI: accepted only while the platform's signed
// settings allow operator keys, checked like the platform's (an accepted type, RSA at least 3072
// bits), kept on the state volume, and each addition or removal reported to the platform's audit.
import { MAX_SSH_KEYS, parseSshPublicKey, type SshEvent } from "@meetpoint/common";
import type { OperatorSshKey, Store } from "../state/store.ts";
import type { GatewaySettings } from "./gateway-settings.ts";

export interface OperatorKeysDeps {
  store: Pick<Store, "operatorSshKeys" | "saveOperatorSshKeys">;
  settings: () => GatewaySettings;
  record: (event: SshEvent) => void;
  /** The SSH server takes the new set of keys. */
  applied: () => void;
  now: () => Date;
}

export type KeyChange = { ok: true; key: OperatorSshKey } | { ok: false; reason: string };

export class OperatorKeys {
  constructor(private readonly deps: OperatorKeysDeps) {}

  /** Whether the platform allows operator keys now. */
  get allowed(): boolean {
    return this.deps.settings().ssh.operatorKeys;
  }

  list(): OperatorSshKey[] {
    return this.deps.store.operatorSshKeys();
  }

  /** Adds a pasted public key with a label; refused with the reason (nothing changes then). */
  add(text: string, label: string): KeyChange {
    if (!this.allowed)
      return { ok: false, reason: "the platform does not allow operator keys on this gateway" };
    const parsed = parseSshPublicKey(text);
    if (!parsed.ok) return parsed;
    const name = (label.trim() || parsed.key.comment).slice(0, 100);
    if (/[^\x20-\x7e]/.test(name))
      return { ok: false, reason: "the label must be printable characters (ASCII) only" };
    const keys = this.list();
    if (keys.some((k) => k.fingerprint === parsed.key.fingerprint))
      return { ok: false, reason: `this key (${parsed.key.fingerprint}) is already there` };
    if (keys.length >= MAX_SSH_KEYS)
      return { ok: false, reason: `at most ${MAX_SSH_KEYS} keys: remove one first` };
    const key: OperatorSshKey = {
      key: parsed.key.line,
      label: name,
      fingerprint: parsed.key.fingerprint,
      addedAt: this.deps.now().toISOString(),
    };
    this.deps.store.saveOperatorSshKeys([...keys, key]);
    this.changed("local-key-added", key);
    return { ok: true, key };
  }

  /** Removes a key by its fingerprint (also when operator keys are no longer allowed). */
  remove(fingerprint: string): KeyChange {
    const keys = this.list();
    const key = keys.find((k) => k.fingerprint === fingerprint);
    if (!key) return { ok: false, reason: "no such key" };
    this.deps.store.saveOperatorSshKeys(keys.filter((k) => k !== key));
    this.changed("local-key-removed", key);
    return { ok: true, key };
  }

  private changed(kind: "local-key-added" | "local-key-removed", key: OperatorSshKey): void {
    this.deps.record({
      at: this.deps.now().toISOString(),
      kind,
      user: null,
      from: null,
      fingerprint: key.fingerprint,
      detail: key.label || "(no label)",
    });
    this.deps.applied();
  }
}
