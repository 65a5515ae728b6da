// The role and customer choice of a grant form (users' roles, identity provider mappings).

import { ROLE_LABELS } from "../../access/index.ts";
import { ROLES } from "../../db/index.ts";

export function RoleFields(props: { customers: { id: string; name: string }[] }) {
  return (
    <>
      <label>
        <span>Role</span>
        <select name="role">
          {ROLES.map((r) => (
            <option value={r}>{ROLE_LABELS[r]}</option>
          ))}
        </select>
      </label>
      <label>
        <span>Customer (technician, customer admin)</span>
        <select name="customerId">
          <option value="">— platform-wide —</option>
          {props.customers.map((cu) => (
            <option value={cu.id}>{cu.name}</option>
          ))}
        </select>
      </label>
    </>
  );
}
