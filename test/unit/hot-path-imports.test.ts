import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

// `env`, `token` and `exec` load the modules below (main.ts statically, the rest on the way), and a
// compiled binary pays for each Node module they import when it loads them: node:fs about 5 MiB,
// node:crypto 4, node:path 2, node:os and node:tty 2–3, against a 25 MiB hello-world (issue 18,
// scripts/bench.ts). They use src/lazy-fs.ts, src/lazy-path.ts or a require() at the point of use.
const ROOT = join(import.meta.dir, "../..");
const HOT_ENTRIES = [
  "src/main.ts",
  "src/cli/hot.ts",
  "src/compose.ts",
  "src/actions/env.ts",
  "src/actions/token.ts",
  "src/actions/exec.ts",
];
const HEAVY =
  /^(node:)?(fs|fs\/promises|path|os|crypto|tty|util|stream|net|tls|http|https|readline|child_process)$/;

/** Static value imports (not `import type`, not `await import()`), with their specifiers. */
function staticImports(source: string): string[] {
  const out: string[] = [];
  for (const match of source.matchAll(/^import\s+(?!type\s)([\s\S]*?)\s+from\s+"([^"]+)";/gm)) {
    // `import { type A, type B } from` is erased like `import type`.
    if (/^\{\s*(type\s+[\w$]+(\s+as\s+[\w$]+)?\s*,?\s*)+\}$/.test(match[1]!.trim())) continue;
    out.push(match[2]!);
  }
  for (const match of source.matchAll(/^import\s+"([^"]+)";/gm)) out.push(match[1]!);
  return out;
}

test("the modules env, token and exec load import no heavy Node module at top level", () => {
  const seen = new Set<string>();
  const offenders: string[] = [];
  const queue = HOT_ENTRIES.map((entry) => join(ROOT, entry));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of staticImports(readFileSync(file, "utf8"))) {
      if (HEAVY.test(specifier)) offenders.push(`${relative(ROOT, file)} imports ${specifier}`);
      else if (specifier.startsWith(".") && specifier.endsWith(".ts"))
        queue.push(join(dirname(file), specifier));
    }
  }
  expect(seen.size).toBeGreaterThan(20);
  expect(offenders).toEqual([]);
});
