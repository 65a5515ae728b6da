// The role and customer choice of a grant form (users' roles, identity provider mappings).

import { ROLE_LABELS } from "../../access/index.ts";
import { ROLES, type Role } from "../../db/index.ts";
import { SelectField } from "./components.tsx";

/** How a grant without a customer is named: it holds for every customer. */
export const PLATFORM_WIDE = "— platform-wide —";

/** `roles`: those to offer (default all). */
export function RoleFields(props: {
  customers: { id: string; name: string }[];
  roles?: readonly Role[];
}) {
  return (
    <>
      <SelectField
        label="Role"
        name="role"
        options={(props.roles ?? ROLES).map((r) => [r, ROLE_LABELS[r]])}
      />
      <SelectField
        label="Customer (technician, customer admin)"
        name="customerId"
        options={[
          ["", PLATFORM_WIDE],
          ...props.customers.map((cu): [string, string] => [cu.id, cu.name]),
        ]}
      />
    </>
  );
}
