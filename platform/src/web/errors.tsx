// The one place where errors become responses: JSON for the API, fragments for htmx, pages otherwise.
import type { Context as HonoContext } from "hono";
import { HTTPException } from "hono/http-exception";
import { databaseUnreachable, isDomainError } from "../shared/index.ts";
import type { WebEnv } from "./env.ts";
import { inFormWords } from "./field-labels.ts";
import { Layout, Notice } from "./views/layout.tsx";

const TITLES: Record<number, string> = {
  400: "Please check your input",
  403: "Not allowed",
  404: "Not found",
  405: "Not allowed here",
  409: "That did not work",
  413: "Too large",
  503: "Temporarily unavailable",
};

export function errorResponse(error: Error, c: HonoContext<WebEnv>) {
  let status = 500;
  let message = "Something went wrong on our side. The error has been logged.";
  let field: string | null = null;
  let code = "ERR_INTERNAL";
  if (isDomainError(error)) {
    status = error.status;
    message = error.message;
    field = error.field;
    code = error.code;
    if (status === 500) console.error(`${c.req.method} ${c.req.path}:`, error);
  } else if (error instanceof HTTPException) {
    status = error.status;
    code = `ERR_HTTP_${status}`;
    message =
      status === 413 ? "The upload is larger than allowed." : error.message || "Bad request";
  } else if (databaseUnreachable(error)) {
    // Fail closed, and say so: nothing can be decided or recorded without the database.
    status = 503;
    code = "ERR_DATABASE_UNREACHABLE";
    message =
      "The platform cannot reach its database right now, so nothing can be allowed or changed. Try again in a minute; an administrator has been told in the log.";
    console.error(`${c.req.method} ${c.req.path}: database unreachable:`, error);
  } else {
    console.error(`${c.req.method} ${c.req.path} failed:`, error);
  }
  const httpStatus = status as 400 | 403 | 404 | 405 | 409 | 413 | 500 | 503;
  if (c.req.path.startsWith("/api/")) {
    return c.json({ error: { status, code, message, field } }, httpStatus);
  }
  // People read the form's words; programs (above) keep the field names.
  message = inFormWords(field, message);
  if (c.req.header("hx-request")) {
    c.header("HX-Retarget", "#messages");
    c.header("HX-Reswap", "innerHTML");
    return c.html(<Notice kind="error">{message}</Notice>, httpStatus);
  }
  const session = c.get("session");
  return c.html(
    <Layout
      title={TITLES[status] ?? "Error"}
      csrfToken={c.get("csrfToken") ?? ""}
      principal={session?.stage === "ready" ? session.principal : null}
    >
      <div class="card narrow">
        <h1>{TITLES[status] ?? "Error"}</h1>
        <Notice kind="error">{message}</Notice>
        <p>
          <a href="/" data-back>
            Go back
          </a>
        </p>
      </div>
    </Layout>,
    httpStatus,
  );
}
