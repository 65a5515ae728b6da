// A gateway's signed settings (SSH maintenance server, the operator UI's reach): what platform admins
// decided, and the envelope that carries it to the gateway (re-signed before it expires).
import type { EnvelopeBody } from "@meetpoint/common";
import { integer, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { at } from "./columns.ts";
import { gateways } from "./gateways.ts";

export type GatewaySettingsBody = EnvelopeBody<"gateway-settings">;

/** A platform-authorized key as kept here: the envelope's entry plus who added it and when. */
export interface StoredSshKey {
  key: string;
  label: string;
  fingerprint: string;
  addedBy: string;
  addedAt: string;
}

export const gatewaySettings = pgTable("gateway_settings", {
  gatewayId: uuid("gateway_id")
    .primaryKey()
    .references(() => gateways.id, { onDelete: "cascade" }),
  sshEnabled: text("ssh_enabled", { enum: ["on", "off"] }).notNull(),
  operatorKeys: text("operator_keys", { enum: ["allowed", "refused"] }).notNull(),
  uiReach: text("ui_reach", { enum: ["lan", "lan-and-wan"] }).notNull(),
  sshKeys: jsonb("ssh_keys").$type<StoredSshKey[]>().notNull(),
  /** The signed "gateway-settings" envelope of exactly these values, its version and expiry. */
  envelope: text("envelope").notNull(),
  version: integer("version").notNull(),
  expiresAt: at("expires_at").notNull(),
  updatedAt: at("updated_at").notNull(),
  updatedBy: text("updated_by").notNull(),
});
