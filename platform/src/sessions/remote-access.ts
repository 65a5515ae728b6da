// The remote-access core, composed: each module gets only what it uses. Routes and the gateway API
// call these modules; the data plane calls `connections`.
import type { HeartbeatReport } from "@meetpoint/common";
import type { Db, gateways } from "../db/index.ts";
import { GatewayCommands } from "../gateways/index.ts";
import { serverOfInstance } from "../instances/index.ts";
import type { ProxyPool } from "../masterdata/index.ts";
import type { Pki } from "../pki/index.ts";
import type { Clock } from "../shared/index.ts";
import { Connections } from "./connections.ts";
import { InstanceCuts } from "./cuts.ts";
import { DataChannels } from "./data-channels.ts";
import type { DataPlane } from "./data-plane.ts";
import type { WatchedSessions } from "./database-watch.ts";
import { SessionEnds } from "./ends.ts";
import { AccessGate } from "./gate.ts";
import { type HeartbeatKept, heartbeat } from "./heartbeat.ts";
import type { HeartbeatKnown } from "./heartbeat-read.ts";
import { MaintenanceSessions } from "./maintenance.ts";
import { RemoteSessions } from "./remote-sessions.ts";
import { ConsentRequests } from "./requests.ts";
import { MaintenanceWindows } from "./windows.ts";

export interface RemoteAccessDeps {
  db: Db;
  clock: Clock;
  pki: Pki;
  dataPlane: DataPlane;
  proxyPool: ProxyPool;
  /** Host name in client profiles; how long a remote session may last, in seconds. */
  vpn: { host: string; remoteSessionSeconds: number };
  /** This platform instance (instances/), when several share the database. */
  instanceId?: string | null;
  log?: (line: string) => void;
}

export function createRemoteAccess(deps: RemoteAccessDeps) {
  const { db, clock, pki, dataPlane, proxyPool } = deps;
  const instanceId = deps.instanceId ?? null;
  const gate = new AccessGate(dataPlane);
  const commands = new GatewayCommands(db, pki, clock);
  // Ends recorded here for sessions another instance holds are cut there (and theirs here).
  const cuts = instanceId
    ? new InstanceCuts({
        db,
        clock,
        instanceId,
        refreshTrustFiles: () => pki.refreshTrustFiles(),
        log: deps.log,
      })
    : null;
  const ends = new SessionEnds({
    db,
    clock,
    pki,
    dataPlane,
    commands,
    proxyPool,
    instanceId,
    cuts: cuts ?? undefined,
    log: deps.log,
  });
  cuts?.bind(ends);
  // Technicians' configs name the server of the instance that holds the gateway's channel.
  const vpn = {
    ...deps.vpn,
    serverOf: (id: string, index: number) =>
      id === instanceId ? Promise.resolve(null) : serverOfInstance(db, id, index),
  };
  const instances = dataPlane.instances;
  const dataChannels = new DataChannels({
    db,
    clock,
    pki,
    gate,
    ends,
    instances,
    vpnHost: deps.vpn.host,
    instanceId,
  });
  const windows = new MaintenanceWindows({
    db,
    clock,
    ends,
    tellGateway: (gatewayId, reason) =>
      commands.send(gatewayId, { command: "refresh", reason, gatewaySessionId: null }),
  });
  const remoteSessions = new RemoteSessions({
    db,
    clock,
    pki,
    gate,
    ends,
    instances,
    vpn,
    windows,
  });
  const requests = new ConsentRequests({
    db,
    clock,
    pki,
    gate,
    ends,
    sessions: remoteSessions,
    instances,
    vpn,
  });
  const connections = new Connections({
    db,
    clock,
    pki,
    dataPlane,
    gate,
    ends,
    proxyPool,
    instanceId,
  });
  const maintenance = new MaintenanceSessions({
    db,
    clock,
    pki,
    gate,
    ends,
    instances,
    vpn,
  });

  /** What the database watch drives: session ends on time, and fail closed without the database. */
  const watched: WatchedSessions = {
    tick: () => ends.endDue(),
    /** Without the database nothing can be decided or recorded: cut every grant and connection. */
    async cutForLostDatabase() {
      gate.cutForDatabase = true;
      await dataPlane.cutAll();
    },
    /** The database is back: what was cut is recorded as ended. Returns how many sessions. */
    async recordDatabaseCut() {
      const ended = await ends.endAll("database_lost");
      gate.cutForDatabase = false;
      return ended;
    },
  };

  return {
    gate,
    /** The OpenVPN servers sessions are spread over. */
    instances,
    /** How long a remote session may last (MEETPOINT_REMOTE_SESSION_MINUTES), in seconds. */
    remoteSessionSeconds: deps.vpn.remoteSessionSeconds,
    /** What the status page shows of the data plane: servers, refused handshakes, the CRL. */
    health: () => dataPlane.health(),
    commands,
    ends,
    /** Cutting, in this kernel, sessions whose end another instance recorded (null: one instance). */
    cuts,
    dataChannels,
    remoteSessions,
    /** Requests under the consent policy customer_approval: approve, deny, the .ovpn after. */
    requests,
    maintenance,
    /** Maintenance windows: pre-approved times per gateway (portal and gateway UI). */
    windows,
    connections,
    watched,
    heartbeat: (
      gateway: typeof gateways.$inferSelect,
      report: HeartbeatReport,
      ip: string | null,
      kept: HeartbeatKept,
      known?: HeartbeatKnown,
    ) => heartbeat({ db, clock, windows }, gateway, report, ip, kept, known),
  };
}

export type RemoteAccess = ReturnType<typeof createRemoteAccess>;
