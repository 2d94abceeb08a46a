import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The layers of docs/STYLE.md, checked on the import graph of src/ (every import counts: static,
 * type-only, `export … from`, `import()` and `require()`; a type from a layer above is still a
 * dependency on it):
 *
 *   main.ts, reads-ahead.ts, root.ts, compose.ts → io/ → cli/ → actions/ → flows/, proxy/ → context.ts → providers/
 *     → config/, oauth/ → store/, format/ → the leaves (deps.ts, errors.ts, redact.ts, …)
 *
 * A module may import its own folder and any layer below its own, never one above, and never a
 * sibling on the same layer. io/ (the real adapters) sits under the composition root: it may
 * import the interfaces it implements from any layer, and is imported only by the composition root
 * (main.ts, compose.ts) and by the keyring adapter, whose D-Bus client and Bun.secrets binding
 * live in io/ (store/keyring.ts and store/secret-service.ts are the real keyring, opened by the
 * store for its keyring backend); everything else reaches io through Deps. The leaves import only
 * leaves. And no module reaches itself through its imports (no cycle), across folders or within one.
 */
const SRC = resolve(import.meta.dir, "..", "..", "src");

const LEAVES = new Set([
  "deps.ts",
  "errors.ts",
  "redact.ts",
  "did-you-mean.ts",
  "lazy-fs.ts",
  "lazy-path.ts",
  "names.ts",
  "plain-toml.ts",
]);
/** Top first. A group is a folder under src/ or a top-level file. */
const LAYERS: string[][] = [
  ["main.ts", "reads-ahead.ts", "root.ts", "compose.ts"],
  ["io"],
  ["cli"],
  ["actions"],
  ["flows", "proxy"],
  ["context.ts"],
  ["providers"],
  ["config", "oauth"],
  ["store", "format"],
  [...LEAVES],
];
const IO_ALLOWED = new Set([
  "main.ts",
  "root.ts",
  "compose.ts",
  "store/keyring.ts",
  "store/secret-service.ts",
]);
/**
 * Known exceptions, each with why it is still there. Remove a line when its import goes; the test
 * fails on an exception that no longer happens, so this list cannot go stale.
 */
const KNOWN: Record<string, string> = {
  // The store must know which `extra` fields are secret, and the providers declare them (issue
  // 19.7, 898c607). Until the store is handed the list (the store options, from compose.ts), it
  // reaches up for it: to the generated table's list of names (data, no provider file), so that
  // the usual case of `env` on a sealed store does not load every provider (issue 18).
  "store/_secret-fields.ts → providers/builtin-table.ts": "store reads the providers' secret extra fields",
  // `upgrade` replaces the running binary: its platform probe (musl, AVX2, Rosetta) and the trial
  // run of the new binary are the real adapters it exists for, not yet behind Deps.
  "actions/upgrade.ts → io/platform.ts": "upgrade's platform probe is not behind Deps yet",
  // The lock's effects are injected (e6a3298), but the store falls back to the real ones itself
  // when none are given; compose.ts handing them in would end this.
  "store/file-store.ts → io/process-probe.ts": "the store's default effects",
  "store/lock.ts → io/process-probe.ts": "the lock's default effects",
};
/** Known cycles (sorted members joined by " ⇄ "), with why; the same rule as KNOWN. */
const KNOWN_CYCLES: Record<string, string> = {};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith(".ts") ? [path] : [];
  });
}

const IMPORT =
  /(?:^|[^.\w])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]*?\s+from\s+)?["']([^"']+)["']|(?:import|require)\(\s*["']([^"']+)["']\s*\)/g;

/**
 * Module (path relative to src/) → the src/ modules it imports. `runtime`: only imports that load
 * a module (not `import type` / `export type`, not `typeof import()`): a cycle of types alone has
 * no load order and is not counted as a cycle, while a type from a layer above still breaks layering.
 */
