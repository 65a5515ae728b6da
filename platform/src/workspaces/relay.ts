// The browser relay (the bastion): a portal WebSocket at /workspaces/:id/vnc joined to the
// workspace's VNC server. The relay authenticates to the VNC server itself (VncAuth with the run's
// password) and offers the browser security type None, so the password never leaves the platform.
// Every byte both ways is recorded; on close the recording's SHA-256 goes into the connection's
// audit entry. One viewer per workspace across platform instances: the open recording row holds it
// (a unique index), renewed by a heartbeat so that a stopped instance's rows stop holding.
import { join } from "node:path";
import type { Socket } from "bun";
import { and, eq, inArray, isNull, lt } from "drizzle-orm";
import { recordAuditAlone } from "../audit/index.ts";
import { type Db, workspaceRecordings } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import type { WorkspaceDisplay, WorkspaceDisplays } from "./displays.ts";
import type { RecordingWriter } from "./recording.ts";
import { connect, fromBrowser } from "./relay-stream.ts";
import { ByteReader } from "./rfb.ts";

export { MAX_UNSENT_BYTES } from "./relay-stream.ts";

/** Who opens which workspace, decided by the portal before the upgrade. */
export interface ViewerGrant {
  workspaceId: string;
  customerId: string;
  customerName: string;
  userId: string;
  username: string;
  /** The portal sign-in that opened it (WebSession.id): checked again while it lasts. */
  webSessionId: string;
  ip: string | null;
  display: WorkspaceDisplay;
}

/** A WebSocket's state while it is relayed (Bun's ws.data). */
export interface RelayConnection {
  grant: ViewerGrant;
  recordingId: string;
  /** The recording's file, relative to the recordings directory. */
  file: string;
  startedMs: number;
  recorder: RecordingWriter | null;
  /** Bytes from the browser until the handshake with it is done. */
  fromBrowser: ByteReader;
  server: Socket<undefined> | null;
  /** Bytes for the VNC server the kernel did not take yet. */
  pendingToServer: Uint8Array[];
  relaying: boolean;
  bytesDown: number;
  bytesUp: number;
  closed: boolean;
  reason: string;
}

/** A viewer's connection as admitted: nothing connected, relayed or recorded yet. */
export function relayConnection(
  grant: ViewerGrant,
  recordingId: string,
  file: string,
): RelayConnection {
  return {
    grant,
    recordingId,
    file,
    startedMs: Date.now(),
    recorder: null,
    fromBrowser: new ByteReader(),
    server: null,
    pendingToServer: [],
    relaying: false,
    bytesDown: 0,
    bytesUp: 0,
    closed: false,
    reason: "",
  };
}

/** The minimal WebSocket surface the relay uses (Bun's ServerWebSocket). */
export interface RelaySocket {
  data: RelayConnection;
  /** Bytes sent; -1 when queued behind unsent ones (backpressure); 0 when dropped. */
  send(data: Uint8Array): number;
  /** Bytes queued for the browser and not yet sent. */
  getBufferedAmount(): number;
  close(code?: number, reason?: string): void;
}

export interface RelayDeps {
  db: Db;
  clock: Clock;
  displays: WorkspaceDisplays;
  /** Where recordings are written: <dataDir>/recordings. */
  recordingsDir: string;
  log?: (line: string) => void;
  /** Milliseconds for the VNC server's TCP connect, each handshake step and its ServerInit; default 10 000. */
  timeoutMs?: number;
  /**
   * Asked every CHECK_MS for each open connection: null while it may go on, else why it ends
   * (workspaces/viewer-check.ts). A check that throws (no database) keeps it. Unset: none.
   */
  check?: (grant: ViewerGrant) => Promise<string | null>;
}

/** Who holds a workspace: the user of its open connection, and since when. */
export interface ViewerHold {
  username: string;
  since: Date;
}

/** How often an instance renews its open connections' heartbeat, in ms. */
export const HEARTBEAT_MS = 20_000;
/** An open connection whose heartbeat is older than this (ms) was left by a stopped instance. */
export const STALE_MS = 3 * HEARTBEAT_MS;
/** How often each open connection's sign-in, access and run are checked again, in ms. */
export const CHECK_MS = 2000;

export class VncRelay {
  private readonly open = new Set<RelaySocket>();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly checker: ReturnType<typeof setInterval>;
  private checking = false;

