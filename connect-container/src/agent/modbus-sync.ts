// Keeps the read-only Modbus filter in line with the remote sessions: a listener for each
// read-only service while online (the firewall redirects the service to it), the connections of an
// ended session closed at once, and per session the reads passed and writes refused, by function
// code, kept until the platform has them.
import type { ModbusEvidence } from "@meetpoint/common";
import { ModbusListener, type RelayEvent } from "../modbus/relay.ts";
import type { Log } from "./events.ts";
import type { AgentStatus } from "./status.ts";

/** The one mode the filter serves; a service of any other mode but "full" is not forwarded. */
export const MODBUS_READ_ONLY = "modbus-read-only";

/**
 * A read-only service as the firewall redirects it: from its proxy address and port to the filter,
 * for the technicians whose session has it read-only — another technician's full session on the
 * same service keeps its DNAT.
 */
export interface ModbusRedirect {
  proxyAddress: string;
  port: number;
  /** The filter's local TCP port. */
  listenerPort: number;
  /**
   * The tunnel addresses of the sessions that have this service read-only; null: every source (a
   * session came without its address, so none can be told apart: all go through the filter).
   */
  technicianAddresses: string[] | null;
}

interface ReadOnlyService {
  proxyAddress: string;
  lanAddress: string;
  port: number;
  technicianAddresses: string[] | null;
}

const keyOf = (s: { proxyAddress: string; port: number }) => `${s.proxyAddress}:${s.port}`;

/**
 * The read-only Modbus services the status asks for (TCP only: Modbus/TCP), while online, each with
 * the technicians whose session has it read-only (the mode is per session: a request may ask for
 * read-only on a service others reach in full).
 */
export function readOnlyServices(status: AgentStatus): ReadOnlyService[] {
  if (status.state !== "online") return [];
  const wanted = new Map<string, ReadOnlyService>();
  for (const session of status.remoteSessions)
    for (const service of session.services) {
      if (service.mode !== MODBUS_READ_ONLY || service.protocol !== "tcp") continue;
      const key = keyOf({ proxyAddress: session.proxyAddress, port: service.port });
      const known = wanted.get(key) ?? {
        proxyAddress: session.proxyAddress,
        lanAddress: session.lanAddress,
        port: service.port,
        technicianAddresses: [],
      };
      const address = session.technicianAddress;
      known.technicianAddresses =
        address && known.technicianAddresses
          ? [...new Set([...known.technicianAddresses, address])]
          : null;
      wanted.set(key, known);
    }
  return [...wanted.values()];
}

/** The remote session whose technician (`address`) may use this read-only service; null: none. */
export function sessionOf(status: AgentStatus, service: ReadOnlyService, address: string) {
  if (status.state !== "online") return null;
  const session = status.remoteSessions.find(
    (s) =>
      s.technicianAddress === address &&
      s.proxyAddress === service.proxyAddress &&
      s.services.some(
        (x) => x.mode === MODBUS_READ_ONLY && x.protocol === "tcp" && x.port === service.port,
      ),
  );
  return session?.id ?? null;
}

export interface ModbusSyncDeps {
  status: () => AgentStatus;
  /** Sends a heartbeat soon: an ended session's final counts go to the platform. */
  report: () => void;
  log: Log;
  /** Where the listeners bind; "0.0.0.0" by default. */
  host?: string;
}

export class ModbusSync {
  private readonly listeners = new Map<string, ModbusListener>();
  private readonly evidence = new Map<string, ModbusEvidence>();

  constructor(private readonly deps: ModbusSyncDeps) {}

  /**
   * Listeners for the read-only services the status asks for, none for the others; connections of
   * sessions no longer listed are closed now. A listener that cannot start is logged, and its
   * service is not forwarded at all (no redirect) until a later call starts it.
   */
  async follow(): Promise<void> {
    const status = this.deps.status();
    const wanted = new Map(readOnlyServices(status).map((s) => [keyOf(s), s]));
    const current = new Set(
      status.state === "online" ? status.remoteSessions.map((s) => s.id) : [],
    );
    let closed = 0;
    for (const [key, listener] of this.listeners) {
      if (wanted.has(key)) {
        closed += listener.closeSessionsBut(current);
        continue;
      }
      closed += listener.open;
      listener.stop();
      this.listeners.delete(key);
    }
    for (const [key, service] of wanted) {
      if (this.listeners.has(key)) continue;
      try {
        const listener = await ModbusListener.start({
          host: this.deps.host,
          upstream: { host: service.lanAddress, port: service.port },
          sessionOf: (address) => sessionOf(this.deps.status(), service, address),
          record: (sessionId, event) => this.record(sessionId, event),
        });
        this.listeners.set(key, listener);
      } catch (error) {
        this.deps.log(
          "error",
          `read-only Modbus filter for ${key} could not listen (${(error as Error).message}): the service stays closed`,
        );
      }
    }
    if (closed > 0) {
      this.deps.log(
        "info",
        `read-only Modbus filter: ${closed} connection(s) of ended sessions closed`,
      );
      this.deps.report();
    }
  }

  /**
   * Where the firewall redirects each read-only service that has a listener, and from which
   * technicians (as the status says now).
   */
  redirects(): ModbusRedirect[] {
    const wanted = new Map(readOnlyServices(this.deps.status()).map((s) => [keyOf(s), s]));
    return [...this.listeners].flatMap(([key, listener]) => {
      const service = wanted.get(key);
      if (!service) return [];
      return [
        {
          proxyAddress: service.proxyAddress,
          port: service.port,
          listenerPort: listener.port,
          technicianAddresses: service.technicianAddresses,
        },
      ];
    });
  }

  /** The counts to report: every session with filtered traffic not yet reported as final. */
  pending(): ModbusEvidence[] {
    return [...this.evidence.values()].slice(0, 1000).map((e) => structuredClone(e));
  }

  /** The platform has `sent`: counts of sessions that ended are dropped when nothing came since. */
  reported(sent: ModbusEvidence[]): void {
    const status = this.deps.status();
    const current = new Set(
      status.state === "online" ? status.remoteSessions.map((s) => s.id) : [],
    );
    for (const e of sent) {
      const now = this.evidence.get(e.remoteSessionId);
      if (now && !current.has(e.remoteSessionId) && JSON.stringify(now) === JSON.stringify(e))
        this.evidence.delete(e.remoteSessionId);
    }
  }

  /** Stops every listener and closes every filtered connection. */
  stop(): void {
    for (const listener of this.listeners.values()) listener.stop();
    this.listeners.clear();
  }

  private record(sessionId: string, event: RelayEvent): void {
    let e = this.evidence.get(sessionId);
    if (!e) {
      e = { remoteSessionId: sessionId, passed: {}, refused: {}, closed: 0 };
      this.evidence.set(sessionId, e);
    }
    if (event.kind === "close") e.closed++;
    else {
      const counts = event.kind === "pass" ? e.passed : e.refused;
      counts[event.functionCode] = (counts[event.functionCode] ?? 0) + 1;
    }
  }
}
