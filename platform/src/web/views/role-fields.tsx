// The role and customer choice of a grant form (users' roles, identity provider mappings).
import { ROLES } from "../../db/index.ts";
import { ROLE_LABELS } from "../../identity/index.ts";

/** How a grant without a customer is named: it holds for every customer. */
export const PLATFORM_WIDE = "— platform-wide —";

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
          <option value="">{PLATFORM_WIDE}</option>
          {props.customers.map((cu) => (
            <option value={cu.id}>{cu.name}</option>
          ))}
        </select>
      </label>
    </>
  );
}
