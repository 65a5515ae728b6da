// A customer: the company that operates machines; the unit of authorisation scope.
import { index, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns.ts";

export const customers = pgTable(
  "customers",
  {
    id: id(),
    name: text("name").notNull().unique(),
    createdAt: createdAt(),
  },
  (t) => [index("customers_name_trgm").using("gin", t.name.op("gin_trgm_ops"))],
);
