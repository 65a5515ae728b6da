// Workspace templates: what a customer's workspace starts with. Every creation or change is a
// proposal; only a second, different platform admin's approval makes its values effective.
import { and, asc, desc, eq, inArray, ne } from "drizzle-orm";
import { z } from "zod";
import {
  type Context,
  checkId,
  conflictOnDuplicate,
  ensureUnchanged,
  found,
  hasPermission,
  requirePermission,
} from "../access/index.ts";
import { recordAudit, recordAuditAlone } from "../audit/index.ts";
import {
  inTransaction,
  type TemplateValues,
  workspaceTemplateProposals,
  workspaceTemplates,
} from "../db/index.ts";
import { ForbiddenError, nameSchema, parseInput, StateError, versionOf } from "../shared/index.ts";

export type { TemplateValues };
export type WorkspaceTemplate = typeof workspaceTemplates.$inferSelect;
export type TemplateProposal = typeof workspaceTemplateProposals.$inferSelect;

/** Idle minutes before a workspace without a browser connection stops, by default. */
export const DEFAULT_IDLE_MINUTES = 30;
/** Replicas a template starts by default (the reference design's two redundant machines). */
export const DEFAULT_REPLICAS = 2;

/**
 * An image reference pinned by digest: `[registry[:port]/]path/name@sha256:<64 hex>`; a tag is
 * refused (it could move under an approved template).
 */
export const IMAGE_REFERENCE =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*@sha256:[0-9a-f]{64}$/;

const integer = (min: number, max: number, unit: string, fallback?: number) =>
  z
    .string({ error: "is required" })
    .trim()
    .transform((v) => (v === "" && fallback !== undefined ? String(fallback) : v))
    .refine((v) => /^\d{1,7}$/.test(v), "must be a whole number")
    .transform(Number)
    .refine((v) => v >= min && v <= max, `must be ${min}–${max} ${unit}`);

const valuesInput = z.object({
  image: z
    .string({ error: "is required" })
    .trim()
    .min(1, "is required")
    .max(512, "must have at most 512 characters")
    .refine(
      (v) => IMAGE_REFERENCE.test(v),
      "must be pinned by digest: repository/name@sha256:<64 hex digits> (no tag)",
    ),
  cpu: z
    .string({ error: "is required" })
    .trim()
    .refine(
      (v) => /^\d{1,2}(\.\d{1,3})?$/.test(v),
      "must be cores, e.g. 1 or 0.5 (at most 3 decimals)",
    )
    .transform((v) => Math.round(Number(v) * 1000))
    .refine((v) => v >= 100 && v <= 64_000, "must be 0.1–64 cores"),
  memoryMib: integer(256, 65_536, "MiB"),
  pidsLimit: integer(64, 32_768, "processes"),
  idleTimeoutMinutes: integer(1, 1440, "minutes", DEFAULT_IDLE_MINUTES),
  replicas: integer(1, 4, "replicas", DEFAULT_REPLICAS),
});

function parseValues(input: unknown): TemplateValues {
  const { cpu, ...rest } = parseInput(valuesInput, input);
  return { ...rest, cpuMillicores: cpu };
}

/** CPU as the form shows it: cores with up to 3 decimals ("0.5"). */
export const coresText = (millicores: number) => String(millicores / 1000);

/** The version of a template as its change form shows it: the effective values and the newest pending. */
export function templateVersion(template: WorkspaceTemplate, pending: TemplateProposal | null) {
  return versionOf({ effective: template.effective, pending: pending?.id ?? null });
}

/**
 * Templates with their pending proposals, by name. Platform admins see every proposal; those who
 * manage a customer's workspace see the templates (to choose one) but no proposals.
 */
export async function listTemplates(
  ctx: Context,
): Promise<{ template: WorkspaceTemplate; pending: TemplateProposal | null }[]> {
  const principal = ctx.caller.principal;
  if (
    !hasPermission(principal, "workspaces.templates") &&
    !hasPermission(principal, "workspaces.manage")
  )
    throw new ForbiddenError();
  const templates = await ctx.db
    .select()
    .from(workspaceTemplates)
    .orderBy(asc(workspaceTemplates.name));
  const admin = hasPermission(principal, "workspaces.templates");
  const pending =
    admin && templates.length
      ? await ctx.db
          .select()
          .from(workspaceTemplateProposals)
          .where(eq(workspaceTemplateProposals.state, "pending"))
      : [];
  return templates.map((template) => ({
    template,
    pending: pending.find((p) => p.templateId === template.id) ?? null,
  }));
}

