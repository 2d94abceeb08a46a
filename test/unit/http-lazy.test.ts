import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

// The HTTP client (src/io/http.ts, on ofetch) is loaded by the first deps.http.send, never by the
// modules `env`, `token` and `exec` load (issue 19.4): they make no request unless a refresh is due.
// The same walk as hot-path-imports.test.ts, over static value imports only.
const ROOT = join(import.meta.dir, "../..");
const HOT_ENTRIES = [
  "src/main.ts",
  "src/cli/hot.ts",
  "src/compose.ts",
  "src/actions/env.ts",
  "src/actions/token.ts",
  "src/actions/exec.ts",
];

function staticImports(source: string): string[] {
  const out: string[] = [];
  for (const match of source.matchAll(/^import\s+(?!type\s)([\s\S]*?)\s+from\s+"([^"]+)";/gm)) {
    if (/^\{\s*(type\s+[\w$]+(\s+as\s+[\w$]+)?\s*,?\s*)+\}$/.test(match[1]!.trim())) continue;
    out.push(match[2]!);
  }
  for (const match of source.matchAll(/^import\s+"([^"]+)";/gm)) out.push(match[1]!);
  return out;
}

test("env, token and exec never load the HTTP client or ofetch at top level", () => {
  const seen = new Set<string>();
  const offenders: string[] = [];
  const queue = HOT_ENTRIES.map((entry) => join(ROOT, entry));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of staticImports(readFileSync(file, "utf8"))) {
      const target = specifier.startsWith(".") ? join(dirname(file), specifier) : specifier;
      if (specifier === "ofetch" || target === join(ROOT, "src/io/http.ts"))
        offenders.push(`${relative(ROOT, file)} imports ${specifier}`);
      else if (specifier.startsWith(".") && specifier.endsWith(".ts")) queue.push(target);
    }
  }
  expect(seen.size).toBeGreaterThan(20);
  expect(offenders).toEqual([]);
});
