// The one place where errors become responses: JSON for the API, fragments for htmx, pages otherwise.
import type { Context as HonoContext } from "hono";
import { HTTPException } from "hono/http-exception";
import { recordAuditAlone } from "../audit/index.ts";
import {
  type DomainError,
  databaseUnreachable,
  ForbiddenError,
  isDomainError,
} from "../shared/index.ts";
import type { WebEnv } from "./env.ts";
import { Layout, Notice } from "./views/layout.tsx";
import { ProblemNotice } from "./views/problems.tsx";

const TITLES: Record<number, string> = {
  400: "Please check your input",
  403: "Not allowed",
  404: "Not found",
  405: "Not allowed here",
  409: "That did not work",
  413: "Too large",
  503: "Temporarily unavailable",
};

/**
 * A signed-in user refused a page or an action (403) is audited with the address, so a customer
 * can see who tried what; a request without a session (a stale form) is not anyone's to record.
 */
async function auditRefusal(error: ForbiddenError, c: HonoContext<WebEnv>): Promise<void> {
  const session = c.get("session");
  if (!session) return;
  const deps = c.get("deps");
  await recordAuditAlone(deps.db, deps.clock, {
    actor: {
      id: session.principal.userId,
      name: session.principal.username,
      ip: c.get("ip"),
    },
    action: "access.denied",
    target: { type: "user", id: session.principal.userId },
    result: "denied",
    detail: { method: c.req.method, path: c.req.path, reason: error.message },
  }).catch((failure) => console.error("audit of a refusal failed:", failure));
}

export async function errorResponse(error: Error, c: HonoContext<WebEnv>) {
  if (error instanceof ForbiddenError && !c.req.path.startsWith("/api/"))
    await auditRefusal(error, c);
  let status = 500;
  let message = "Something went wrong on our side. The error has been logged.";
  let field: string | null = null;
  let code = "ERR_INTERNAL";
  let domain: DomainError | null = null;
  if (isDomainError(error)) {
    domain = error;
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
  // The page the form was on, for "reload" (htmx names it; a plain POST came from its Referer).
  const from = c.req.header("hx-current-url") ?? c.req.header("referer");
  const reloadHref = from ? samePortalPath(from) : undefined;
  const notice = domain ? (
    <ProblemNotice error={domain} reloadHref={reloadHref} />
  ) : (
    <Notice kind="error">{message}</Notice>
  );
  if (c.req.header("hx-request")) {
    c.header("HX-Retarget", "#messages");
    c.header("HX-Reswap", "innerHTML");
    return c.html(notice, httpStatus);
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
        {notice}
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

/** The path (and query) of a URL, so a "reload" link never leaves the portal. */
function samePortalPath(url: string): string | undefined {
  try {
    const parsed = new URL(url, "https://portal.invalid");
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return undefined;
  }
}