export function importGraph(src = SRC, runtime = false): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of walk(src)) {
    const from = relative(src, file);
    const targets = new Set<string>();
    // Comments may quote imports (`require("…")` in prose): they are not edges.
    const code = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\/|(^|[^:"'`])\/\/.*$/gm, "$1");
    for (const match of code.matchAll(IMPORT)) {
      const spec = match[1] ?? match[2];
      if (!spec?.startsWith(".")) continue;
      if (runtime && /^\W?(?:import|export)\s+type\s/.test(match[0])) continue;
      if (runtime && /typeof\s+$/.test(code.slice(Math.max(0, match.index! - 10), match.index! + 1)))
        continue;
      const target = resolve(dirname(file), spec);
      if (target.startsWith(`${src}/`)) targets.add(relative(src, target));
    }
    graph.set(from, targets);
  }
  return graph;
}

const groupOf = (module: string) => (module.includes("/") ? module.split("/")[0]! : module);
function layerOf(module: string): number {
  const index = LAYERS.findIndex((layer) => layer.includes(groupOf(module)));
  if (index < 0) throw new Error(`src/${module} belongs to no layer: add its folder to LAYERS in this test`);
  return index;
}

/** Every import that goes up a layer or sideways to a sibling, and io/ imports outside the adapters. */
export function layerViolations(graph: Map<string, Set<string>>): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      if (groupOf(from) === groupOf(to) || (layerOf(from) === 0 && layerOf(to) === 0)) continue;
      if (groupOf(to) === "io") {
        if (!IO_ALLOWED.has(from))
          out.push(`${from} → ${to}: io/ only through Deps (or in main.ts/compose.ts)`);
        continue;
      }
      const a = layerOf(from);
      const b = layerOf(to);
      if (b < a) out.push(`${from} → ${to}: imports a layer above (${LAYERS[b]!.join(", ")})`);
      else if (b === a) out.push(`${from} → ${to}: imports a sibling on its own layer`);
    }
  }
  return out.sort();
}

/** Each import cycle once, as a path of modules (Tarjan's strongly connected components). */
export function importCycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    indices.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, indices.get(next)!));
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.has(node)) cycles.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!indices.has(node)) visit(node);
  return cycles;
}

describe("the layers of src/", () => {
  const graph = importGraph();

  test("the graph is read: main.ts imports root.ts and cli/, root.ts imports compose.ts, actions import context.ts", () => {
    expect(graph.get("main.ts")).toContain("root.ts");
    expect(graph.get("main.ts")).toContain("cli/usual.ts");
    expect(graph.get("root.ts")).toContain("compose.ts");
    expect(graph.get("root.ts")).toContain("cli/hot.ts");
    expect(graph.get("actions/env.ts")).toContain("context.ts");
  });

  test("no module imports one from a layer above its own, or a sibling layer; io/ only in the composition root", () => {
    const found = layerViolations(graph);
    const edge = (violation: string) => violation.split(":")[0]!;
    expect(found.filter((v) => !(edge(v) in KNOWN))).toEqual([]);
    // A known exception that is gone comes off the list.
    expect(Object.keys(KNOWN).filter((known) => !found.some((v) => edge(v) === known))).toEqual([]);
  });

  test("no import cycle (among the imports that load a module)", () => {
    const found = importCycles(importGraph(SRC, true)).map((cycle) => cycle.join(" ⇄ "));
    expect(found.filter((cycle) => !(cycle in KNOWN_CYCLES))).toEqual([]);
    expect(Object.keys(KNOWN_CYCLES).filter((known) => !found.includes(known))).toEqual([]);
  });

  test("the checks see what they are for (a hand-made graph with an upward import and a cycle)", () => {
    const bad = new Map<string, Set<string>>([
      ["flows/a.ts", new Set(["actions/b.ts"])],
      ["actions/b.ts", new Set(["flows/a.ts"])],
      ["actions/c.ts", new Set(["io/browser.ts"])],
      ["store/d.ts", new Set(["store/d.ts"])],
    ]);
    expect(layerViolations(bad)).toEqual([
      "actions/c.ts → io/browser.ts: io/ only through Deps (or in main.ts/compose.ts)",
      "flows/a.ts → actions/b.ts: imports a layer above (actions)",
    ]);
    expect(importCycles(bad)).toEqual([["actions/b.ts", "flows/a.ts"], ["store/d.ts"]]);
  });
});
