// The role and customer choice of a grant form (users' roles, identity provider mappings, API
// tokens). Nothing is preselected: one click must never make anyone a platform admin.

import { ROLE_LABELS } from "../../access/index.ts";
import type { Role } from "../../db/index.ts";
import { SelectField } from "./components.tsx";

/** How a grant without a customer is named: it holds for every customer. */
export const PLATFORM_WIDE = "— platform-wide —";

/** The roles from the narrowest to the widest, the most powerful last. */
const ROLE_ORDER: Role[] = [
  "operator",
  "technician",
  "customer_admin",
  "auditor",
  "platform_admin",
];

/**
 * Role and customer; `roles`: those to offer (default all), in ROLE_ORDER. With `sites`, also the
 * site an operator's grant may be narrowed to (the site must be one of the chosen customer's).
 */
export function RoleFields(props: {
  customers: { id: string; name: string }[];
  roles?: readonly Role[];
  sites?: { id: string; name: string; customerName: string }[];
}) {
  const offered = ROLE_ORDER.filter((r) => !props.roles || props.roles.includes(r));
  return (
    <>
      <SelectField
        label="Role"
        name="role"
        placeholder="Choose a role"
        options={offered.map((r) => [r, ROLE_LABELS[r]])}
      />
      <SelectField
        label="Customer"
        name="customerId"
        placeholder="Choose a customer"
        options={[
          ...props.customers.map((cu): [string, string] => [cu.id, cu.name]),
          ["", `${PLATFORM_WIDE} (admin, auditor)`],
        ]}
      />
      {props.sites ? (
        <SelectField
          label="Site (operators only: narrows the grant to one site of the customer)"
          name="siteId"
          options={[
            ["", "— the whole customer —"],
            ...props.sites.map((s): [string, string] => [s.id, `${s.customerName} · ${s.name}`]),
          ]}
        />
      ) : null}
    </>
  );
}