/** One template (404 when unknown), its pending proposal, and its decided proposals, newest first. */
export async function getTemplate(ctx: Context, id: string) {
  requirePermission(ctx.caller, "workspaces.templates", null);
  const [template] = await ctx.db
    .select()
    .from(workspaceTemplates)
    .where(eq(workspaceTemplates.id, checkId(id, "Template")));
  const row = found(template, "Template");
  const proposals = await ctx.db
    .select()
    .from(workspaceTemplateProposals)
    .where(eq(workspaceTemplateProposals.templateId, row.id))
    .orderBy(desc(workspaceTemplateProposals.proposedAt));
  return {
    template: row,
    pending: proposals.find((p) => p.state === "pending") ?? null,
    history: proposals.filter((p) => p.state !== "pending"),
  };
}

/**
 * A new template: the name, and its first values as a pending proposal (fields image, cpu in
 * cores, memoryMib, pidsLimit, idleTimeoutMinutes default 30, replicas default 2). Nothing can
 * start on it until another platform admin approves. 400 naming the field; 409 for a taken name.
 */
export async function proposeTemplate(
  ctx: Context,
  input: unknown,
): Promise<{ template: WorkspaceTemplate; proposal: TemplateProposal }> {
  requirePermission(ctx.caller, "workspaces.templates", null);
  const { name } = parseInput(z.object({ name: nameSchema }), input);
  const values = parseValues(input);
  return conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      const [template] = await tx.insert(workspaceTemplates).values({ name }).returning();
      const row = found(template, "Template");
      const proposal = await insertProposal(ctx, tx, row.id, values);
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "workspace_template.propose",
        target: { type: "workspace_template", id: row.id },
        detail: { name, proposal: proposal.id, before: null, after: values, superseded: [] },
      });
      return { template: row, proposal };
    }),
  );
}

async function insertProposal(
  ctx: Context,
  tx: Context["db"],
  templateId: string,
  values: TemplateValues,
): Promise<TemplateProposal> {
  const [proposal] = await tx
    .insert(workspaceTemplateProposals)
    .values({
      templateId,
      values,
      proposedBy: ctx.caller.principal.userId,
      proposedByName: ctx.caller.actor.name,
      proposedAt: ctx.clock.now(),
    })
    .returning();
  return found(proposal, "Proposal");
}

/**
 * Proposes new values for a template (the same fields as proposeTemplate, without name); a pending
 * proposal of the template is superseded. A form opened before another change is 409 (stale).
 */
export async function proposeChange(
  ctx: Context,
  templateId: string,
  input: unknown,
): Promise<TemplateProposal> {
  const { template, pending } = await getTemplate(ctx, templateId);
  const values = parseValues(input);
  await ensureUnchanged(
    ctx,
    input,
    { effective: template.effective, pending: pending?.id ?? null },
    { type: "workspace_template", id: template.id },
  );
  return conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      const superseded = await tx
        .update(workspaceTemplateProposals)
        .set({ state: "superseded" })
        .where(
          and(
            eq(workspaceTemplateProposals.templateId, template.id),
            eq(workspaceTemplateProposals.state, "pending"),
          ),
        )
        .returning({ id: workspaceTemplateProposals.id });
      const proposal = await insertProposal(ctx, tx, template.id, values);
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "workspace_template.propose",
        target: { type: "workspace_template", id: template.id },
        detail: {
          name: template.name,
          proposal: proposal.id,
          before: template.effective,
          after: values,
          superseded: superseded.map((s) => s.id),
        },
      });
      return proposal;
    }),
  );
}

async function proposalOf(ctx: Context, proposalId: string) {
  requirePermission(ctx.caller, "workspaces.templates", null);
  const [row] = await ctx.db
    .select({ proposal: workspaceTemplateProposals, template: workspaceTemplates })
    .from(workspaceTemplateProposals)
    .innerJoin(workspaceTemplates, eq(workspaceTemplates.id, workspaceTemplateProposals.templateId))
    .where(eq(workspaceTemplateProposals.id, checkId(proposalId, "Proposal")));
  return found(row, "Proposal");
}

