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
  sourcemap: "none",
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.error(`built ${outfile}`);
