// The portal's building blocks: page skeletons, forms with their submit button, tables, and the
// cards every master-data page repeats (rename, add, delete, a secret shown once).
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import type { Principal } from "../../access/index.ts";
import { Breadcrumbs, Layout, NameField, Notice, PostForm } from "./layout.tsx";

type ButtonKind = "danger" | "secondary" | "link";

/** A breadcrumb: its label and link, no link for the page itself. */
export type Crumb = [label: string, href: string | null];

/** Breadcrumbs: the pages `above` (label and link), then `here`, the page itself. */
export function trail(here: string, ...above: [label: string, href: string][]): Crumb[] {
  return [...above, [here, null]];
}

/**
 * The breadcrumbs from the customer list down the master-data tree (customer, site, gateway) to
 * `here`, the page itself; `at` is the thing shown, which knows the names of its parents.
 */
export function treeCrumbs(
  here: string,
  at: {
    customerId: string;
    customerName: string;
    siteId?: string;
    siteName?: string;
    gatewayId?: string;
    gatewayName?: string;
  },
): Crumb[] {
  const above: [string, string][] = [
    ["Customers", "/customers"],
    [at.customerName, `/customers/${at.customerId}`],
  ];
  if (at.siteId && at.siteName) above.push([at.siteName, `/sites/${at.siteId}`]);
  if (at.gatewayId && at.gatewayName) above.push([at.gatewayName, `/gateways/${at.gatewayId}`]);
  return trail(here, ...above);
}

/** A portal page: the frame, breadcrumbs when given, and the heading (the title unless given). */
export const PortalPage: FC<
  PropsWithChildren<{
    title: string;
    csrfToken: string;
    principal: Principal;
    crumbs?: Crumb[];
    heading?: Child;
  }>
> = (p) => (
  <Layout title={p.title} csrfToken={p.csrfToken} principal={p.principal}>
    {p.crumbs ? <Breadcrumbs items={p.crumbs} /> : null}
    <h1>{p.heading ?? p.title}</h1>
    {p.children}
  </Layout>
);

/** A page of one narrow card (sign-in steps): the frame, the card and its heading. */
export const NarrowPage: FC<
  PropsWithChildren<{ title: string; heading?: string; csrfToken: string; principal?: Principal }>
> = (p) => (
  <Layout title={p.title} csrfToken={p.csrfToken} principal={p.principal}>
    <div class="card narrow">
      <h1>{p.heading ?? p.title}</h1>
      {p.children}
    </div>
  </Layout>
);

/** An error notice, or nothing when there is no message. */
export const ErrorNotice: FC<{ message?: string }> = ({ message }) =>
  message ? <Notice kind="error">{message}</Notice> : null;

/**
 * A POST form ending in its submit button. `row` lays the fields out in one line; `hidden` adds
 * hidden inputs after the CSRF token; `confirm` asks before submitting (htmx).
 */
export const SubmitForm: FC<
  PropsWithChildren<{
    action: string;
    csrfToken: string;
    submit: Child;
    kind?: ButtonKind;
    row?: boolean;
    confirm?: string;
    hidden?: Record<string, string>;
  }>
> = (p) => (
  <PostForm
    action={p.action}
    csrfToken={p.csrfToken}
    confirm={p.confirm}
    class={p.row ? "row" : undefined}
  >
    {Object.entries(p.hidden ?? {}).map(([name, value]) => (
      <input type="hidden" name={name} value={value} />
    ))}
    {p.children}
    <button type="submit" class={p.kind}>
      {p.submit}
    </button>
  </PostForm>
);

/** A form that is only a button (delete, disable, re-key…): a SubmitForm without fields. */
export const ActionButton: FC<{
  action: string;
  csrfToken: string;
  kind?: ButtonKind;
  confirm?: string;
  hidden?: Record<string, string>;
  children: Child;
}> = ({ children, ...form }) => <SubmitForm {...form} submit={children} />;

/** A card holding one form in a row, e.g. "New site [name] [Add site]". */
export const FormCard: FC<
  PropsWithChildren<{ action: string; csrfToken: string; submit: string; kind?: ButtonKind }>
> = ({ children, ...form }) => (
  <div class="card">
    <SubmitForm {...form} row>
      {children}
    </SubmitForm>
  </div>
);

/**
 * A labelled choice among `options` (value, label); `selected` is the value chosen, if any. With
 * `placeholder`, nothing is chosen at first: the placeholder shows and the browser asks for a
 * choice before sending (the form's most powerful options are never preselected).
 */
export const SelectField: FC<{
  label: string;
  name: string;
  options: [value: string, label: string][];
  selected?: string;
  placeholder?: string;
}> = (p) => (
  <label>
    <span>{p.label}</span>
    <select name={p.name} required={p.placeholder !== undefined}>
      {p.placeholder !== undefined ? (
        <option value="" disabled selected={p.selected === undefined}>
          {p.placeholder}
        </option>
      ) : null}
      {p.options.map(([value, label]) => (
        <option value={value} selected={value === p.selected}>
          {label}
        </option>
      ))}
    </select>
  </label>
);