  constructor(readonly deps: RelayDeps) {
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref?.();
    this.checker = setInterval(() => void this.checkAll(), CHECK_MS);
    this.checker.unref?.();
  }

  /**
   * Checks every open connection again (RelayDeps.check) and ends, audited with the reason, those
   * that may no longer go on. Returns how many it ended.
   */
  async checkAll(): Promise<number> {
    const check = this.deps.check;
    if (!check || this.checking) return 0;
    this.checking = true;
    let ended = 0;
    try {
      for (const ws of [...this.open]) {
        if (ws.data.closed) continue;
        const reason = await check(ws.data.grant).catch(() => null);
        if (!reason || ws.data.closed) continue;
        await this.cut(ws, reason);
        ended++;
      }
    } finally {
      this.checking = false;
    }
    return ended;
  }

  /** Ends every open connection of this instance, audited with `reason` (e.g. fail closed). */
  async cutAll(reason: string): Promise<void> {
    await Promise.all([...this.open].map((ws) => this.cut(ws, reason)));
  }

  private async cut(ws: RelaySocket, reason: string): Promise<void> {
    ws.data.reason = `ended: ${reason}`;
    ws.close(4000, reason.slice(0, 120));
    await this.end(ws, ws.data.reason);
  }

  /**
   * Who is connected to `workspaceId` (through any platform instance), if anyone. A connection
   * left open by an instance that stopped is closed first (audited as failed), so it holds the
   * workspace for at most STALE_MS.
   */
  async viewerOf(workspaceId: string): Promise<ViewerHold | null> {
    await this.closeStale(workspaceId);
    const [row] = await this.deps.db
      .select({ username: workspaceRecordings.username, since: workspaceRecordings.startedAt })
      .from(workspaceRecordings)
      .where(
        and(eq(workspaceRecordings.workspaceId, workspaceId), isNull(workspaceRecordings.endedAt)),
      );
    return row ?? null;
  }

  /**
   * Takes the workspace for `grant`'s user and makes the connection's state (with its recording
   * row) for the WebSocket upgrade; null when someone else holds it (the caller answers 409). An
   * open row with a stale heartbeat is closed first (audited as failed: its instance stopped).
   */
  async admit(grant: ViewerGrant): Promise<RelayConnection | null> {
    await this.closeStale(grant.workspaceId);
    const since = this.deps.clock.now();
    const recordingId = crypto.randomUUID();
    const file = recordingFile(recordingId, since);
    const inserted = await this.deps.db
      .insert(workspaceRecordings)
      .values({
        id: recordingId,
        workspaceId: grant.workspaceId,
        customerId: grant.customerId,
        customerName: grant.customerName,
        userId: grant.userId,
        username: grant.username,
        sourceIp: grant.ip,
        file,
        startedAt: since,
        heartbeatAt: since,
      })
      .onConflictDoNothing()
      .returning({ id: workspaceRecordings.id });
    if (inserted.length === 0) return null;
    return relayConnection(grant, recordingId, file);
  }

  /** Releases a hold whose upgrade failed (no WebSocket came of it). */
  async abandon(connection: RelayConnection): Promise<void> {
    await this.deps.db
      .delete(workspaceRecordings)
      .where(eq(workspaceRecordings.id, connection.recordingId));
  }

  /** Ends every open connection (audited) and the heartbeat: the platform is stopping. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    clearInterval(this.checker);
    const all = [...this.open];
    for (const ws of all) {
      ws.data.reason = "the platform stopped";
      ws.close(1001, "the platform stopped");
    }
    await Promise.all(all.map((ws) => this.end(ws, "the platform stopped")));
  }

  /** Renews the heartbeat of this instance's open connections. */
  async beat(): Promise<void> {
    const ids = [...this.open].filter((ws) => !ws.data.closed).map((ws) => ws.data.recordingId);
    if (ids.length === 0) return;
    await this.deps.db
      .update(workspaceRecordings)
      .set({ heartbeatAt: this.deps.clock.now() })
      .where(inArray(workspaceRecordings.id, ids))
      .catch((error) =>
        this.deps.log?.(`recordings' heartbeat failed: ${(error as Error).message}`),
      );
  }

