// A site's consent policy: who must approve a technician's Connect there, the longest session a
// request may ask for and how long a request waits for its decision. Customer admins of the
// site's customer (and platform admins) set it; every change is audited.
import { eq } from "drizzle-orm";
import { z } from "zod";
import { type Context, ensureUnchanged, requirePermission } from "../access/index.ts";
import { recordAudit } from "../audit/index.ts";
import {
  CONSENT_POLICIES,
  type ConsentPolicy,
  inTransaction,
  sites,
  WINDOW_CREATORS,
} from "../db/index.ts";
import { parseInput, versionOf } from "../shared/index.ts";
import { getSite } from "./sites.ts";

/** What each policy means, in the words the site page uses. */
export const CONSENT_POLICY_LABELS: Record<ConsentPolicy, string> = {
  operator_connect: "Operator Connect opens the gateway (no per-request approval)",
  operator_approval: "The operator at the machine allows each request on the gateway",
  customer_approval: "A customer approver allows each request in the portal",
  two_party: "Both: the operator at the machine and a customer approver allow each request",
};

/** The longest session a site may allow, in minutes (a day). */
export const MAX_SESSION_MINUTES_LIMIT = 24 * 60;
/** The longest a request may wait for its decision, in minutes. */
export const REQUEST_EXPIRY_MINUTES_LIMIT = 24 * 60;

const minutes = (limit: number) =>
  z.coerce
    .number({ error: "must be a number of minutes" })
    .int("must be whole minutes")
    .min(1, "at least 1 minute")
    .max(limit, `at most ${limit} minutes`);

const consentInput = z.object({
  consentPolicy: z.enum(CONSENT_POLICIES, {
    error: `must be one of ${CONSENT_POLICIES.join(", ")}`,
  }),
  maxSessionMinutes: minutes(MAX_SESSION_MINUTES_LIMIT),
  requestExpiryMinutes: minutes(REQUEST_EXPIRY_MINUTES_LIMIT),
});

type SiteSettings = {
  consentPolicy: ConsentPolicy;
  maxSessionMinutes: number;
  requestExpiryMinutes: number;
  windowCreators: (typeof WINDOW_CREATORS)[number];
  windowsMayOverlap: boolean;
};

const consentOf = (site: SiteSettings) => ({
  consentPolicy: site.consentPolicy,
  maxSessionMinutes: site.maxSessionMinutes,
  requestExpiryMinutes: site.requestExpiryMinutes,
});

const windowPolicyOf = (site: SiteSettings) => ({
  windowCreators: site.windowCreators,
  windowsMayOverlap: site.windowsMayOverlap,
});

/** The version of a site's consent settings as the consent form shows them (its `version` field). */
export const consentVersion = (site: SiteSettings) => versionOf(consentOf(site));

/** The version of a site's window settings as the window form shows them (its `version` field). */
export const windowPolicyVersion = (site: SiteSettings) => versionOf(windowPolicyOf(site));

/**
 * Sets a site's consent policy, longest session and request expiry (400 naming the field for a
 * value out of range; 409 StaleFormError when the form's `version` is not the settings' current
 * one — someone changed them since the page was opened). Requests already made keep the policy
 * they were made under.
 */
export async function setConsentPolicy(ctx: Context, siteId: string, input: unknown) {
  const before = await getSite(ctx, siteId);
  requirePermission(ctx.caller, "masterdata.manage", before.customerId);
  const next = parseInput(consentInput, input);
  const from = consentOf(before);
  await ensureUnchanged(ctx, input, from, { type: "site", id: before.id });
  await inTransaction(ctx.db, async (tx) => {
    await tx.update(sites).set(next).where(eq(sites.id, before.id));
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "site.consent_policy",
      target: { type: "site", id: before.id },
      customerId: before.customerId,
      detail: { from, to: next },
    });
  });
}

const windowPolicyInput = z.object({
  windowCreators: z.enum(WINDOW_CREATORS, {
    error: `must be one of ${WINDOW_CREATORS.join(", ")}`,
  }),
  windowsMayOverlap: z
    .union([z.boolean(), z.literal("on"), z.literal("true"), z.literal("false"), z.literal("")])
    .optional()
    .transform((v) => v === true || v === "on" || v === "true"),
});

/**
 * Sets who may create a site's maintenance windows ("operator": on the gateway's UI only;
 * "operator_and_customer": customer approvers in the portal too) and whether a gateway's windows
 * may overlap. Customer admins of the site's customer (and platform admins); audited; 400 naming
 * the field; 409 StaleFormError for a form opened before another change (its `version`).
 */
export async function setWindowPolicy(ctx: Context, siteId: string, input: unknown) {
  const before = await getSite(ctx, siteId);
  requirePermission(ctx.caller, "masterdata.manage", before.customerId);
  const next = parseInput(windowPolicyInput, input);
  const from = windowPolicyOf(before);
  await ensureUnchanged(ctx, input, from, { type: "site", id: before.id });
  await inTransaction(ctx.db, async (tx) => {
    await tx.update(sites).set(next).where(eq(sites.id, before.id));
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "site.window_policy",
      target: { type: "site", id: before.id },
      customerId: before.customerId,
      detail: { from, to: next },
    });
  });
}