function refuseDecided(proposal: TemplateProposal): never {
  if (proposal.state === "superseded")
    throw new StateError(
      "ERR_PROPOSAL_SUPERSEDED",
      "A newer proposal replaced this one: decide on the newer one.",
    );
  throw new StateError(
    "ERR_PROPOSAL_DECIDED",
    `This proposal was ${proposal.state} already${proposal.decidedByName ? ` by ${proposal.decidedByName}` : ""}.`,
  );
}

function refuseMeanwhile(): never {
  throw new StateError(
    "ERR_PROPOSAL_DECIDED",
    "This proposal was decided or replaced meanwhile: reload the page.",
  );
}

/**
 * Approves a pending proposal: its values become the template's effective values (workspaces
 * use them from their next start). 403 for the proposer (four eyes; the refusal is audited), 409
 * when the proposal is no longer pending (superseded, decided), 404 for an unknown id.
 */
export async function approveProposal(
  ctx: Context,
  proposalId: string,
): Promise<WorkspaceTemplate> {
  const { proposal, template } = await proposalOf(ctx, proposalId);
  if (proposal.state !== "pending") refuseDecided(proposal);
  if (proposal.proposedBy === ctx.caller.principal.userId) {
    await recordAuditAlone(ctx.db, ctx.clock, {
      actor: ctx.caller.actor,
      action: "workspace_template.approve",
      target: { type: "workspace_template", id: template.id },
      result: "denied",
      detail: { name: template.name, proposal: proposal.id, reason: "the proposer cannot approve" },
    });
    throw new ForbiddenError(
      "You proposed this change: another platform admin must approve it (four eyes).",
    );
  }
  return inTransaction(ctx.db, async (tx) => {
    const now = ctx.clock.now();
    const [decided] = await tx
      .update(workspaceTemplateProposals)
      .set({
        state: "approved",
        decidedBy: ctx.caller.principal.userId,
        decidedByName: ctx.caller.actor.name,
        decidedAt: now,
      })
      .where(
        and(
          eq(workspaceTemplateProposals.id, proposal.id),
          eq(workspaceTemplateProposals.state, "pending"),
          ne(workspaceTemplateProposals.proposedBy, ctx.caller.principal.userId),
        ),
      )
      .returning();
    // Someone else decided, or a newer proposal superseded it, since it was read.
    if (!decided) refuseMeanwhile();
    const [updated] = await tx
      .update(workspaceTemplates)
      .set({ effective: proposal.values, approvedProposalId: proposal.id, approvedAt: now })
      .where(eq(workspaceTemplates.id, template.id))
      .returning();
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "workspace_template.approve",
      target: { type: "workspace_template", id: template.id },
      detail: {
        name: template.name,
        proposal: proposal.id,
        proposedBy: proposal.proposedByName,
        before: template.effective,
        after: proposal.values,
      },
    });
    return found(updated, "Template");
  });
}

/**
 * Rejects a pending proposal (another admin), or withdraws it (its proposer); the effective values
 * stay. 409 when it is no longer pending.
 */
export async function rejectProposal(ctx: Context, proposalId: string): Promise<TemplateProposal> {
  const { proposal, template } = await proposalOf(ctx, proposalId);
  if (proposal.state !== "pending") refuseDecided(proposal);
  return inTransaction(ctx.db, async (tx) => {
    const [decided] = await tx
      .update(workspaceTemplateProposals)
      .set({
        state: "rejected",
        decidedBy: ctx.caller.principal.userId,
        decidedByName: ctx.caller.actor.name,
        decidedAt: ctx.clock.now(),
      })
      .where(
        and(
          eq(workspaceTemplateProposals.id, proposal.id),
          eq(workspaceTemplateProposals.state, "pending"),
        ),
      )
      .returning();
    if (!decided) refuseMeanwhile();
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "workspace_template.reject",
      target: { type: "workspace_template", id: template.id },
      detail: {
        name: template.name,
        proposal: proposal.id,
        proposedBy: proposal.proposedByName,
        withdrawn: proposal.proposedBy === ctx.caller.principal.userId,
        before: template.effective,
        rejected: proposal.values,
      },
    });
    return decided;
  });
}

/** Effective values of templates by id (for pages listing workspaces). */
export async function effectiveValues(ctx: Context, ids: string[]) {
  if (ids.length === 0) return new Map<string, WorkspaceTemplate>();
  const rows = await ctx.db
    .select()
    .from(workspaceTemplates)
    .where(inArray(workspaceTemplates.id, ids));
  return new Map(rows.map((r) => [r.id, r]));
}
