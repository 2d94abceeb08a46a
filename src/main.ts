import { hostname, homedir } from "node:os";
import { resolveHome } from "./config/paths.ts";
import type { Deps } from "./deps.ts";
import { exitCodeFor, isAuthctlError } from "./errors.ts";
import { redact } from "./redact.ts";
import { createUi, wantsColor } from "./io/ui.ts";
import { replaceProcess, replaceProcessAvailable, spawnInherit, which } from "./io/process.ts";
import { runCli } from "./cli/index.ts";

/** The only file that reads process.* and exits. */
function createDeps(): Deps {
  const env = process.env as Record<string, string | undefined>;
  const writeStderr = (text: string) => void process.stderr.write(text);
  const stdinIsTTY = Boolean(process.stdin.isTTY);
  const ui = createUi(writeStderr, { color: wantsColor(env, Boolean(process.stderr.isTTY)) });
  return {
    env,
    home: resolveHome(env, process.platform, homedir()),
    platform: process.platform,
    interactive: stdinIsTTY && Boolean(process.stderr.isTTY) && env.CI !== "true",
    stdinIsTTY,
    writeStdout: (text) => void process.stdout.write(text),
    writeStderr,
    readStdin: () => Bun.stdin.text(),
    ui,
    prompter: async () => (await import("./io/prompter.ts")).createClackPrompter(),
    spinner: async () => (await import("./io/prompter.ts")).createClackSpinner(),
    fetch: (input, init) => fetch(input, init),
    now: () => Date.now(),
    sleep: (ms, signal) =>
      new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const timer = setTimeout(resolve, ms);
        signal?.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
      }),
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    openBrowser: async (url) => (await import("./io/browser.ts")).openBrowser(url, env, process.platform),
    hostname: () => hostname(),
    startLoopbackServer: async (options) => (await import("./io/loopback-server.ts")).startLoopbackServer(options),
    onInterrupt(handler) {
      const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
      for (const signal of signals) process.on(signal, handler);
      return () => {
        for (const signal of signals) process.off(signal, handler);
      };
    },
    which,
    replaceProcess: replaceProcessAvailable() ? replaceProcess : undefined,
    spawnInherit,
  } as Deps;
}

/**
 * Node's argument errors end in ". Received …" with the value quoted: for a spawn that is the whole
 * environment, credentials included, with escapes (\u0000) that defeat redaction (issue 13.3).
 */
function withoutReceived(text: string): string {
  return text.replace(/\. Received [\s\S]*?(?=\n\s+at |$)/, "");
}

function report(error: unknown): void {
  if (isAuthctlError(error)) {
    process.stderr.write(`${redact(`authctl: ${error.message}`)}\n`);
    if (error.hint) process.stderr.write(`${redact(`  → ${error.hint}`)}\n`);
    if (process.env.AUTHCTL_DEBUG && error.cause) process.stderr.write(`${redact(withoutReceived(String((error.cause as Error).stack ?? error.cause)))}\n`);
    return;
  }
  const message = withoutReceived((error as Error)?.message ?? String(error));
  // citty's own argument errors (missing positional, unknown sub-command) are usage errors.
  if ((error as { code?: string })?.code?.startsWith?.("E_")) {
    process.stderr.write(`${redact(`authctl: ${message}`)}\n  → run 'authctl --help'\n`);
    return;
  }
  process.stderr.write(`${redact(`authctl: internal error: ${message}`)}\n`);
  if (process.env.AUTHCTL_DEBUG) process.stderr.write(`${redact(withoutReceived(String((error as Error)?.stack)))}\n`);
}

async function main(): Promise<number> {
  try {
    return await runCli(process.argv.slice(2), createDeps());
  } catch (error) {
    report(error);
    if ((error as { code?: string })?.code?.startsWith?.("E_")) return 2;
    return exitCodeFor(error);
  }
}

// No top-level await: the bytecode build (scripts/build.ts) compiles to CommonJS.
void main().then(async (code) => {
  // Flush stdout before exiting: large --json output into a pipe must not be cut off.
  if (process.stdout.writableNeedDrain) await new Promise((resolve) => process.stdout.once("drain", resolve));
  process.exit(code);
});
