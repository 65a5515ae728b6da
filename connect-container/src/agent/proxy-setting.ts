// The one HTTP proxy the gateway uses for both channels — the control channel through HTTP CONNECT
// (RFC 9110 §9.3.6, formerly RFC 7231 §4.3.6) and OpenVPN through `http-proxy` over TCP
// (openvpn(8)) — from one of three places, in this order: the environment (MEETPOINT_HTTP_PROXY,
// set by whoever runs the container), the operator UI, the enrollment bundle. The password the
// operator enters is sealed at rest (AES-256-GCM with the volume's seal key) and never logged.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { checkHttpProxy, type HttpProxy, type ProxyFieldError, proxyName } from "@meetpoint/common";
import type { Store } from "../state/store.ts";
import type { Log } from "./events.ts";

export type ProxySource = "environment" | "operator UI" | "enrollment bundle";

export interface EffectiveProxy {
  proxy: HttpProxy;
  source: ProxySource;
}

/** What the operator UI may show of a proxy: never the password. */
export interface ProxyShown {
  host: string;
  port: number;
  username: string | null;
  hasPassword: boolean;
  source: ProxySource;
}

export interface ProxySettingDeps {
  store: Pick<Store, "proxy" | "saveProxy" | "sealKey" | "enrollment">;
  /** The proxy from the environment, if any: it wins and cannot be changed in the UI. */
  environment: HttpProxy | null;
  log: Log;
  now?: () => Date;
}

function seal(key: Buffer, text: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const data = Buffer.concat([cipher.update(text, "utf8"), cipher.final()]);
  return Buffer.concat([iv, data, cipher.getAuthTag()]).toString("base64");
}

function unseal(key: Buffer, sealed: string): string | null {
  try {
    const bytes = Buffer.from(sealed, "base64");
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([
      decipher.update(bytes.subarray(12, bytes.length - 16)),
      decipher.final(),
    ]).toString("utf8");
  } catch {
    return null;
  }
}

export class ProxySetting {
  constructor(private readonly deps: ProxySettingDeps) {}

  /** The proxy both channels use now, and where it was set; null: the platform is reached directly. */
  effective(): EffectiveProxy | null {
    if (this.deps.environment) return { proxy: this.deps.environment, source: "environment" };
    const stored = this.deps.store.proxy();
    if (stored) {
      const password = stored.sealedPassword
        ? unseal(this.deps.store.sealKey(), stored.sealedPassword)
        : null;
      if (stored.sealedPassword && password === null)
        this.deps.log("error", "proxy: the stored password cannot be unsealed; enter it again");
      return {
        proxy: { host: stored.host, port: stored.port, username: stored.username, password },
        source: "operator UI",
      };
    }
    const bundled = this.deps.store.enrollment()?.body.proxy;
    return bundled ? { proxy: bundled, source: "enrollment bundle" } : null;
  }

  /** The proxy now, for the two channels. */
  current(): HttpProxy | null {
    return this.effective()?.proxy ?? null;
  }

  /** What the operator UI shows. */
  shown(): ProxyShown | null {
    const effective = this.effective();
    if (!effective) return null;
    const { host, port, username, password } = effective.proxy;
    return { host, port, username, hasPassword: password !== null, source: effective.source };
  }

  /**
   * The operator's proxy: checked field by field (the error names the field). An empty password
   * keeps the stored one while the user name stays. Refused while the environment sets one.
   */
  save(input: {
    host: string;
    port: string;
    username: string;
    password: string;
  }): { ok: true } | ProxyFieldError {
    if (this.deps.environment)
      return {
        ok: false,
        field: "host",
        message: "is set by the environment (MEETPOINT_HTTP_PROXY) and cannot be changed here",
      };
    const before = this.deps.store.proxy();
    const keep =
      input.password === "" && before?.sealedPassword && before.username === input.username
        ? unseal(this.deps.store.sealKey(), before.sealedPassword)
        : null;
    const checked = checkHttpProxy({
      host: input.host,
      port: input.port,
      username: input.username,
      password: input.password || keep,
    });
    if (!checked.ok) return checked;
    const { proxy } = checked;
    this.deps.store.saveProxy({
      host: proxy.host,
      port: proxy.port,
      username: proxy.username,
      sealedPassword: proxy.password ? seal(this.deps.store.sealKey(), proxy.password) : null,
      savedAt: (this.deps.now?.() ?? new Date()).toISOString(),
    });
    this.deps.log(
      "info",
      `proxy set in the operator UI: ${proxyName(proxy)}${proxy.username ? ` (user ${proxy.username})` : ""}`,
    );
    return { ok: true };
  }

  /** Removes the operator's proxy (the bundle's, if any, applies again). */
  clear(): void {
    if (!this.deps.store.proxy()) return;
    this.deps.store.saveProxy(null);
    this.deps.log("info", "proxy removed in the operator UI");
  }
}
