// Machine views: the rows of the searchable list (one page of it), a machine's service rows and the
// fields of a new service.
import type { FC } from "hono/jsx";
import type { Machine, Service } from "../../masterdata/index.ts";
import { ActionButton, EmptyRow, LinkCell, SelectField } from "./components.tsx";
import { Csrf, Field, IPV4_PATTERN, NameField, Token } from "./layout.tsx";
import { type Reach, ReachCell } from "./reach.tsx";

/** Machines per page of the list. */
export const MACHINES_PAGE = 50;

/** The columns of the machine list. */
export const MACHINE_COLUMNS = [
  "Machine",
  "Gateway state",
  "Proxy address",
  "Customer",
  "Site",
  "Gateway",
];

/**
 * One page of the machine list, its count and the links to the pages before and after. `empty`
 * says what to do when there are no machines at all, in the reader's role.
 */
export const MachineRows: FC<{
  machines: Machine[];
  reach: Map<string, Reach>;
  total: number;
  page: number;
  q: string;
  empty: string;
}> = ({ machines, reach, total, page, q, empty }) => (
  <tbody id="machine-rows">
    {machines.map((m) => {
      const state = reach.get(m.gatewayId);
      return (
        <tr>
          <LinkCell href={`/machines/${m.id}`}>{m.name}</LinkCell>
          {state ? <ReachCell reach={state} /> : <td />}
          <td class="mono">
            <Token>{m.proxyAddress}</Token>
          </td>
          <td>{m.customerName}</td>
          <td>{m.siteName}</td>
          <td>{m.gatewayName}</td>
        </tr>
      );
    })}
    {machines.length === 0 ? (
      <EmptyRow colspan={MACHINE_COLUMNS.length}>{q ? "No machine matches." : empty}</EmptyRow>
    ) : null}
    <tr>
      <td colspan={MACHINE_COLUMNS.length} class="muted">
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

/** How the gateway forwards a service (README, "Read-only Modbus/TCP"). */
const MODES: [string, string][] = [
  ["full", "Full access"],
  ["modbus-read-only", "Modbus/TCP read-only"],
];
const MODE_WORDS: Record<string, string> = Object.fromEntries(MODES);

/**
 * The fields of a new service: name, protocol, port, access (full unless chosen read-only Modbus),
 * and whether it starts enabled (it does).
 */
export const NewServiceFields: FC = () => (
  <>
    <NameField label="Service" placeholder="e.g. Web UI" />
    <SelectField label="Protocol" name="protocol" options={PROTOCOLS} />
    <Field
      label="Port"
      name="port"
      type="number"
      placeholder="443"
      min={1}
      max={65535}
      inputmode="numeric"
    />
    <SelectField label="Access" name="mode" options={MODES} selected="full" />
    <label class="check">
      <input type="checkbox" name="enabled" checked />
      <span>enabled</span>
    </label>
  </>
);

/**
 * A service of a machine: its state as a badge; managers switch it on and off in place (htmx) with
 * a plain secondary button — never the primary look, which is the page's main action — and delete it.
 */
export const ServiceRow: FC<{ service: Service; canManage: boolean; csrf: string }> = ({
  service,
  canManage,
  csrf,
}) => (
  <tr id={`service-${service.id}`}>
    <td>{service.name}</td>
    <td class="mono">
      <Token>
        {service.protocol}/{service.port}
      </Token>
    </td>
    <td>
      <span data-service-mode>{MODE_WORDS[service.mode] ?? service.mode}</span>
      {canManage && (service.protocol === "tcp" || service.mode !== "full") ? (
        <form
          method="post"
          action={`/services/${service.id}/mode`}
          hx-post={`/services/${service.id}/mode`}
          hx-target={`#service-${service.id}`}
          hx-swap="outerHTML"
          class="inline"
        >
          <Csrf token={csrf} />
          <input
            type="hidden"
            name="mode"
            value={service.mode === "full" ? "modbus-read-only" : "full"}
          />{" "}
          <button type="submit" class="secondary">
            {service.mode === "full" ? "Make Modbus read-only" : "Allow full access"}
          </button>
        </form>
      ) : null}
    </td>
    <td>
      <span class={`badge ${service.enabled ? "ok" : "idle"}`} data-service-state>
        {service.enabled ? "enabled" : "disabled"}
      </span>
      {canManage ? (
        <form
          method="post"
          action={`/services/${service.id}/enabled`}
          hx-post={`/services/${service.id}/enabled`}
          hx-target={`#service-${service.id}`}
          hx-swap="outerHTML"
          class="inline"
        >
          <Csrf token={csrf} />
          <input type="hidden" name="enabled" value={service.enabled ? "false" : "true"} />{" "}
          <button type="submit" class="secondary">
            {service.enabled ? "Disable" : "Enable"}
          </button>
        </form>
      ) : null}
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

/** The LAN address field, with the server's own check of the form. */
export const LanAddressField: FC<{ value?: string }> = (p) => (
  <Field
    label="LAN address"
    name="lanAddress"
    value={p.value}
    placeholder="192.168.0.10"
    pattern={IPV4_PATTERN}
    maxlength={15}
    hint="IPv4 address in the machine network, e.g. 192.168.0.10"
  />
);
