// Audit views a customer can read: the target by its name (its id on hover and in exports), the
// detail as key and value instead of raw JSON, the result as a word that filters can find.
import type { FC } from "hono/jsx";
import { AUDIT_ACTIONS, type AuditEntry, targetKey } from "../../audit/index.ts";
import { EmptyRow } from "./components.tsx";
import { Time, Token, Words } from "./layout.tsx";

/** The columns of the audit table. */
export const AUDIT_COLUMNS = ["When", "Result", "Action", "Who", "Target", "Detail", "From"];

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const TOKEN = /^(\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?|(tcp|udp)\/\d+)$/;

/** One value of a detail, readable: times in the portal's format, addresses as tokens. */
function Value({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span class="muted">—</span>;
  if (typeof value === "string") {
    if (ISO.test(value)) return <Time at={new Date(value)} />;
    if (TOKEN.test(value)) return <Token>{value}</Token>;
    return <Words text={value} />;
  }
  if (Array.isArray(value))
    return value.length === 0 ? (
      <span class="muted">none</span>
    ) : (
      <>
        {value.map((item, i) => (
          <>
            {i > 0 ? ", " : ""}
            {typeof item === "object" && item !== null ? (
              Object.entries(item)
                .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
                .join(" ")
            ) : (
              <Value value={item} />
            )}
          </>
        ))}
      </>
    );
  if (typeof value === "object") return <>{JSON.stringify(value)}</>;
  return <>{String(value)}</>;
}

/** Plain words for a detail's key ("lanAddress" → "lan address"). */
const words = (key: string) => key.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();

/** One line of a detail: its key, its value, and for a change the value it changed to. */
export interface DetailRow {
  key: string;
  value: unknown;
  changedTo?: { value: unknown };
}

/**
 * A detail as key and value. A change ({from, to}) reads "name: A → B"; nested objects are
 * flattened ("grant role: technician").
 */
export function detailRows(detail: unknown): DetailRow[] {
  if (typeof detail !== "object" || detail === null) return [];
  const record = detail as Record<string, unknown>;
  const rows: DetailRow[] = [];
  const from = record.from as Record<string, unknown> | undefined;
  const to = record.to as Record<string, unknown> | undefined;
  if (from && to && typeof from === "object" && typeof to === "object") {
    for (const key of new Set([...Object.keys(from), ...Object.keys(to)]))
      rows.push({ key: words(key), value: from[key], changedTo: { value: to[key] } });
  }
  for (const [key, value] of Object.entries(record)) {
    if ((key === "from" || key === "to") && from && to) continue;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [inner, innerValue] of Object.entries(value as Record<string, unknown>))
        rows.push({ key: `${words(key)} ${words(inner)}`, value: innerValue });
    } else rows.push({ key: words(key), value });
  }
  return rows;
}

const Detail: FC<{ detail: unknown }> = ({ detail }) => {
  const rows = detailRows(detail);
  if (rows.length === 0) return null;
  return (
    <dl class="detail">
      {rows.map((row) => (
        <>
          <dt>{row.key}</dt>
          <dd>
            <Value value={row.value} />
            {row.changedTo ? (
              <>
                {" → "}
                <Value value={row.changedTo.value} />
              </>
            ) : null}
          </dd>
        </>
      ))}
    </dl>
  );
};

/** The entries of one page of the audit log; `older` links the next page, when there is one. */
export const AuditRows: FC<{
  entries: AuditEntry[];
  names: Map<string, string>;
  older: string | null;
}> = ({ entries, names, older }) => (
  <tbody id="audit-rows">
    {entries.map((e) => {
      const name =
        e.targetType && e.targetId ? names.get(targetKey(e.targetType, e.targetId)) : null;
      return (
        <tr data-result={e.result}>
          <td>
            <Time at={e.at} />
          </td>
          <td>
            <span class={`badge ${e.result}`}>{e.result}</span>
          </td>
          <td class="mono token" title={AUDIT_ACTIONS[e.action as keyof typeof AUDIT_ACTIONS]}>
            {e.action}
          </td>
          <td>{e.actorName}</td>
          <td title={e.targetId ? `${e.targetType} ${e.targetId}` : undefined}>
            {e.targetType ? (
              <>
                <span class="muted">{e.targetType.replace("_", " ")}</span>{" "}
                {name ?? <span class="mono">{e.targetId}</span>}
              </>
            ) : null}
          </td>
          <td>
            <Detail detail={e.detail} />
          </td>
          <td>{e.ip ? <Token>{e.ip}</Token> : null}</td>
        </tr>
      );
    })}
    {entries.length === 0 ? (
      <EmptyRow colspan={AUDIT_COLUMNS.length}>No entries match.</EmptyRow>
    ) : null}
    {older ? (
      <tr>
        <td colspan={AUDIT_COLUMNS.length}>
          <a href={older}>Older entries</a>
        </td>
      </tr>
    ) : null}
  </tbody>
);
