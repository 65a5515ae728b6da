// A customer: the company that operates machines; the unit of authorisation scope.
import { pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns.ts";

export const customers = pgTable("customers", {
  id: id(),
  name: text("name").notNull().unique(),
  createdAt: createdAt(),
});
