// Reading submitted forms: only text fields, the CSRF token left out.
import type { Context as HonoContext } from "hono";
import type { WebEnv } from "./env.ts";

export type FormFields = Record<string, string>;

/** The text fields of a urlencoded or multipart form. */
export async function formFields(c: HonoContext<WebEnv>): Promise<FormFields> {
  const body = await c.req.parseBody();
  const fields: FormFields = {};
  for (const [name, value] of Object.entries(body)) {
    if (typeof value === "string" && name !== "_csrf") fields[name] = value;
  }
  return fields;
}

export function text(form: Record<string, unknown>, name: string): string {
  const value = form[name];
  return typeof value === "string" ? value : "";
}
