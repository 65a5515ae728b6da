// Forms are read whole before any route sees them: a body that claims to be a form and is not
// (a broken multipart upload) is refused with 400 instead of failing inside a route with 500.
// The parsed form stays in Hono's cache, so routes read it again at no cost.
import type { MiddlewareHandler } from "hono";

const FORM_TYPES = ["multipart/form-data", "application/x-www-form-urlencoded"];

/** Refuses a POST whose form body cannot be parsed, with 400 and a plain message. */
export const readForms: MiddlewareHandler = async (c, next) => {
  const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (c.req.method === "POST" && FORM_TYPES.includes(type)) {
    try {
      await c.req.parseBody();
    } catch {
      return c.text(
        "The form could not be read (malformed body): reload the page and try again.",
        400,
      );
    }
  }
  await next();
};
