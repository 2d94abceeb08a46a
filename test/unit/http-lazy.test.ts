import { expect, test } from "bun:test";
import { join } from "node:path";
import { HOT_ENTRIES, ROOT, walkStaticImports } from "../helpers/import-graph.ts";

// The HTTP client (src/io/http.ts, on ofetch) is loaded by the first deps.http.send, never by the
// modules `env`, `token` and `exec` load (issue 19.4): they make no request unless a refresh is due.
const HTTP_CLIENT = join(ROOT, "src/io/http.ts");

test("env, token and exec never load the HTTP client or ofetch at top level", () => {
  const { seen, offenders } = walkStaticImports(
    HOT_ENTRIES,
    (specifier, target) => specifier === "ofetch" || target === HTTP_CLIENT,
  );
  expect(seen.size).toBeGreaterThan(20);
  expect(offenders).toEqual([]);
});
