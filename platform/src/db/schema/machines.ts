// A machine on a site's LAN, reached through its gateway under a platform-wide proxy address.
import { foreignKey, index, pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns.ts";
import { gateways } from "./gateways.ts";

export const machines = pgTable(
  "machines",
  {
    id: id(),
    customerId: uuid("customer_id").notNull(),
    gatewayId: uuid("gateway_id").notNull(),
    name: text("name").notNull(),
    /**
     * The machine's real address on the site's LAN; may repeat across sites. Null for a
     * workstation (the PC itself, reached at its tunnel address while it is online).
     */
    lanAddress: text("lan_address"),
    /** The address technicians use; unique across the platform. */
    proxyAddress: text("proxy_address").notNull().unique(),
    createdAt: createdAt(),
  },
  (t) => [
    foreignKey({
      columns: [t.gatewayId, t.customerId],
      foreignColumns: [gateways.id, gateways.customerId],
    }).onDelete("restrict"),
    unique("machines_gateway_name").on(t.gatewayId, t.name),
    unique("machines_gateway_lan_address").on(t.gatewayId, t.lanAddress),
    unique("machines_id_customer").on(t.id, t.customerId),
    index("machines_name_id").on(t.name, t.id),
    index("machines_customer").on(t.customerId),
    index("machines_gateway").on(t.gatewayId),
    // Trigram indexes: the portal's "contains" search stays fast with many machines.
    index("machines_name_trgm").using("gin", t.name.op("gin_trgm_ops")),
    index("machines_lan_address_trgm").using("gin", t.lanAddress.op("gin_trgm_ops")),
    index("machines_proxy_address_trgm").using("gin", t.proxyAddress.op("gin_trgm_ops")),
  ],
);