  private async closeStale(workspaceId: string): Promise<void> {
    const stale = await this.deps.db
      .update(workspaceRecordings)
      .set({ endedAt: this.deps.clock.now() })
      .where(
        and(
          eq(workspaceRecordings.workspaceId, workspaceId),
          isNull(workspaceRecordings.endedAt),
          lt(workspaceRecordings.heartbeatAt, new Date(this.deps.clock.now().getTime() - STALE_MS)),
        ),
      )
      .returning();
    for (const r of stale) {
      // What the stopped instance wrote is sealed as it is: the hash of a file cut short.
      const written = await hashFile(join(this.deps.recordingsDir, r.file));
      if (written)
        await this.deps.db
          .update(workspaceRecordings)
          .set({ sha256: written.sha256 })
          .where(eq(workspaceRecordings.id, r.id));
      await recordAuditAlone(this.deps.db, this.deps.clock, {
        actor: { id: r.userId, name: r.username, ip: r.sourceIp },
        action: "workspace.connect",
        target: { type: "workspace", id: r.workspaceId },
        customerId: r.customerId,
        result: "failed",
        detail: {
          customer: r.customerName,
          recordingId: r.id,
          recording: r.file,
          startedAt: r.startedAt.toISOString(),
          lastHeartbeat: r.heartbeatAt?.toISOString() ?? null,
          recordingBytes: written?.size ?? 0,
          sha256: written?.sha256 ?? null,
          reason: written
            ? "the platform instance relaying it stopped; the recording is cut short (no end), its hash seals what was written"
            : "the platform instance relaying it stopped; no recording was written",
        },
      });
    }
  }

  /** Bun's websocket handlers for the HTTPS listener. */
  readonly websocket = {
    open: (ws: RelaySocket) => {
      this.open.add(ws);
      void connect(this.deps, ws);
    },
    message: (ws: RelaySocket, message: string | Uint8Array) => fromBrowser(ws, message),
    close: (ws: RelaySocket) => void this.end(ws, ws.data.reason || "closed by the viewer"),
  };

  private async end(ws: RelaySocket, reason: string): Promise<void> {
    const c = ws.data;
    if (c.closed) return;
    c.closed = true;
    c.server?.end();
    c.fromBrowser.end(new Error("the viewer closed the connection"));
    this.open.delete(ws);
    const ended = this.deps.clock.now();
    const written = await c.recorder?.finish();
    const g = c.grant;
    try {
      await this.deps.db
        .update(workspaceRecordings)
        .set({
          endedAt: ended,
          bytesDown: c.bytesDown,
          bytesUp: c.bytesUp,
          sha256: written?.sha256 ?? null,
        })
        .where(eq(workspaceRecordings.id, c.recordingId));
      const [row] = await this.deps.db
        .select({ startedAt: workspaceRecordings.startedAt })
        .from(workspaceRecordings)
        .where(eq(workspaceRecordings.id, c.recordingId));
      await recordAuditAlone(this.deps.db, this.deps.clock, {
        actor: { id: g.userId, name: g.username, ip: g.ip },
        action: "workspace.connect",
        target: { type: "workspace", id: g.workspaceId },
        customerId: g.customerId,
        result: reason.startsWith("failed") ? "failed" : "ok",
        detail: {
          customer: g.customerName,
          recordingId: c.recordingId,
          recording: c.file,
          startedAt: row?.startedAt.toISOString() ?? null,
          durationS: row ? Math.round((ended.getTime() - row.startedAt.getTime()) / 1000) : null,
          bytesToViewer: c.bytesDown,
          bytesFromViewer: c.bytesUp,
          recordingBytes: written?.size ?? 0,
          sha256: written?.sha256 ?? null,
          reason,
        },
      });
    } catch (error) {
      this.deps.log?.(`recording ${c.recordingId}: closing it failed: ${(error as Error).message}`);
    }
  }
}

/** SHA-256 (hex) and size of the file at `path`, or null when there is none. */
async function hashFile(path: string): Promise<{ sha256: string; size: number } | null> {
  const file = Bun.file(path);
  if (!(await file.exists())) return null;
  const bytes = await file.bytes();
  return { sha256: new Bun.CryptoHasher("sha256").update(bytes).digest("hex"), size: bytes.length };
}

/** A recording's file, relative to the recordings directory: <yyyy-mm>/<id>.vncrec.js. */
export function recordingFile(id: string, at: Date): string {
  return `${at.toISOString().slice(0, 7)}/${id}.vncrec.js`;
}
