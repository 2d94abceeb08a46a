#!/usr/bin/env bun
/**
 * The one test command (`npm test`): type-check, build the binary, run every test against it.
 * Ends with the line CI reads: `N passed, N failed` (a failed type-check or build counts as a
 * failure, so it can never read as green).
 */
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const bun = process.execPath;
let extraFailed = 0;

function step(name: string, cmd: string[]): boolean {
  process.stderr.write(`\n== ${name}: ${cmd.join(" ")}\n`);
  const result = Bun.spawnSync(cmd, { cwd: root, stdio: ["inherit", "inherit", "inherit"] });
  if (result.exitCode !== 0) {
    process.stderr.write(`== ${name} failed (exit ${result.exitCode})\n`);
    extraFailed++;
    return false;
  }
  return true;
}

step("type-check", [bun, join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", root]);
const built = step("build", [bun, join(root, "scripts/build.ts")]);

let passed = 0;
let failed = 0;
let skipped = 0;
if (built) {
  // Bun ignores `[test] timeout` in bunfig.toml (oven-sh/bun#7789): the flag is the only place it
  // reads a suite-wide default. Tests that need more still say so in their own third argument.
  const args = [bun, "test", "--timeout", "60000", ...process.argv.slice(2)];
  process.stderr.write(`\n== tests: ${args.join(" ")}\n`);
  const proc = Bun.spawn(args, {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, FORCE_COLOR: "0" },
  });
  const tee = async (stream: ReadableStream<Uint8Array>, out: NodeJS.WriteStream, sink: string[]) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      sink.push(text);
      out.write(text);
    }
  };
  const outText: string[] = [];
  const errText: string[] = [];
  await Promise.all([tee(proc.stdout, process.stdout, outText), tee(proc.stderr, process.stderr, errText)]);
  const code = await proc.exited;
  const all = outText.join("") + errText.join("");
  passed = Number(/^\s*(\d+) pass$/m.exec(all)?.[1] ?? 0);
  failed = Number(/^\s*(\d+) fail$/m.exec(all)?.[1] ?? 0);
  skipped = Number(/^\s*(\d+) skip$/m.exec(all)?.[1] ?? 0);
  // A crash or an unhandled error outside any test still fails the run.
  if (code !== 0 && failed === 0) extraFailed++;
}
failed += extraFailed;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
