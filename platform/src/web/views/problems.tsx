// How a refused request reads in the portal: every field at fault named by its visible label (the
// page's script then moves each next to its field), what is still in use with links to it, and
// who changed a form's subject meanwhile. One view for htmx fragments and for whole error pages.
import type { FC } from "hono/jsx";
import {
  type Dependent,
  type DomainError,
  InUseError,
  StaleFormError,
  ValidationError,
} from "../../shared/index.ts";
import { Words } from "./layout.tsx";

/**
 * The visible labels of the portal's form fields, by field name: what a refusal says when it
 * cannot stand beside the field itself (a page without script, a field not on the form). Forms
 * use these same words as labels.
 */
export const FIELD_LABELS: Record<string, string> = {
  name: "Name",
  lanAddress: "LAN address",
  protocol: "Protocol",
  port: "Port",
  mode: "Access",
  username: "Username",
  displayName: "Full name",
  company: "Company",
  companyClaim: "Company claim",
  role: "Role",
  customerId: "Customer",
  group: "Group",
  slug: "Short name",
  issuer: "Issuer URL",
  clientId: "Client id",
  clientAuth: "Client authentication",
  clientSecret: "Client secret",
  scopes: "Scopes",
  groupsClaim: "Groups claim",
  mfaAmr: "amr values that mean MFA",
  mfaAcr: "acr value that means MFA",
  caPem: "CA certificate",
  idTokenAlg: "ID token signature",
  reason: "Reason",
  days: "Valid for (days)",
  serviceAccount: "Service account",
  target: "Address or URL",
  channel: "By",
  scope: "For",
  events: "Events",
  current: "Current password",
  next: "New password",
  action: "Action starts with",
  actor: "Actor",
  result: "Result",
  from: "From",
  to: "To",
  q: "Search",
  version: "Form version",
  "grants.0": "Role and customer",
  enabled: "Enabled",
  password: "Password",
  code: "Code",
  policy: "Second factor",
};

/** A field's visible label; an unknown name is shown as it is. */
export function fieldLabel(field: string): string {
  return FIELD_LABELS[field] ?? field;
}

/** One problem as the page's script reads it: the field, and the words to show beside it. */
interface PlacedProblem {
  field: string;
  /** Without the label: the script prefixes the form's own label ("must be an IPv4 address"). */
  reason: string;
}

/** Where each kind of thing that can be in the way is shown. */
const DEPENDENT_PAGES: Record<Dependent["type"], string> = {
  customer: "/customers",
  site: "/sites",
  gateway: "/gateways",
  machine: "/machines",
  user: "/users",
};

/** The problems of `error` that belong to a field, for the script to place next to it. */
export function fieldProblems(error: DomainError): PlacedProblem[] {
  if (error instanceof ValidationError) return error.problems;
  return error.field ? [{ field: error.field, reason: error.message }] : [];
}

/**
 * The notice of a refusal: its message (fields named by their labels), the list of what is still
 * in use (linked), or the way to see another's change. `data-problems` carries the field problems
 * for the script that puts each beside its field (app.js).
 */
export const ProblemNotice: FC<{ error: DomainError; reloadHref?: string }> = ({
  error,
  reloadHref,
}) => {
  const placed = fieldProblems(error);
  const validation = error instanceof ValidationError;
  return (
    <div
      class="notice error"
      role="alert"
      data-problems={placed.length ? JSON.stringify(placed) : undefined}
    >
      {validation ? (
        <>
          <p class="summary">
            {placed.length === 1 ? "Please correct this field:" : "Please correct these fields:"}
          </p>
          <ul class="problems">
            {placed.map((p) => (
              <li data-field={p.field}>
                {fieldLabel(p.field)}: <Words text={p.reason} />
              </li>
            ))}
          </ul>
        </>
      ) : (
        <p class="summary">
          <Words text={error.message} />
        </p>
      )}
      {error instanceof InUseError ? (
        <ul class="dependents">
          {error.dependents.map((d) => (
            <li>
              {d.type} <a href={`${DEPENDENT_PAGES[d.type]}/${d.id}`}>{d.name}</a>
            </li>
          ))}
        </ul>
      ) : null}
      {error instanceof StaleFormError && reloadHref ? (
        <p>
          <a href={reloadHref}>Reload the page</a>
        </p>
      ) : null}
    </div>
  );
};
