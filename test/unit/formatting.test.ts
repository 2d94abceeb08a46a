import { expect, test } from "bun:test";
import { join } from "node:path";

// The formatter's settings live in biome.json; `npm run format` applies them. This keeps the
// checked-in code formatted, so line length and layout never come up in review.
const ROOT = join(import.meta.dir, "../..");

test("the source, tests and scripts are formatted as biome.json says (npm run format fixes it)", () => {
  const result = Bun.spawnSync([join(ROOT, "node_modules/.bin/biome"), "format", "."], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  const output = result.stdout.toString() + result.stderr.toString();
  expect(output.includes("Checked"), output).toBe(true);
  expect(result.exitCode, output).toBe(0);
}, 30_000);
