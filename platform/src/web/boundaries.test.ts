// The portal's layering: route files use views and web helpers, never one another, and views never
// reach into a route or the request (they get plain data).
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const imports = (dir: string) =>
  readdirSync(join(import.meta.dir, dir))
    .filter((name) => /\.tsx?$/.test(name) && !name.endsWith(".test.ts"))
    .flatMap((name) =>
      [...readFileSync(join(import.meta.dir, dir, name), "utf8").matchAll(/from\s+"([^"]+)"/g)].map(
        ([, specifier]) => `${dir}/${name} → ${specifier}`,
      ),
    );

test("no route file imports another route file", () => {
  expect(imports("routes").filter((line) => /→ \.\/|→ \.\.\/routes\//.test(line))).toEqual([]);
});

test("views import neither routes nor the web environment", () => {
  expect(
    imports("views").filter((line) =>
      /→ \.\.\/(routes\/|env\.ts|middleware\.ts|app\.ts)/.test(line),
    ),
  ).toEqual([]);
});
