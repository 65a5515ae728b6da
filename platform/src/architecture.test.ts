// The folder map stays a layering: no two folders of platform/src import each other in a circle,
// and a folder is entered only through its index.ts (its small face).
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = import.meta.dir;

/** Every source file below `dir` that is not a test. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) ? [path] : [];
  });
}

/** The folder of a path relative to platform/src ("sessions"), or the file at the top ("config.ts"). */
const folderOf = (path: string) => path.split("/")[0] ?? "";

interface Import {
  from: string;
  to: string;
}

function imports(): Import[] {
  return sources(ROOT).flatMap((file) => {
    const text = readFileSync(file, "utf8");
    const specifiers = [...text.matchAll(/\bfrom\s+"(\.[^"]+)"/g)].map((m) => m[1] ?? "");
    return specifiers.map((specifier) => ({
      from: relative(ROOT, file),
      to: relative(ROOT, resolve(dirname(file), specifier)),
    }));
  });
}

/** A cycle in the folder graph, as a path "a → b → a", or null. */
export function folderCycle(edges: Map<string, Set<string>>): string | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string | null => {
    if (state.get(node) === "done") return null;
    if (state.get(node) === "open") return [...stack.slice(stack.indexOf(node)), node].join(" → ");
    state.set(node, "open");
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of edges.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

describe("platform/src architecture", () => {
  const all = imports();
  const crossing = all.filter((i) => folderOf(i.from) !== folderOf(i.to));

  test("the cycle finder finds a cycle and passes a layering", () => {
    const graph = (pairs: [string, string][]) => {
      const edges = new Map<string, Set<string>>();
      for (const [a, b] of pairs) edges.set(a, (edges.get(a) ?? new Set()).add(b));
      return edges;
    };
    expect(
      folderCycle(
        graph([
          ["a", "b"],
          ["b", "c"],
          ["c", "a"],
        ]),
      ),
    ).toBe("a → b → c → a");
    expect(
      folderCycle(
        graph([
          ["a", "b"],
          ["b", "c"],
          ["a", "c"],
        ]),
      ),
    ).toBeNull();
  });

  test("no folder-level import cycle", () => {
    const edges = new Map<string, Set<string>>();
    for (const { from, to } of crossing) {
      const a = folderOf(from);
      edges.set(a, (edges.get(a) ?? new Set()).add(folderOf(to)));
    }
    expect(folderCycle(edges)).toBeNull();
  });

  test("folders are entered only through their index.ts", () => {
    const bypassing = crossing
      .filter((i) => i.to.includes("/") && !i.to.endsWith("/index.ts"))
      .map((i) => `${i.from} → ${i.to}`);
    expect(bypassing).toEqual([]);
  });
});
