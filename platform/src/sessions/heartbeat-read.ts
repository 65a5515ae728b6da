// What a gateway API request reads before its handler runs, in one database round trip: the
// gateway's row (its credentials: re-read on every request, never cached, so a rotated secret or
// a deleted gateway is refused at once on every platform instance) and, for a heartbeat, what the
// answer needs — the gateway's newest data channel, its stored settings row (with the signed
// envelope) and whether any request waits for its operator or any maintenance window is on it.
// The statements are prepared once per database (drizzle builds their SQL once; postgres.js and
// PGlite then run them by name), since every gateway runs them every few seconds.
import { desc, eq, getTableColumns, type SQL, sql } from "drizzle-orm";
import {
  type Db,
  gatewaySessions,
  gatewaySettings,
  gateways,
  maintenanceWindows,
  remoteSessions,
} from "../db/index.ts";

type Gateway = typeof gateways.$inferSelect;
type Channel = typeof gatewaySessions.$inferSelect;
type SettingsRow = typeof gatewaySettings.$inferSelect;

/**
 * What the heartbeat's handler may take from the request's first read instead of asking again.
 * `channel`: the gateway's newest data channel (null: none); `settings`: its settings row (null:
 * never set); `mayHavePendingRequests` / `mayHaveWindows`: false only when no request is pending
 * on any of its channels / no window on it is uncancelled — then the detailed reads are skipped
 * (true says nothing: the detailed read decides).
 */
export interface HeartbeatKnown {
  channel: Channel | null;
  settings: SettingsRow | null;
  mayHavePendingRequests: boolean;
  mayHaveWindows: boolean;
}

function prepareGateway(db: Db) {
  return db
    .select()
    .from(gateways)
    .where(eq(gateways.id, sql.placeholder("id")))
    .prepare("gateway_api_gateway");
}

/** The subquery's columns under the table's own keys, so drizzle maps them (timestamps to Date). */
function channelFields(channel: object): { [K in keyof Channel]: SQL.Aliased } {
  return Object.fromEntries(
    Object.keys(getTableColumns(gatewaySessions)).map((key) => [
      key,
      (channel as Record<string, unknown>)[key],
    ]),
  ) as { [K in keyof Channel]: SQL.Aliased };
}

function prepareHeartbeat(db: Db) {
  const channel = db
    .select()
    .from(gatewaySessions)
    .where(eq(gatewaySessions.gatewayId, gateways.id))
    .orderBy(desc(gatewaySessions.requestedAt))
    .limit(1)
    .as("newest_channel");
  return db
    .select({
      gateway: gateways,
      settings: gatewaySettings,
      channelId: channel.id,
      pending: sql<boolean>`exists (select 1 from ${remoteSessions}
        join ${gatewaySessions} on ${gatewaySessions.id} = ${remoteSessions.gatewaySessionId}
        where ${gatewaySessions.gatewayId} = ${gateways.id} and ${remoteSessions.state} = 'pending')`,
      windows: sql<boolean>`exists (select 1 from ${maintenanceWindows}
        where ${maintenanceWindows.gatewayId} = ${gateways.id} and ${maintenanceWindows.cancelledAt} is null)`,
      channel: channelFields(channel),
    })
    .from(gateways)
    .leftJoin(gatewaySettings, eq(gatewaySettings.gatewayId, gateways.id))
    .leftJoinLateral(channel, sql`true`)
    .where(eq(gateways.id, sql.placeholder("id")))
    .prepare("gateway_api_heartbeat");
}

const prepared = new WeakMap<
  Db,
  { gateway: ReturnType<typeof prepareGateway>; heartbeat: ReturnType<typeof prepareHeartbeat> }
>();

function statements(db: Db) {
  let found = prepared.get(db);
  if (!found) {
    found = { gateway: prepareGateway(db), heartbeat: prepareHeartbeat(db) };
    prepared.set(db, found);
  }
  return found;
}

/** A gateway's row by id (a lower-case UUID), or undefined: the gateway API's credentials read. */
export async function readGatewayRow(db: Db, id: string): Promise<Gateway | undefined> {
  const [row] = await statements(db).gateway.execute({ id });
  return row;
}

/**
 * A gateway's row and what its heartbeat needs, in one statement; undefined for an unknown id.
 * See HeartbeatKnown for what each part promises.
 */
export async function readGatewayForHeartbeat(
  db: Db,
  id: string,
): Promise<{ gateway: Gateway; known: HeartbeatKnown } | undefined> {
  const [row] = await statements(db).heartbeat.execute({ id });
  if (!row) return undefined;
  return {
    gateway: row.gateway,
    known: {
      channel: row.channelId === null ? null : (row.channel as unknown as Channel),
      settings: row.settings,
      mayHavePendingRequests: row.pending !== false,
      mayHaveWindows: row.windows !== false,
    },
  };
}
