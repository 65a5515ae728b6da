// Turns constraint violations into messages a user understands; nothing was written. And refuses
// saves from forms opened before someone else's change (lost updates).
import { lastChange } from "../audit/index.ts";
import {
  ConflictError,
  FOREIGN_KEY_VIOLATION,
  pgError,
  RESTRICT_VIOLATION,
  StaleFormError,
  submittedVersion,
  UNIQUE_VIOLATION,
  versionOf,
} from "../shared/index.ts";
import type { Context } from "./context.ts";

const MESSAGES: Record<string, { message: string; field: string | null }> = {
  customers_name_unique: { message: "A customer with this name exists already.", field: "name" },
  sites_customer_name: {
    message: "This customer has a site with this name already.",
    field: "name",
  },
  gateways_site_name: { message: "This site has a gateway with this name already.", field: "name" },
  gateways_proxy_block_unique: {
    message: "That proxy block was just taken; try again.",
    field: null,
  },
  machines_gateway_name: {
    message: "This gateway has a machine with this name already.",
    field: "name",
  },
  machines_gateway_lan_address: {
    message: "This gateway has a machine with this LAN address already.",
    field: "lanAddress",
  },
  machines_proxy_address_unique: {
    message: "That proxy address was just taken; try again.",
    field: null,
  },
  services_machine_protocol_port: {
    message: "This machine has a service on this protocol and port already.",
    field: "port",
  },
  services_machine_name: {
    message: "This machine has a service with this name already.",
    field: "name",
  },
  users_username_unique: {
    message: "A user with this username exists already.",
    field: "username",
  },
  role_assignments_unique: { message: "The user has this role already.", field: "role" },
  workspace_templates_name_unique: {
    message: "A workspace template with this name exists already.",
    field: "name",
  },
  workspace_template_proposals_one_pending: {
    message: "Another change to this template was proposed at the same moment: reload the page.",
    field: null,
  },
  workspaces_customer_unique: { message: "This customer has a workspace already.", field: null },
  workspace_grants_unique: { message: "This technician has access already.", field: "userId" },
  workspace_runs_one_live: {
    message: "The workspace is already starting or running.",
    field: null,
  },
};

/** Runs `work`; a unique or foreign-key violation becomes a ConflictError with a plain message. */
export async function conflictOnDuplicate<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const info = pgError(error);
    if (info?.code === UNIQUE_VIOLATION) {
      const known = info.constraint ? MESSAGES[info.constraint] : undefined;
      throw new ConflictError(known?.message ?? "This already exists.", known?.field ?? null, {
        cause: error,
      });
    }
    if (info?.code === FOREIGN_KEY_VIOLATION || info?.code === RESTRICT_VIOLATION) {
      throw new ConflictError("It is still in use: remove what belongs to it first.", null, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * Refuses a save whose form was opened before the thing changed: the form's version (when it
 * carries one) must be the version of `current`, the values as they are now. The refusal names
 * who changed it last and when, from the audit log.
 */
export async function ensureUnchanged(
  ctx: Context,
  input: unknown,
  current: Record<string, unknown>,
  target: { type: string; id: string },
): Promise<void> {
  const seen = submittedVersion(input);
  if (seen === null || seen === versionOf(current)) return;
  const change = await lastChange(ctx.db, target);
  throw new StaleFormError(change?.actorName ?? null, change?.at ?? null);
}
