// The control channel's client: HTTPS to the platform trusting only the CA pinned by the enrollment
// bundle (the system trust store is never consulted), bearer "<gateway id>.<secret>", every answer
// parsed with the shared contract.
import {
  apiErrorSchema,
  commandsResponseSchema,
  dataChannelResponseSchema,
  disconnectResponseSchema,
  gatewayWindowsResponseSchema,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type HttpProxy,
  heartbeatResponseSchema,
  proxyAuthorization,
  proxyName,
  type RequestDecision,
  requestDecisionResponseSchema,
  type WindowRequest,
} from "@meetpoint/common";
import { z } from "zod";
import type { Enrollment } from "../state/store.ts";

/** Why a call failed, in words an operator and IT can act on. */
export class ControlError extends Error {
  constructor(
    message: string,
    /** unreachable: network, DNS, TLS; refused: the platform said no; broken: a bad answer. */
    readonly kind: "unreachable" | "refused" | "broken",
    readonly status: number | null = null,
    options?: ErrorOptions,
    /** How long the platform asked to wait (Retry-After of a 429 or 503), in milliseconds. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message, options);
  }
}

/** Retry-After in delay-seconds (RFC 9110 §10.2.3) as milliseconds; null when absent or a date. */
export function retryAfterMs(header: string | null): number | null {
  if (!header || !/^\d{1,6}$/.test(header.trim())) return null;
  return Number(header.trim()) * 1000;
}

/**
 * Plain words for what fetch throws when it goes through `proxy`: every failure of the proxy
 * itself names the proxy (refused, unreachable, 407/401 credentials, 403 for the CONNECT target,
 * a certificate that is not the platform's — TLS interception). Credentials are never in a message.
 */
export function describeProxyError(error: unknown, host: string, proxy: HttpProxy): string {
  const e = error as { code?: string; message?: string; name?: string };
  const text = `${e?.code ?? ""} ${e?.message ?? ""}`;
  const name = `the proxy ${proxyName(proxy)}`;
  const tunnel = text.match(/refused to open a tunnel: (\d{3})\s*(.*)$/);
  if (tunnel) {
    const status = tunnel[1];
    const words = (tunnel[2] ?? "").trim();
    if (status === "407" || status === "401")
      return proxy.username
        ? `${name} refused the credentials of user ${proxy.username} (${status} ${words})`
        : `${name} asks for credentials (${status} ${words}): set the proxy's user and password`;
    if (status === "403")
      return `${name} forbids a connection to ${host} (403 ${words} for CONNECT): ask IT to allow the platform's host and port`;
    return `${name} would not connect to ${host} (${status} ${words})`;
  }
  if (e?.name === "TimeoutError" || /timed? ?out/i.test(text))
    return `${name} or the platform ${host} behind it did not answer in time`;
  if (/ENOTFOUND|EAI_|DNS|resolve|getaddrinfo/i.test(text))
    return `${name}: its name cannot be resolved (check DNS)`;
  if (/ConnectionRefused|ECONNREFUSED/i.test(text))
    return `${name} refused the connection (is it running, on this port?)`;
  if (/ENETUNREACH|EHOSTUNREACH|unreachable|FailedToOpenSocket/i.test(text))
    return `${name} cannot be reached (check the WAN link and the route to the proxy)`;
  if (/CERT|certificate|self.signed|ALTNAME|issuer|verify/i.test(text))
    return `TLS interception by ${name}: the certificate presented for ${host} does not chain to the CA pinned at enrollment — ask IT to exempt ${host} from TLS inspection`;
  if (/ECONNRESET|ConnectionClosed|socket/i.test(text))
    return `the connection through ${name} to ${host} broke off`;
  return `cannot reach the platform ${host} through ${name}: ${e?.message ?? String(error)}`;
}

/** Plain words for what fetch throws. */
export function describeFetchError(error: unknown, host: string): string {
  const e = error as { code?: string; message?: string; name?: string };
  const code = e?.code ?? "";
  const text = `${code} ${e?.message ?? ""}`;
  if (e?.name === "TimeoutError" || /timed? ?out/i.test(text))
    return `the platform ${host} did not answer in time`;
  if (/ENOTFOUND|EAI_|DNS|resolve|getaddrinfo/i.test(text))
    return `the platform's name ${host} cannot be resolved (check DNS)`;
  if (/ConnectionRefused|ECONNREFUSED/i.test(text))
    return `the platform ${host} refused the connection (wrong port, or the platform is down)`;
  if (/CERT|certificate|self.signed|ALTNAME|issuer|verify/i.test(text))
    return `the platform's certificate is not trusted: it does not chain to the CA pinned at enrollment (${code || e?.message})`;
  if (/ECONNRESET|ConnectionClosed|socket/i.test(text))
    return `the connection to ${host} broke off`;
  if (/ENETUNREACH|EHOSTUNREACH|unreachable|FailedToOpenSocket/i.test(text))
    return `no route to the platform ${host} (check the WAN link and default route)`;
  return `cannot reach the platform ${host}: ${e?.message ?? String(error)}`;
}

/** The control channel as the agent uses it; a fake platform stands in for unit tests. */
export type ControlPort = Pick<
  ControlClient,
  "heartbeat" | "commands" | "dataChannel" | "disconnect" | "decide"
>;

/** The operator UI's maintenance windows through the control channel. */
export type WindowsPort = Pick<ControlClient, "windows" | "createWindow" | "cancelWindow">;

export class ControlClient {
  constructor(
    private readonly enrollment: () => Enrollment | null,
    /** The plant's HTTP proxy, asked at every call (it can change); null: directly. */
    private readonly proxy: () => HttpProxy | null = () => null,
  ) {}

  private async call<T extends z.ZodType>(
    method: "GET" | "POST",
    path: string,
    schema: T,
    options: { body?: unknown; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<z.infer<T>> {
    const enrollment = this.enrollment();
    if (!enrollment) throw new ControlError("this gateway is not enrolled yet", "refused");
    const { platformUrl, gatewayId, secret, caCertificates } = enrollment.body;
    const url = new URL(`/api/gateway/v1${path}`, platformUrl);
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
    const proxy = this.proxy();
    const authorization = proxy ? proxyAuthorization(proxy) : null;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${gatewayId}.${secret}`,
          "content-type": "application/json",
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
        // Only the pinned CA: a certificate from any other CA, public or not, is refused.
        tls: { ca: caCertificates, rejectUnauthorized: true },
        redirect: "error",
        // HTTP CONNECT through the proxy (the credentials in a header, never in a URL).
        proxy: proxy
          ? {
              url: `http://${proxy.host}:${proxy.port}`,
              headers: authorization ? { "Proxy-Authorization": authorization } : {},
            }
          : undefined,
      });
    } catch (error) {
      const message = proxy
        ? describeProxyError(error, url.host, proxy)
        : describeFetchError(error, url.host);
      throw new ControlError(message, "unreachable", null, { cause: error });
    }
    let json: unknown;
    try {
      json = await response.json();
    } catch {
      throw new ControlError(
        `the platform answered ${response.status} without JSON (a proxy in between?)`,
        "broken",
        response.status,
      );
    }
    if (!response.ok) {
      const parsed = apiErrorSchema.safeParse(json);
      const message = parsed.success ? parsed.data.error.message : `HTTP ${response.status}`;
      const hint =
        response.status === 401
          ? "the platform does not accept this gateway's secret: was it re-keyed? Import the new enrollment bundle"
          : message;
      throw new ControlError(
        hint,
        "refused",
        response.status,
        undefined,
        retryAfterMs(response.headers.get("retry-after")),
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new ControlError(
        `the platform's answer to ${path} does not match this agent's contract (versions differ?)`,
        "broken",
        response.status,
      );
    return parsed.data;
  }

  heartbeat(report: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.call("POST", "/heartbeat", heartbeatResponseSchema, { body: report });
  }

  /** Long-poll for commands after `cursor`; the platform holds the request up to `waitSeconds`. */
  commands(cursor: number, waitSeconds: number, signal?: AbortSignal) {
    return this.call(
      "GET",
      `/commands?cursor=${cursor}&wait=${waitSeconds}`,
      commandsResponseSchema,
      {
        timeoutMs: (waitSeconds + 10) * 1000,
        signal,
      },
    );
  }

  /**
   * A data channel; `transport` "tcp" when an HTTP proxy must carry it; `windowId` when the agent
   * arms by itself at that maintenance window's start.
   */
  dataChannel(reconnectOf: string | null, transport: "any" | "tcp" = "any", windowId?: string) {
    return this.call("POST", "/data-channel", dataChannelResponseSchema, {
      body: { reconnectOf, transport, ...(windowId ? { windowId } : {}) },
      timeoutMs: 15_000,
    });
  }

  /** This gateway's maintenance windows, with the technicians and services a new one may name. */
  windows() {
    return this.call("GET", "/windows", gatewayWindowsResponseSchema);
  }

  /** The operator creates a window; 400 names the field that does not fit (ControlError). */
  createWindow(window: WindowRequest) {
    return this.call("POST", "/windows", z.object({ id: z.string() }), { body: window });
  }

  /** The operator cancels a window (its sessions end); a repeat changes nothing. */
  cancelWindow(id: string) {
    return this.call(
      "POST",
      `/windows/${encodeURIComponent(id)}/cancel`,
      z.object({ outcome: z.string(), ended: z.number() }),
      { body: {} },
    );
  }

  /**
   * Reports the operator's Disconnect of `gatewaySessionId` (null: whatever is open); `windowId`
   * when a maintenance window's end disarmed it.
   */
  disconnect(gatewaySessionId: string | null, windowId?: string) {
    return this.call("POST", "/disconnect", disconnectResponseSchema, {
      body: { gatewaySessionId, ...(windowId ? { windowId } : {}) },
      timeoutMs: 5_000,
    });
  }

  /**
   * Reports the operator's Allow or Deny of request `id` (ControlError "refused" with status 404
   * for a request not through this gateway, 409 for one no longer pending).
   */
  decide(id: string, decision: RequestDecision) {
    return this.call(
      "POST",
      `/requests/${encodeURIComponent(id)}/decision`,
      requestDecisionResponseSchema,
      { body: decision, timeoutMs: 10_000 },
    );
  }
}
