/**
 * The entry point. `env`, `token` and `exec` in their usual case (named providers, or every
 * stored one where none is named and no project file is found, whose
 * credentials sit in the local store, in clear or sealed with its key file, or in the keyring,
 * nothing to refresh, nothing to warn about) are answered here, by actions/usual-case.ts from
 * the files it reads, before the rest of authctl is loaded. Everything else, and anything the
 * usual case hands back, runs the full path (root.ts, the composition root), loaded as one
 * module when reached.
 *
 * Why a second, short path (issue 18): `env openrouter` ran at about 2.2× the smallest Bun
 * program where the job itself (stat, read and parse two files, print a line) costs 1.3×. The
 * rest was spread over a few hundred functions, each paying its first call in a compiled binary
 * (20-30 µs: bytecode read from the binary and linked), with no step to cut. This path calls few
 * of them; the rules it applies are the full path's own functions (usual-case.ts says which).
 *
 * Like root.ts, this file reads `process.*` and exits: the two halves of the composition root.
 * reads-ahead.ts is imported first, so the reads run while the rest is evaluated. The full path is
 * the one module loaded with import(): in a compiled binary the first import() costs about 1 ms of
 * CPU, whatever it loads (measured, issue 18), and the usual case must not pay it.
 */
// First: its evaluation starts the reads, before the modules below are evaluated.
import { argv, hot, reads } from "./reads-ahead.ts";
import type { UsualAnswer } from "./actions/usual-case.ts";
import { usualCase } from "./cli/usual.ts";
import { replaceProcess, replaceProcessAvailable, which } from "./io/process.ts";

/**
 * scripts/build.ts --usual-case=off builds a binary without this path (the full path answers
 * everything), and `only` one that exits 99 where this path would hand over: the tests compare
 * the two and know which cases this path answered (test/e2e/usual-case.test.ts). Unset (`bun
 * src/main.ts`): on.
 */
declare const AUTHCTL_USUAL_CASE: "on" | "off" | "only" | undefined;
const USUAL_CASE = typeof AUTHCTL_USUAL_CASE === "string" ? AUTHCTL_USUAL_CASE : "on";
/** The exit code of a `--usual-case=only` binary where the full path would have run. */
const HANDED_OVER = 99;

/** The usual case's answer, or undefined to run the full path. */
async function usualAnswer(env: Record<string, string | undefined>): Promise<UsualAnswer | undefined> {
  if (!reads?.store || USUAL_CASE === "off") return undefined;
  const [config, store] = await Promise.all([reads.config, reads.store]);
  return usualCase(argv, env, { ...reads, config, store }, Date.now(), () => process.cwd());
}

/** Carries the answer out; returns the exit code, or undefined to run the full path. */
async function carryOut(answer: UsualAnswer): Promise<number | undefined> {
  if ("stdout" in answer) {
    try {
      await Bun.write(Bun.stdout, answer.stdout);
    } catch (error) {
      // A reader that went away (EPIPE) ends the output quietly, as in root.ts.
      if ((error as NodeJS.ErrnoException).code === "EPIPE") return 0;
      return (await import("./root.ts")).reportStdoutFailure(error as NodeJS.ErrnoException);
    }
    return 0;
  }
  const { command, argv, env } = answer.exec;
  const file = command.includes("/") ? command : which(command, env.PATH);
  // A command not found, or one that does not start: the full path says why, with its exit code.
  if (!file || !replaceProcessAvailable()) return undefined;
  try {
    replaceProcess(file, argv, env);
  } catch {
    return undefined;
  }
}

async function start(): Promise<void> {
  if (hot) {
    // Read, never written: exec's child gets a copy (actions/vars.ts childEnvironment).
    const answer = await usualAnswer(process.env as Record<string, string | undefined>);
    const code = answer && (await carryOut(answer));
    if (code !== undefined) process.exit(code);
    if (USUAL_CASE === "only") {
      console.error("authctl: the usual case handed over");
      process.exit(HANDED_OVER);
    }
  }
  await (await import("./root.ts")).runFull(argv, hot);
}

// No top-level await: the entry runs the same whether the build (scripts/build.ts) is ESM or CommonJS.
void start();
