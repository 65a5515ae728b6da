// A gateway: the connect agent at a site; owns one block of proxy addresses.
import { foreignKey, integer, pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns.ts";
import { sites } from "./sites.ts";

export const gateways = pgTable(
  "gateways",
  {
    id: id(),
    customerId: uuid("customer_id").notNull(),
    siteId: uuid("site_id").notNull(),
    name: text("name").notNull(),
    /** Argon2id hash of the bearer secret the gateway authenticates with. */
    secretHash: text("secret_hash").notNull(),
    /** Index of this gateway's block inside the proxy address pool. */
    proxyBlock: integer("proxy_block").notNull().unique(),
    createdAt: createdAt(),
  },
  (t) => [
    // The site must belong to the same customer: scope filtering relies on customer_id.
    foreignKey({
      columns: [t.siteId, t.customerId],
      foreignColumns: [sites.id, sites.customerId],
    }).onDelete("restrict"),
    unique("gateways_site_name").on(t.siteId, t.name),
    unique("gateways_id_customer").on(t.id, t.customerId),
  ],
);
