// A site: one plant or location of a customer, where gateways stand.
import { index, pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns.ts";
import { customers } from "./customers.ts";

export const sites = pgTable(
  "sites",
  {
    id: id(),
    customerId: uuid("customer_id")
      .notNull()
      .references(() => customers.id, { onDelete: "restrict" }),
    name: text("name").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index("sites_name_trgm").using("gin", t.name.op("gin_trgm_ops")),

    unique("sites_customer_name").on(t.customerId, t.name),
    unique("sites_id_customer").on(t.id, t.customerId),
  ],
);
