// Static assets, all served by the platform itself: plants are often offline, and no CDN is trusted.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import type { WebEnv } from "./env.ts";

const ASSETS: Record<string, { file: string; type: string }> = {
  "htmx.min.js": {
    file: Bun.resolveSync("htmx.org/dist/htmx.min.js", import.meta.dir),
    type: "text/javascript",
  },
  "app.js": {
    file: fileURLToPath(new URL("./assets/app.js", import.meta.url)),
    type: "text/javascript",
  },
  "app.css": {
    file: fileURLToPath(new URL("./assets/app.css", import.meta.url)),
    type: "text/css",
  },
  "parts.css": {
    file: fileURLToPath(new URL("./assets/parts.css", import.meta.url)),
    type: "text/css",
  },
};

/** Serves the assets from memory, read once when the app is created. */
export function assetRoutes() {
  const contents = new Map(
    Object.entries(ASSETS).map(([name, a]) => [name, { body: readFileSync(a.file), type: a.type }]),
  );
  return new Hono<WebEnv>().get("/:name", (c) => {
    const asset = contents.get(c.req.param("name"));
    if (!asset) return c.notFound();
    c.header("Content-Type", `${asset.type}; charset=utf-8`);
    c.header("Cache-Control", "public, max-age=3600");
    return c.body(asset.body);
  });
}
