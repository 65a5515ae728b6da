// A site: one plant or location of a customer, where gateways stand.
import { boolean, index, integer, pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns.ts";
import { customers } from "./customers.ts";

/**
 * Who must approve a technician's Connect at a site (the consent policy): operator_connect — the
 * operator's Connect on the gateway opens it, no per-request approval (the default);
 * operator_approval — the operator at the machine approves each request on the gateway's UI or its
 * local API; customer_approval — a customer admin or an operator of the customer approves each
 * request in the portal; two_party — both, the request is granted at the second approval.
 */
export const CONSENT_POLICIES = [
  "operator_connect",
  "operator_approval",
  "customer_approval",
  "two_party",
] as const;
export type ConsentPolicy = (typeof CONSENT_POLICIES)[number];

/** Who approves a request: the operator at the gateway, a customer approver in the portal. */
export type ApprovalParty = "gateway" | "portal";

/** The parties whose approval a request under `policy` needs (none: no request, Connect opens). */
export function approvalParties(policy: ConsentPolicy): ApprovalParty[] {
  switch (policy) {
    case "operator_connect":
      return [];
    case "operator_approval":
      return ["gateway"];
    case "customer_approval":
      return ["portal"];
    case "two_party":
      return ["gateway", "portal"];
  }
}
/**
 * Who may create maintenance windows at a site: "operator" — the operator on the gateway's UI only;
 * "operator_and_customer" — also a customer approver (customer admin, operator) in the portal.
 */
export const WINDOW_CREATORS = ["operator", "operator_and_customer"] as const;
export type WindowCreators = (typeof WINDOW_CREATORS)[number];

/** The longest remote session a site allows by default, in minutes. */
export const DEFAULT_MAX_SESSION_MINUTES = 120;
/** How long a request waits for its approval by default, in minutes. */
export const DEFAULT_REQUEST_EXPIRY_MINUTES = 10;

export const sites = pgTable(
  "sites",
  {
    id: id(),
    customerId: uuid("customer_id")
      .notNull()
      .references(() => customers.id, { onDelete: "restrict" }),
    name: text("name").notNull(),
    consentPolicy: text("consent_policy", { enum: CONSENT_POLICIES })
      .notNull()
      .default("operator_connect"),
    /** The longest remote session a technician may ask for at this site, in minutes. */
    maxSessionMinutes: integer("max_session_minutes")
      .notNull()
      .default(DEFAULT_MAX_SESSION_MINUTES),
    /** How long a request waits for its approval before it expires, in minutes. */
    requestExpiryMinutes: integer("request_expiry_minutes")
      .notNull()
      .default(DEFAULT_REQUEST_EXPIRY_MINUTES),
    windowCreators: text("window_creators", { enum: WINDOW_CREATORS })
      .notNull()
      .default("operator"),
    /** Whether a gateway's maintenance windows may overlap each other. */
    windowsMayOverlap: boolean("windows_may_overlap").notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [
    index("sites_name_trgm").using("gin", t.name.op("gin_trgm_ops")),

    unique("sites_customer_name").on(t.customerId, t.name),
    unique("sites_id_customer").on(t.id, t.customerId),
  ],
);