/**
 * The hidden field that carries the version of what a form edits (as the page showed it), so a
 * save from a stale page is refused instead of reverting another's change.
 */
export const VersionField: FC<{ version: string }> = ({ version }) => (
  <input type="hidden" name="version" value={version} />
);

/**
 * The rename card of a master-data page; extra fields (children) follow the name. `version` is
 * what the page showed (VersionField), checked on save.
 */
export const RenameCard: FC<
  PropsWithChildren<{
    action: string;
    csrfToken: string;
    name: string;
    version: string;
    submit?: string;
  }>
> = (p) => (
  <FormCard
    action={p.action}
    csrfToken={p.csrfToken}
    submit={p.submit ?? "Rename"}
    kind="secondary"
  >
    <VersionField version={p.version} />
    <NameField label="Name" value={p.name} />
    {p.children}
  </FormCard>
);

/** The buttons below a page's content (the "danger zone"). */
export const Actions: FC<PropsWithChildren> = ({ children }) => (
  <div class="actions">{children}</div>
);

/**
 * Delete `what` (customer, site…) named `name`, after a confirmation; other actions (children)
 * stand before it.
 */
export const DeleteActions: FC<
  PropsWithChildren<{ action: string; csrfToken: string; what: string; name: string }>
> = (p) => (
  <Actions>
    {p.children}
    <ActionButton
      action={p.action}
      csrfToken={p.csrfToken}
      confirm={`Delete ${p.what} ${p.name}?`}
      kind="danger"
    >
      {`Delete ${p.what}`}
    </ActionButton>
  </Actions>
);

/**
 * A table with an optional header row; the body is the children. It scrolls inside its own box
 * when it is wider than the screen, so the page never does.
 */
export const Table: FC<PropsWithChildren<{ head?: string[]; label?: string }>> = ({
  head,
  label,
  children,
}) => (
  <section class="table-wrap" aria-label={label} tabindex={label ? 0 : undefined}>
    <table>
      {head ? (
        <thead>
          <tr>
            {head.map((label) => (
              <th>{label}</th>
            ))}
          </tr>
        </thead>
      ) : null}
      {children}
    </table>
  </section>
);

/** The one row of an empty table body, muted, across `colspan` columns. */
export const EmptyRow: FC<{ colspan?: number; children: Child }> = ({ colspan, children }) => (
  <tr>
    <td colspan={colspan} class="muted">
      {children}
    </td>
  </tr>
);

/** A table of `rows`, one `row` each; `empty` is said (across all columns) when there are none. */
export function DataTable<T>(props: {
  head?: string[];
  rows: T[];
  row: (item: T) => Child;
  empty?: string;
}) {
  return (
    <Table head={props.head}>
      <tbody>
        {props.rows.map((item) => props.row(item))}
        {props.empty && props.rows.length === 0 ? (
          <EmptyRow colspan={props.head?.length}>{props.empty}</EmptyRow>
        ) : null}
      </tbody>
    </Table>
  );
}

/** A cell that links to a page. */
export const LinkCell: FC<{ href: string; children: Child }> = ({ href, children }) => (
  <td>
    <a href={href}>{children}</a>
  </td>
);

/**
 * A table of named things, each linked to its page `${base}/${id}`; `cells` adds the other
 * columns of a row after the name.
 */
export function LinkTable<T extends { id: string; name: string }>(props: {
  base: string;
  items: T[];
  head?: string[];
  cells?: (item: T) => Child;
  empty?: string;
}) {
  return (
    <DataTable
      head={props.head}
      rows={props.items}
      empty={props.empty}
      row={(item) => (
        <tr>
          <LinkCell href={`${props.base}/${item.id}`}>{item.name}</LinkCell>
          {props.cells?.(item)}
        </tr>
      )}
    />
  );
}

/**
 * The card of an answer that shows a secret once (new password, gateway secret): the warning,
 * what to hand over (children), and the way on. `hx-history="false"` keeps htmx from ever
 * snapshotting a page that holds it.
 */
export const ShownOnceCard: FC<
  PropsWithChildren<{ notice: Child; continueHref: string; continueLabel: string }>
> = (p) => (
  <div class="card" hx-history="false">
    <Notice kind="warn">{p.notice}</Notice>
    {p.children}
    <p>
      <a href={p.continueHref}>{p.continueLabel}</a>
    </p>
  </div>
);

/** A secret in a definition list, set apart for copying. */
export const SecretValue: FC<{ value: string }> = ({ value }) => (
  <dd>
    <div class="secret">{value}</div>
  </dd>
);

/**
 * A download of `content` from the page itself (a data: URL), so the platform keeps no copy to
 * serve; outside htmx's boost, which would try to fetch it.
 */
export const DownloadLink: FC<{
  fileName: string;
  mediaType: string;
  content: string;
  children: Child;
}> = (p) => (
  <a
    class="button"
    hx-boost="false"
    download={p.fileName}
    href={`data:${p.mediaType};base64,${Buffer.from(p.content).toString("base64")}`}
  >
    {p.children}
  </a>
);
