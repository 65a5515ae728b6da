// Machine views: the rows of the searchable list (one page of it), a machine's service rows and the
// fields of a new service.
import type { FC } from "hono/jsx";
import type { Machine, Service } from "../../masterdata/index.ts";
import { ActionButton, EmptyRow, LinkCell, SelectField } from "./components.tsx";
import { Csrf, Field } from "./layout.tsx";

/** Machines per page of the list. */
export const MACHINES_PAGE = 50;

/** One page of the machine list, its count and the links to the pages before and after. */
export const MachineRows: FC<{ machines: Machine[]; total: number; page: number; q: string }> = ({
  machines,
  total,
  page,
  q,
}) => (
  <tbody id="machine-rows">
    {machines.map((m) => (
      <tr>
        <LinkCell href={`/machines/${m.id}`}>{m.name}</LinkCell>
        <td class="mono">{m.proxyAddress}</td>
        <td>{m.customerName}</td>
        <td>{m.siteName}</td>
        <td>{m.gatewayName}</td>
      </tr>
    ))}
    {machines.length === 0 ? (
      <EmptyRow colspan={5}>
        {q ? "No machine matches." : "No machines yet. Add them on a gateway's page."}
      </EmptyRow>
    ) : null}
    <tr>
      <td colspan={5} class="muted">
        {total} machine{total === 1 ? "" : "s"}
        {total > MACHINES_PAGE ? ` · page ${page + 1} of ${Math.ceil(total / MACHINES_PAGE)}` : ""}
        {page > 0 ? (
          <>
            {" · "}
            <a href={`/machines?q=${encodeURIComponent(q)}&page=${page - 1}`}>previous</a>
          </>
        ) : null}
        {(page + 1) * MACHINES_PAGE < total ? (
          <>
            {" · "}
            <a href={`/machines?q=${encodeURIComponent(q)}&page=${page + 1}`}>next</a>
          </>
        ) : null}
      </td>
    </tr>
  </tbody>
);

const PROTOCOLS: [string, string][] = [
  ["tcp", "TCP"],
  ["udp", "UDP"],
];

/** The fields of a new service: name, protocol, port, and whether it starts enabled (it does). */
export const NewServiceFields: FC = () => (
  <>
    <Field label="Service" name="name" placeholder="e.g. Web UI" />
    <SelectField label="Protocol" name="protocol" options={PROTOCOLS} />
    <Field label="Port" name="port" type="number" placeholder="443" />
    <label class="check">
      <input type="checkbox" name="enabled" checked />
      <span>enabled</span>
    </label>
  </>
);

/** A service of a machine; managers switch it on and off in place (htmx) and delete it. */
export const ServiceRow: FC<{ service: Service; canManage: boolean; csrf: string }> = ({
  service,
  canManage,
  csrf,
}) => (
  <tr id={`service-${service.id}`}>
    <td>{service.name}</td>
    <td class="mono">
      {service.protocol}/{service.port}
    </td>
    <td>
      {canManage ? (
        <form
          method="post"
          action={`/services/${service.id}/enabled`}
          hx-post={`/services/${service.id}/enabled`}
          hx-target={`#service-${service.id}`}
          hx-swap="outerHTML"
        >
          <Csrf token={csrf} />
          <input type="hidden" name="enabled" value={service.enabled ? "false" : "true"} />
          <button type="submit" class={service.enabled ? "secondary" : ""}>
            {service.enabled ? "Enabled — disable" : "Disabled — enable"}
          </button>
        </form>
      ) : service.enabled ? (
        "enabled"
      ) : (
        "disabled"
      )}
    </td>
    <td>
      {canManage ? (
        <ActionButton
          action={`/services/${service.id}/delete`}
          csrfToken={csrf}
          confirm={`Delete service ${service.name}?`}
          kind="link"
        >
          delete
        </ActionButton>
      ) : null}
    </td>
  </tr>
);
