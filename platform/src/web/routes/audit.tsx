// The audit log viewer: filters kept in the address (a filtered view can be shared), and exports
// of exactly the filtered entries as real downloads in JSON Lines or CSV.
import { Hono, type Context as HonoContext } from "hono";
import { scopeOf } from "../../access/index.ts";
import {
  AUDIT_ACTION_NAMES,
  type AuditFilter,
  exportAudit,
  listAudit,
  parseAuditFilter,
  scopedEntries,
  targetNames,
} from "../../audit/index.ts";
import { ForbiddenError } from "../../shared/index.ts";
import { firstReadNow, lineStream } from "../download.ts";
import type { WebEnv } from "../env.ts";
import { AUDIT_COLUMNS, AuditRows } from "../views/audit.tsx";
import { PortalPage, SelectField, Table } from "../views/components.tsx";

const PAGE = 100;

function readerScope(c: HonoContext<WebEnv>) {
  const scope = scopeOf(c.get("ctx").caller.principal, "audit.read");
  if (!scope.all && scope.customerIds.length === 0) throw new ForbiddenError();
  return scope;
}

function filterQuery(filter: AuditFilter, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...filter, ...extra }))
    if (v !== undefined && v !== "" && k !== "before") params.set(k, String(v));
  if (extra.before) params.set("before", extra.before);
  return params.toString();
}

export function auditRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/audit", async (c) => {
    const scope = readerScope(c);
    const filter = parseAuditFilter(c.req.query());
    const entries = await listAudit(c.get("deps").db, scope, filter, PAGE);
    const names = await targetNames(c.get("deps").db, entries);
    const last = entries.at(-1);
    const older =
      entries.length === PAGE && last
        ? `/audit?${filterQuery(filter, { before: String(last.seq) })}`
        : null;
    const query = filterQuery(filter);
    return c.html(
      <PortalPage
        title="Audit log"
        csrfToken={c.get("csrfToken")}
        principal={c.get("ctx").caller.principal}
      >
        {/* A plain GET form: the filters land in the address, and the export links below are
            made from the same address. */}
        <form method="get" action="/audit" class="row card">
          <label>
            <span>Action starts with</span>
            <input
              name="action"
              maxlength={100}
              value={filter.action ?? ""}
              placeholder="e.g. machine."
              list="audit-actions"
            />
            <datalist id="audit-actions">
              {AUDIT_ACTION_NAMES.map((action) => (
                <option value={action} />
              ))}
            </datalist>
          </label>
          <label>
            <span>Actor</span>
            <input name="actor" maxlength={100} value={filter.actor ?? ""} />
          </label>
          <SelectField
            label="Result"
            name="result"
            options={["", "ok", "denied", "failed"].map((r) => [r, r || "any"])}
            selected={filter.result}
          />
          <label>
            <span>From</span>
            <input type="date" name="from" value={filter.from ?? ""} />
          </label>
          <label>
            <span>To</span>
            <input type="date" name="to" value={filter.to ?? ""} />
          </label>
          <button type="submit" class="secondary">
            Filter
          </button>
        </form>
        <p class="actions">
          {(["jsonl", "csv"] as const).map((format) => (
            <a
              class="button secondary"
              href={`/audit/export.${format}${query ? `?${query}` : ""}`}
              hx-boost="false"
              download={`meetpoint-audit.${format}`}
            >
              {format === "jsonl" ? "Export JSON Lines" : "Export CSV"}
            </a>
          ))}
        </p>
        <Table head={AUDIT_COLUMNS} label="Audit entries">
          <AuditRows entries={entries} names={names} older={older} />
        </Table>
      </PortalPage>,
    );
  });

  for (const format of ["jsonl", "csv"] as const) {
    /** Every entry the filters in the address select (paging aside), oldest first. */
    app.get(`/audit/export.${format}`, async (c) => {
      const scope = readerScope(c);
      const filter = parseAuditFilter(c.req.query());
      // The first page is read before answering, so a failure there is an error status.
      const entries = await firstReadNow(scopedEntries(c.get("deps").db, scope, filter));
      c.header(
        "Content-Type",
        format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
      );
      c.header("Content-Disposition", `attachment; filename="meetpoint-audit.${format}"`);
      c.header("Cache-Control", "no-store");
      return c.body(
        lineStream(exportAudit(entries, format), (error) =>
          console.error(`audit export cut off (${c.req.url}):`, error),
        ),
      );
    });
  }

  return app;
}
