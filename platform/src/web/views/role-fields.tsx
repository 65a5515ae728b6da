// The role and customer choice of a grant form (users' roles, identity provider mappings).

import { ROLE_LABELS } from "../../access/index.ts";
import { ROLES } from "../../db/index.ts";
import { SelectField } from "./components.tsx";

/** How a grant without a customer is named: it holds for every customer. */
export const PLATFORM_WIDE = "— platform-wide —";

/**
 * Role and customer; with `sites`, also the site an operator's grant may be narrowed to (the
 * site must be one of the chosen customer's).
 */
export function RoleFields(props: {
  customers: { id: string; name: string }[];
  sites?: { id: string; name: string; customerName: string }[];
}) {
  return (
    <>
      <SelectField label="Role" name="role" options={ROLES.map((r) => [r, ROLE_LABELS[r]])} />
      <SelectField
        label="Customer (technician, customer admin)"
        name="customerId"
        options={[
          ["", PLATFORM_WIDE],
          ...props.customers.map((cu): [string, string] => [cu.id, cu.name]),
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
