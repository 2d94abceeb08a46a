#!/usr/bin/env bun
/**
 * A small mutation check for the security-critical modules: each mutant in scripts/mutants/list.ts
 * is a realistic one-line bug (a check inverted, a mode widened, a constant changed). The script
 * applies one at a time to a scratch copy of the committed tree, builds that copy's binary, runs
 * the tests named for the mutant, and reports whether they caught it. A mutant whose text no
 * longer appears in its file counts as a failure too: the list must follow the code.
 *
 *   bun scripts/mutants.ts              every mutant
 *   bun scripts/mutants.ts lock pkce    those whose id starts with one of the words
 *
 * Run it before a change to one of those modules lands (commit first: it copies HEAD, so your
 * working tree is never touched). Exit 0 only when every mutant was caught.
 */
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MUTANTS } from "./mutants/list.ts";

const root = join(import.meta.dir, "..");
const bun = process.execPath;
const args = process.argv.slice(2);
const unknown = args.filter((a) => a.startsWith("-"));
if (unknown.length > 0) {
  // Any flag (--help included) prints the usage: a run takes many minutes, and starting one by
  // accident was seen this session.
  console.error(
    "usage: bun scripts/mutants.ts [id-prefix …]\n" +
      "  applies each one-line mutant of scripts/mutants/list.ts to a copy of HEAD and runs its tests;\n" +
      "  exit 0 only when every mutant was caught",
  );
  process.exit(unknown.every((a) => a === "--help" || a === "-h") ? 0 : 2);
}
const filters = args;
const selected = MUTANTS.filter((m) => filters.length === 0 || filters.some((f) => m.id.startsWith(f)));
if (selected.length === 0) {
  console.error(`no mutant matches ${filters.join(", ")}; ids: ${MUTANTS.map((m) => m.id).join(", ")}`);
  process.exit(2);
}

const scratch = join(tmpdir(), `authctl-mutants-${process.pid}`);
const git = (...args: string[]) =>
  Bun.spawnSync(["git", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
const added = git("worktree", "add", "--detach", scratch, "HEAD");
if (added.exitCode !== 0) throw new Error(`git worktree add failed: ${added.stderr}`);
if (!existsSync(join(scratch, "node_modules")))
  symlinkSync(join(root, "node_modules"), join(scratch, "node_modules"));
const binary = join(scratch, ".tmp", "authctl-mutant");

function run(cmd: string[], timeoutMs: number): { code: number; output: string } {
  const result = Bun.spawnSync(cmd, {
    cwd: scratch,
    env: { ...process.env, AUTHCTL_TEST_BINARY: binary, FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: timeoutMs,
  });
  return { code: result.exitCode ?? 1, output: `${result.stdout}${result.stderr}` };
}

/**
 * What caught a mutant: bun test's "(fail)" lines, or the end of its output when none (a file that
 * failed to load, a timeout). A mutant "caught" by a busy port or a crash is not caught by the
 * test it names, and this is where that shows.
 */
function caughtBy(output: string): string {
  const failed = output.split("\n").filter((line) => line.startsWith("(fail)"));
  if (failed.length > 0) return failed.join("; ");
  return `no (fail) line; output ends: ${output.trim().split("\n").slice(-3).join(" | ")}`;
}

const results: { id: string; outcome: "caught" | "SURVIVED" | "DOES NOT APPLY" }[] = [];
try {
  for (const mutant of selected) {
    const path = join(scratch, mutant.file);
    const original = readFileSync(path, "utf8");
    const count = original.split(mutant.from).length - 1;
    if (count !== 1) {
      results.push({ id: mutant.id, outcome: "DOES NOT APPLY" });
      console.log(`${mutant.id}: DOES NOT APPLY (${count} matches in ${mutant.file})`);
      continue;
    }
    // A function replacement: `$&` and friends in a mutant are code, not replacement patterns.
    writeFileSync(
      path,
      original.replace(mutant.from, () => mutant.to),
    );
    try {
      // A mutant that breaks the build is caught by the build, but that says nothing about the
      // tests: the list holds only mutants that compile.
      const built = run([bun, join(scratch, "scripts/build.ts"), `--outfile=${binary}`], 120_000);
      if (built.code !== 0) throw new Error(`${mutant.id}: the mutant does not build; fix the list`);
      const tested = run([bun, "test", "--timeout", "60000", "--bail", ...mutant.tests], 900_000);
      const outcome = tested.code === 0 ? "SURVIVED" : "caught";
      results.push({ id: mutant.id, outcome });
      console.log(`${mutant.id}: ${outcome} (${mutant.why})`);
      if (outcome === "caught") console.log(`  by ${caughtBy(tested.output)}`);
    } finally {
      writeFileSync(path, original);
    }
  }
} finally {
  git("worktree", "remove", "--force", scratch);
  rmSync(scratch, { recursive: true, force: true });
}

const caught = results.filter((r) => r.outcome === "caught").length;
console.log(`mutation score: ${caught}/${results.length} caught`);
for (const r of results.filter((r) => r.outcome !== "caught")) console.log(`  ${r.outcome}: ${r.id}`);
process.exit(caught === results.length ? 0 : 1);
