// The gateway image must not carry the platform: nothing here imports platform code or drizzle.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : /\.(ts|tsx)$/.test(entry.name)
        ? [join(dir, entry.name)]
        : [],
  );
}

test("connect-container imports neither platform code nor drizzle", () => {
  const root = join(import.meta.dir, "..");
  const offending = sources(join(root, "src")).filter((file) =>
    /from\s+["'](@meetpoint\/platform|drizzle-orm|[./]+\/platform\/)/.test(
      readFileSync(file, "utf8"),
    ),
  );
  expect(offending).toEqual([]);
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const dependencies = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies });
  expect(
    dependencies.filter(
      (d) => d.includes("platform") || d.includes("drizzle") || d.includes("pglite"),
    ),
  ).toEqual([]);
});
