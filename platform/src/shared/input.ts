// The one input layer (portal, gateway API and admin API): before any route sees a request, its
// path, every query parameter, and every field of a form or string of a JSON body are checked for
// control characters, lone surrogates (JSON's "\ud800": not text, PostgreSQL refuses it in
// jsonb) and bytes that were not UTF-8, and a body that is not what its Content-Type says is
// refused — all with 400 naming what is wrong. Without this a stray byte became a 500 wherever it reached a query.
// The parsed body stays in Hono's cache, so routes read it again at no cost.
import type { Context as HonoContext, MiddlewareHandler } from "hono";
import { MalformedRequestError, ValidationError } from "./errors.ts";
import { LINE_CONTROL, TEXT_CONTROL } from "./validate.ts";

// With the u flag a surrogate pair is one code point (an emoji), so only a lone half matches.
const LONE_SURROGATE = /\p{Cs}/u;
const CONTROL_MESSAGE = "must not contain control characters";
const SURROGATE_MESSAGE =
  "must be well-formed Unicode text (it holds a lone surrogate, half of a character)";

// Bytes that are not UTF-8 (a form's %FF) arrive decoded as U+FFFD, the replacement character:
// refused rather than stored as "�" in place of what was meant.
const REPLACEMENT = "\uFFFD";
const REPLACEMENT_MESSAGE =
  "must be valid UTF-8 text (it holds bytes that are not UTF-8, shown as \u201c\uFFFD\u201d)";

function checkLine(field: string, value: string): void {
  if (LINE_CONTROL.test(value)) throw new ValidationError(field, CONTROL_MESSAGE);
  if (LONE_SURROGATE.test(value)) throw new ValidationError(field, SURROGATE_MESSAGE);
  if (value.includes(REPLACEMENT)) throw new ValidationError(field, REPLACEMENT_MESSAGE);
}

function checkText(field: string, value: string): void {
  if (TEXT_CONTROL.test(value)) throw new ValidationError(field, CONTROL_MESSAGE);
  if (LONE_SURROGATE.test(value)) throw new ValidationError(field, SURROGATE_MESSAGE);
  if (value.includes(REPLACEMENT)) throw new ValidationError(field, REPLACEMENT_MESSAGE);
}

/** Every string in a JSON value, keys included; `at` is the path so far ("agent.version"). */
function checkJson(value: unknown, at: string): void {
  if (typeof value === "string") checkText(at || "body", value);
  else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) checkJson(item, `${at}[${i}]`);
  } else if (value !== null && typeof value === "object")
    for (const [key, item] of Object.entries(value)) {
      const path = at ? `${at}.${key}` : key;
      checkLine(path, key);
      checkJson(item, path);
    }
}

function mediaType(c: HonoContext): string {
  return (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

async function checkBody(c: HonoContext): Promise<void> {
  const type = mediaType(c);
  if (type === "multipart/form-data" || type === "application/x-www-form-urlencoded") {
    let form: Record<string, string | File | (string | File)[]>;
    try {
      form = await c.req.parseBody({ all: true });
    } catch (error) {
      throw new MalformedRequestError(
        "The form could not be read: its body is not a well-formed form. Reload the page and send it again.",
        { cause: error },
      );
    }
    for (const [name, value] of Object.entries(form)) {
      checkLine("field name", name);
      for (const item of Array.isArray(value) ? value : [value])
        if (typeof item === "string") checkText(name, item);
        else checkLine(`${name} (file name)`, item.name);
    }
  } else if (/^application\/([\w.-]+\+)?json$/.test(type)) {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (error) {
      throw new MalformedRequestError("the body must be JSON", { cause: error });
    }
    checkJson(body, "");
  }
}

/**
 * Refuses, with 400, a request whose path or query holds a control character, or whose form or
 * JSON body is malformed or holds one (tab, LF and CR are allowed in bodies). Mount it after the
 * body-size limit of its area.
 */
export const inputLayer: MiddlewareHandler = async (c, next) => {
  let path: string;
  try {
    path = decodeURIComponent(new URL(c.req.url).pathname);
  } catch (error) {
    throw new MalformedRequestError("The address is not well-formed.", { cause: error });
  }
  checkLine("path", path);
  for (const [name, value] of new URL(c.req.url).searchParams) {
    checkLine("query parameter name", name);
    checkLine(name, value);
  }
  if (c.req.method !== "GET" && c.req.method !== "HEAD") await checkBody(c);
  await next();
};
