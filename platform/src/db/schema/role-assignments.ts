// What a user may do: a role, for technicians and customer admins scoped to one customer.
import { pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns.ts";
import { customers } from "./customers.ts";
import { sites } from "./sites.ts";
import { users } from "./users.ts";

export const ROLES = [
  "platform_admin",
  "technician",
  "customer_admin",
  "auditor",
  "operator",
] as const;
export type Role = (typeof ROLES)[number];

export const roleAssignments = pgTable(
  "role_assignments",
  {
    id: id(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: ROLES }).notNull(),
    /** Null for platform-wide roles (platform admin, auditor). */
    customerId: uuid("customer_id").references(() => customers.id, { onDelete: "restrict" }),
    /** An operator's grant narrowed to one site of the customer; null: the whole customer. */
    siteId: uuid("site_id").references(() => sites.id, { onDelete: "cascade" }),
    /** Set when the role came from an identity provider's group mapping: replaced at each sign-in. */
    providerId: uuid("provider_id"),
    createdAt: createdAt(),
  },
  (t) => [
    unique("role_assignments_unique")
      .on(t.userId, t.role, t.customerId, t.siteId)
      .nullsNotDistinct(),
  ],
);
