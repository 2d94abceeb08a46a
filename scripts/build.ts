#!/usr/bin/env bun
/**
 * Builds the self-contained binary: dist/authctl (dist/authctl.exe on Windows).
 * `--target bun-linux-x64` etc. cross-compiles (scripts/release.ts uses that).
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

const root = join(import.meta.dir, "..");
const args = process.argv.slice(2);
const target = args.find((a) => a.startsWith("--target="))?.slice(9);
const outfile =
  args.find((a) => a.startsWith("--outfile="))?.slice(10) ??
  join(root, "dist", process.platform === "win32" ? "authctl.exe" : "authctl");
mkdirSync(dirname(outfile), { recursive: true });

const result = await Bun.build({
  entrypoints: [join(root, "src/main.ts")],
  compile: { outfile, ...(target ? { target: target as never } : {}) },
  minify: true,
  // Bytecode skips parsing at start-up: it is most of what separates `authctl env` from a
  // hello-world binary (scripts/bench.ts measures the ratio).
  bytecode: true,
  // ES modules split at each `await import()`: the code only other commands use (citty, clack,
  // the OAuth flows, the proxy) is a separate module in the binary, loaded when reached, where a
  // single CommonJS file made every start-up of `env` pay for the whole program. Measured with
  // scripts/bench.ts' method (issue 18): `env openrouter` median wall 1.99x -> 1.13x of the
  // console.log hello-world (21 alternating runs, load average 23), peak memory 35.1 -> 34.9 MiB.
  format: "esm",
  splitting: true,
  sourcemap: "none",
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.error(`built ${outfile}`);
