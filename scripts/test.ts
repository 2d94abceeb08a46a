#!/usr/bin/env bun
/**
 * The one test command (`npm test`): type-check, build the binary, run every test against it.
 * Ends with the line CI reads: `N passed, N failed` (a failed type-check or build counts as a
 * failure, so it can never read as green).
 */
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
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
  // The JUnit report carries each file's wall time, its beforeAll/afterAll included, which the
  // console output does not show: the slowest files are listed at the end (where the time goes).
  const times = join(tmpdir(), `authctl-test-times-${process.pid}.xml`);
  const args = [
    bun,
    "test",
    "--timeout",
    "60000",
    "--reporter=junit",
    `--reporter-outfile=${times}`,
    ...process.argv.slice(2),
  ];
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
  printSlowestFiles(times);
  rmSync(times, { force: true });
}
/** The 15 slowest test files: wall time, and how much of it no test reports (setup and teardown). */
function printSlowestFiles(report: string): void {
  let xml: string;
  try {
    xml = readFileSync(report, "utf8");
  } catch {
    return; // no report (the run crashed before writing it): the failure says enough
  }
  // One <testsuite> per file at the top (two spaces in), describe blocks nested inside it.
  const files: Array<{ file: string; time: number; setup: number }> = [];
  for (const line of xml.split("\n")) {
    const file = /^ {2}<testsuite name="([^"]*)"[^>]*? time="([\d.]+)"/.exec(line);
    if (file) files.push({ file: file[1]!, time: Number(file[2]), setup: Number(file[2]) });
    const test = /^\s*<testcase [^>]*?time="([\d.]+)"/.exec(line);
    if (test && files.length > 0) files[files.length - 1]!.setup -= Number(test[1]);
  }
  if (files.length === 0) return;
  const total = files.reduce((sum, f) => sum + f.time, 0);
  const lines = files
    .sort((a, b) => b.time - a.time)
    .slice(0, 15)
    .map((f) => `${f.time.toFixed(1).padStart(7)} s ${f.setup.toFixed(1).padStart(6)} s  ${f.file}`);
  process.stderr.write(
    `\n== slowest files of ${files.length} (${total.toFixed(0)} s in all): wall, of it outside tests (beforeAll/afterAll)\n${lines.join("\n")}\n`,
  );
}

failed += extraFailed;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
