import { hostname, homedir } from "node:os";
import { isatty } from "node:tty";
import { resolveHome } from "./config/paths.ts";
import { passwdHome } from "./store/trust.ts";
import type { Deps } from "./deps.ts";
import { exitCodeFor, isAuthctlError } from "./errors.ts";
import { redact } from "./redact.ts";
import { asciiFallback, createUi, wantsColor, wantsUnicode } from "./io/ui.ts";
import { replaceProcess, replaceProcessAvailable, spawnInherit, which } from "./io/process.ts";
import { runCli } from "./cli/index.ts";
import { hardenProcess } from "./io/harden.ts";

const LOOPBACK_NO_PROXY = ["localhost", "127.0.0.0/8", "::1"];

/**
 * Loopback is never proxied (Go's http.ProxyFromEnvironment rule): through HTTP_PROXY, a key sent
 * to a local http api_url would cross the proxy in clear (issue 13.5). Bun's fetch reads
 * HTTP_PROXY, HTTPS_PROXY and NO_PROXY (or no_proxy) from this process's environment at each
 * request and has no per-request "direct" switch, so the loopback names join NO_PROXY here, before
 * the first request. `deps.env` is a copy taken earlier: children get the environment they were given.
 */
function neverProxyLoopback(): void {
  const env = process.env;
  if (!(env.HTTP_PROXY || env.http_proxy || env.HTTPS_PROXY || env.https_proxy)) return;
  const entries = [env.NO_PROXY, env.no_proxy].flatMap((list) => (list ?? "").split(",")).map((entry) => entry.trim()).filter(Boolean);
  if (entries.includes("*")) return;
  const value = [...new Set([...entries, ...LOOPBACK_NO_PROXY])].join(",");
  env.NO_PROXY = value;
  env.no_proxy = value;
}

/** The only file that reads process.* and exits. */
function createDeps(): Deps {
  // A copy: what authctl sets in its own environment (NO_PROXY above) never reaches a child.
  const env = { ...process.env } as Record<string, string | undefined>;
  const writeStderr = (text: string) => void process.stderr.write(text);
  const writeStdout = (text: string) => void process.stdout.write(text);
  const stdinIsTTY = Boolean(process.stdin.isTTY);
  const stderrIsTTY = isatty(2);
  const ui = createUi(writeStderr, writeStdout, { color: wantsColor(env, stderrIsTTY), unicode: wantsUnicode(env, process.platform) });
  return {
    env,
    home: resolveHome(env, process.platform, () => (process.getuid ? passwdHome(process.getuid()) : undefined) ?? homedir()),
    platform: process.platform,
    interactive: stdinIsTTY && stderrIsTTY && env.CI !== "true",
    stdinIsTTY,
    // isatty(1) rather than process.stdout.isTTY: creating the stdout stream costs the hot path.
    stdoutColor: wantsColor(env, isatty(1)),
    writeStdout,
    writeStderr,
    readStdin: () => Bun.stdin.text(),
    ui,
    prompter: async () => (await import("./io/prompter.ts")).createClackPrompter(),
    spinner: async () => (await import("./io/prompter.ts")).createClackSpinner(),
    fetch: (input, init) => {
      neverProxyLoopback();
      return fetch(input, init);
    },
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

/** One error, as a person reads it: the message, the usage line for usage errors, what to run next. */
function report(error: unknown): void {
  const env = process.env as Record<string, string | undefined>;
  const glyphs = wantsUnicode(env, process.platform) ? (text: string) => text : asciiFallback;
  const write = (text: string) => void process.stderr.write(glyphs(`${redact(text)}\n`));
  if (isAuthctlError(error)) {
    write(`authctl: ${error.message}`);
    if (error.usage) write(`usage: ${error.usage}`);
    if (error.hint) write(`  → ${error.hint}`);
    if (env.AUTHCTL_DEBUG && error.cause) write(withoutReceived(String((error.cause as Error).stack ?? error.cause)));
    return;
  }
  write(`authctl: internal error: ${withoutReceived((error as Error)?.message ?? String(error))}`);
  if (env.AUTHCTL_DEBUG) write(withoutReceived(String((error as Error)?.stack)));
}

/**
 * `env`, `token` and `exec` run before every agent launch and hold a secret for milliseconds: they
 * skip the ~8 ms of bun:ffi (exec hardens itself when it stays the parent of its child). Every
 * other command (a login waiting for the browser, logout, status, store migrate) is kept out of
 * core dumps from the start (io/harden.ts).
 */
const HOT_PATH = new Set(["env", "token", "exec"]);

async function main(): Promise<number> {
  try {
    const argv = process.argv.slice(2);
    const command = argv.find((arg) => !arg.startsWith("-"));
    if (!command || !HOT_PATH.has(command)) await hardenProcess();
    return await runCli(argv, createDeps());
  } catch (error) {
    report(error);
    return exitCodeFor(error);
  }
}

// No top-level await: the bytecode build (scripts/build.ts) compiles to CommonJS.
void main().then(async (code) => {
  // Flush stdout before exiting: large --json output into a pipe must not be cut off.
  if (process.stdout.writableNeedDrain) await new Promise((resolve) => process.stdout.once("drain", resolve));
  process.exit(code);
});
