// Static assets, all served by the platform itself: plants are often offline, and no CDN is trusted.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
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
  "vnc-open.js": {
    file: fileURLToPath(new URL("./assets/vnc-open.js", import.meta.url)),
    type: "text/javascript",
  },
  "vnc-load.js": {
    file: fileURLToPath(new URL("./assets/vnc-load.js", import.meta.url)),
    type: "text/javascript",
  },
  "vnc-player.js": {
    file: fileURLToPath(new URL("./assets/vnc-player.js", import.meta.url)),
    type: "text/javascript",
  },
  "parts.css": {
    file: fileURLToPath(new URL("./assets/parts.css", import.meta.url)),
    type: "text/css",
  },
};

/** noVNC's package root (core/ and vendor/ are served as ES modules under /assets/novnc/). */
const NOVNC_ROOT = dirname(dirname(Bun.resolveSync("@novnc/novnc", import.meta.dir)));

/**
 * noVNC 1.7.0 decides while its modules load whether the browser decodes H.264: a top-level await
 * on decoding one frame with WebCodecs (core/util/browser.js). Some Chromium builds never settle
 * VideoDecoder.flush() there, so no module of noVNC ever runs and the viewer stays at "Connecting…"
 * with no error (novnc/noVNC#2034; seen here in headless Chromium too). The desktops Meetpoint
 * relays (TigerVNC's Xvnc) do not offer Open H.264, so the check is left out: H.264 counts as
 * unsupported, and noVNC asks for the encodings Xvnc has.
 */
const NOVNC_H264_CHECK = "supportsWebCodecsH264Decode = await _checkWebCodecsH264DecodeSupport();";

/** noVNC's modules by path under /assets/novnc/, read once: core/ and vendor/ .js files only. */
function novncModules(): Map<string, Uint8Array<ArrayBuffer>> {
  const modules = new Map<string, Uint8Array<ArrayBuffer>>();
  for (const top of ["core", "vendor"])
    for (const file of new Bun.Glob("**/*.js").scanSync(join(NOVNC_ROOT, top))) {
      const text = readFileSync(join(NOVNC_ROOT, top, file), "utf8");
      const served = text.replace(NOVNC_H264_CHECK, "supportsWebCodecsH264Decode = false;");
      // Another noVNC whose check reads differently: served as it is, it could hang every viewer.
      if (/^\S.*\bawait _checkWebCodecsH264DecodeSupport\b/m.test(served))
        throw new Error(
          `noVNC's ${top}/${file} awaits its WebCodecs check at the top level in a form this platform does not know (novnc/noVNC#2034): see NOVNC_H264_CHECK in platform/src/web/assets.ts`,
        );
      modules.set(`${top}/${file}`, new TextEncoder().encode(served));
    }
  return modules;
}

/** Serves the assets from memory, read once when the app is created. */
export function assetRoutes() {
  const contents = new Map(
    Object.entries(ASSETS).map(([name, a]) => [name, { body: readFileSync(a.file), type: a.type }]),
  );
  const novnc = novncModules();
  return new Hono<WebEnv>()
    .get("/novnc/*", (c) => {
      const module = novnc.get(c.req.path.replace(/^.*?\/novnc\//, ""));
      if (!module) return c.notFound();
      c.header("Content-Type", "text/javascript; charset=utf-8");
      c.header("Cache-Control", "public, max-age=3600");
      return c.body(module);
    })
    .get("/:name", (c) => {
      const asset = contents.get(c.req.param("name"));
      if (!asset) return c.notFound();
      c.header("Content-Type", `${asset.type}; charset=utf-8`);
      c.header("Cache-Control", "public, max-age=3600");
      return c.body(asset.body);
    });
}
