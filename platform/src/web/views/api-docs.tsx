// The admin API's OpenAPI document as a page: per operation its parameters, the fields of its body,
// its answer and the errors it can give (their meanings once, above the table).
import type { Principal } from "../../access/index.ts";
import { DataTable, PortalPage } from "./components.tsx";
import { Notice } from "./layout.tsx";

type Json = Record<string, unknown>;

/** The parts of an OpenAPI 3.1 document the page reads. */
export interface ApiDocument {
  openapi: string;
  info: { description?: string };
  servers?: { url: string }[];
  paths?: Record<string, Record<string, unknown> | undefined>;
  components?: { schemas?: Record<string, unknown> };
}

const METHODS = ["get", "post", "patch", "delete"] as const;

/** Text with `code` spans (CommonMark) as <code>, the rest as text. */
function Markdown(props: { text: string }) {
  return (
    <>
      {props.text
        .split(/(`[^`]+`)/)
        .map((part) =>
          part.startsWith("`") && part.endsWith("`") && part.length > 1 ? (
            <code>{part.slice(1, -1)}</code>
          ) : (
            part
          ),
        )}
    </>
  );
}

function resolve(document: ApiDocument, schema: unknown): Json {
  const ref = (schema as Json | undefined)?.$ref;
  if (typeof ref === "string")
    return (document.components?.schemas?.[ref.split("/").at(-1) ?? ""] ?? {}) as Json;
  return (schema ?? {}) as Json;
}

/** A property's type in a few characters: "string", "tcp | udp", "integer 1–65535", "Grant[]". */
function typeOf(schema: Json): string {
  if (typeof schema.$ref === "string") return schema.$ref.split("/").at(-1) ?? "object";
  if (Array.isArray(schema.enum)) return schema.enum.join(" | ");
  if (schema.type === "array") return `${typeOf((schema.items ?? {}) as Json)}[]`;
  if (Array.isArray(schema.anyOf))
    return (schema.anyOf as Json[])
      .map((s) => (s.type === "null" ? "null" : typeOf(s)))
      .join(" | ");
  const range =
    typeof schema.minimum === "number" && typeof schema.maximum === "number"
      ? ` ${schema.minimum}–${schema.maximum}`
      : "";
  const format = typeof schema.format === "string" ? ` (${schema.format})` : "";
  return `${String(schema.type ?? "value")}${range}${format}`;
}

function BodyFields(props: { document: ApiDocument; body: unknown }) {
  const content = (props.body as Json | undefined)?.content as Json | undefined;
  if (!content) return null;
  const json = content["application/json"] as Json | undefined;
  if (!json) return <>{Object.keys(content).join(", ")}</>;
  const schema = resolve(props.document, json.schema);
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const properties = Object.entries((schema.properties ?? {}) as Record<string, Json>);
  return (
    <ul class="plain">
      {properties.map(([name, property]) => (
        <li>
          <code>{name}</code>
          {required.has(name) ? "" : "?"}: {typeOf(property)}
        </li>
      ))}
    </ul>
  );
}

export function ApiDocsPage(props: {
  document: ApiDocument;
  csrfToken: string;
  principal: Principal;
}) {
  const { document } = props;
  const base = document.servers?.[0]?.url ?? "";
  const operations = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
    METHODS.filter((m) => item?.[m]).map((method) => ({
      path,
      method,
      op: item?.[method] as Json,
    })),
  );
  // The meaning of each error status, said once: every operation lists only those it can give.
  const meanings = new Map<string, string>();
  for (const { op } of operations)
    for (const [status, answer] of Object.entries((op.responses ?? {}) as Record<string, Json>))
      if (Number(status) >= 400) meanings.set(status, String(answer.description ?? ""));
  return (
    <PortalPage title="Admin API" csrfToken={props.csrfToken} principal={props.principal}>
      <Notice kind="ok">
        <Markdown text={document.info.description ?? ""} /> Paths are under <code>{base}</code>. The
        machine-readable document:{" "}
        <a href="/api/v1/openapi.json" hx-boost="false">
          /api/v1/openapi.json
        </a>{" "}
        (OpenAPI {document.openapi}).
      </Notice>
      <p>Errors answer {'{"error": {"status", "code", "message", "field"}}'}:</p>
      <ul class="plain">
        {[...meanings]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([status, meaning]) => (
            <li>
              <strong>{status}</strong> <Markdown text={meaning} />
            </li>
          ))}
      </ul>
      <p>
        In a body, <code>name?</code> is optional; a PATCH changes only the fields it names.
      </p>
      <DataTable
        head={["Method", "Path", "Parameters", "Body", "Answer", "Errors"]}
        rows={operations}
        row={({ path, method, op }) => {
          const responses = Object.entries((op.responses ?? {}) as Record<string, Json>);
          return (
            <tr>
              <td class="nowrap">{method.toUpperCase()}</td>
              <td class="nowrap">
                <code>
                  {base}
                  {path}
                </code>
              </td>
              <td>
                {((op.parameters ?? []) as Json[])
                  .map((p) => `${p.name} (${p.in}${p.required ? "" : ", optional"})`)
                  .join(", ")}
              </td>
              <td>
                <BodyFields document={document} body={op.requestBody} />
              </td>
              <td>
                {responses
                  .filter(([status]) => Number(status) < 400)
                  .map(([status, r]) => `${status} ${r.description ?? ""}`)
                  .join("; ")}
              </td>
              <td class="nowrap">
                {responses
                  .filter(([status]) => Number(status) >= 400)
                  .map(([status]) => status)
                  .join(", ")}
              </td>
            </tr>
          );
        }}
      />
    </PortalPage>
  );
}
