import { expect, test } from "bun:test";
import { HOT_ENTRIES, walkStaticImports } from "../helpers/import-graph.ts";

// `env`, `token` and `exec` load the modules below (main.ts statically, the rest on the way), and a
// compiled binary pays for each Node module they import when it loads them: node:fs about 5 MiB,
// node:crypto 4, node:path 2, node:os and node:tty 2–3, against a 25 MiB hello-world (issue 18,
// scripts/bench.ts). They use src/lazy-fs.ts, src/lazy-path.ts or a require() at the point of use.
const HEAVY =
  /^(node:)?(fs|fs\/promises|path|os|crypto|tty|util|stream|net|tls|http|https|readline|child_process)$/;

test("the modules env, token and exec load import no heavy Node module at top level", () => {
  const { seen, offenders } = walkStaticImports(HOT_ENTRIES, (specifier) => HEAVY.test(specifier));
  expect(seen.size).toBeGreaterThan(20);
  expect(offenders).toEqual([]);
});
