/**
 * The static import graph of src/, read as text: the lazy-loading tests (test/unit/hot-path-imports,
 * test/unit/http-lazy) walk it from the modules `env`, `token` and `exec` load and fail on any
 * module those must not load at top level. Only static value imports count: `import type` and
 * `import { type A }` are erased, and `await import()` runs only when a command needs it.
 */
import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

export const ROOT = join(import.meta.dir, "../..");

/**
 * What `env`, `token` and `exec` load before they do anything (main.ts statically, then on the way):
 * the usual-case lane (cli/usual.ts), and the full path when the lane hands over (root.ts).
 */
export const HOT_ENTRIES = [
  "src/main.ts",
  "src/reads-ahead.ts",
  "src/cli/usual.ts",
  "src/root.ts",
  "src/cli/hot.ts",
  "src/compose.ts",
  "src/actions/env.ts",
  "src/actions/token.ts",
  "src/actions/exec.ts",
];

/** Static value imports (not `import type`, not `await import()`), with their specifiers. */
export function staticImports(source: string): string[] {
  const out: string[] = [];
  for (const match of source.matchAll(/^import\s+(?!type\s)([\s\S]*?)\s+from\s+"([^"]+)";/gm)) {
    // `import { type A, type B } from` is erased like `import type`.
    if (/^\{\s*(type\s+[\w$]+(\s+as\s+[\w$]+)?\s*,?\s*)+\}$/.test(match[1]!.trim())) continue;
    out.push(match[2]!);
  }
  for (const match of source.matchAll(/^import\s+"([^"]+)";/gm)) out.push(match[1]!);
  return out;
}

/**
 * Walks the static imports from `entries` (paths from the repository root). `forbidden` gets each
 * specifier and its target (an absolute path for a relative specifier, else the specifier itself);
 * a forbidden import is listed as "<file> imports <specifier>" and not followed, the others are
 * followed into every relative .ts module. Returns the modules read and the offenders.
 */
export function walkStaticImports(
  entries: string[],
  forbidden: (specifier: string, target: string) => boolean,
): { seen: Set<string>; offenders: string[] } {
  const seen = new Set<string>();
  const offenders: string[] = [];
  const queue = entries.map((entry) => join(ROOT, entry));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of staticImports(readFileSync(file, "utf8"))) {
      const target = specifier.startsWith(".") ? join(dirname(file), specifier) : specifier;
      if (forbidden(specifier, target)) offenders.push(`${relative(ROOT, file)} imports ${specifier}`);
      else if (specifier.startsWith(".") && specifier.endsWith(".ts")) queue.push(target);
    }
  }
  return { seen, offenders };
}
