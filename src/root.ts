import { resolveHome } from "./config/paths.ts";
import { passwdHome } from "./store/trust.ts";
import type { Deps, HttpClient } from "./deps.ts";
import { AuthctlError, exitCodeFor, isAuthctlError } from "./errors.ts";
import { redact } from "./redact.ts";
import { terminalLines } from "./format/terminal-text.ts";
import { asciiFallback, createUi, wantsColor, wantsUnicode } from "./io/ui.ts";
import { replaceProcess, replaceProcessAvailable, spawnInherit, which } from "./io/process.ts";
import { runHot } from "./cli/hot.ts";
import { openContext, openContextQuickly } from "./compose.ts";
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
  const entries = [env.NO_PROXY, env.no_proxy]
    .flatMap((list) => (list ?? "").split(","))
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.includes("*")) return;
  const value = [...new Set([...entries, ...LOOPBACK_NO_PROXY])].join(",");
  env.NO_PROXY = value;
  env.no_proxy = value;
}

/**
 * Whether a descriptor is a terminal. node:tty costs a compiled binary about 3 MB of memory over
 * node:fs (measured with /usr/bin/time), and `env` with a stored key never asks: loaded on first use.
 */
function isatty(fd: number): boolean {
  return (require("node:tty") as typeof import("node:tty")).isatty(fd);
}

/**
 * Writes the whole text to stderr before returning, as `process.stderr.write` appears to on the
 * hot path, without creating Node's stream objects (about 9 MB of memory in a compiled binary for
 * the first `process.stdout` or `process.stderr`). Synchronous, so nothing is left buffered when
 * `exec` replaces the process or main() exits. stdout goes through writeStdout (below).
 *
 * A line (every text the hot path writes ends in a newline) goes through console.error: the
 * runtime's own synchronous write, which the smallest Bun program pays for anyway, where node:fs
 * costs about 5 MiB of memory (scripts/bench.ts). With a single string argument the console prints
 * it as it is (no format directives), and it waits for a full or non-blocking pipe and drops the
 * output quietly when the reader went away (EPIPE). Anything else goes through node:fs writeSync,
 * with the same rules.
 */
function writeAll(fd: 1 | 2, text: string): void {
  if (fd === 1) return writeStdout(text);
  if (text.endsWith("\n")) {
    console.error(text.slice(0, -1));
    return;
  }
  const { writeSync } = require("node:fs") as typeof import("node:fs");
  const bytes = Buffer.from(text);
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (error) {
      // A reader that went away (EPIPE) ends the output quietly, with the exit code the command
      // earned. A descriptor another program left non-blocking answers EAGAIN when a pipe is
      // full: wait for the reader and go on.
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return;
      Bun.sleepSync(1);
    }
  }
}

/**
 * The first write to stdout that failed for another reason than a reader that went away (EPIPE:
 * `authctl env | head -0`, quiet by design, test/e2e/use.test.ts): ENOSPC (`authctl token p > file`
 * on a full disk), EIO, EFBIG. The output is lost, so the command must not exit 0: a script would
 * take the empty file for its token. main() reports it once, at the end. console.log (the cheapest
 * write) drops such errors unseen, so stdout is written with Bun.write, which rejects with the
 * write's error and waits for a full or non-blocking pipe; main() waits for it before exiting
 * (`exec` writes nothing to stdout before it replaces the process). Every command writes stdout
 * this way, not through process.stdout: that stream buffers what a non-blocking pipe refuses
 * (EAGAIN) while reporting nothing pending (writableLength 0, no 'drain' needed), so
 * process.exit() dropped `status` or `providers` output unseen, exit 0. Measured on
 * `env openrouter`, file store, both builds to the same path, median of 31: +0.26 MiB peak memory
 * over console.log.
 */
let stdoutFailure: NodeJS.ErrnoException | undefined;
/** The stdout writes, in order: main() waits for them before exiting. */
let stdoutPending: Promise<unknown> | undefined;

function noteStdoutFailure(error: unknown): void {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // EPIPE ends the output quietly, with the exit code the command earned.
  if (!error || code === "EPIPE") return;
  stdoutFailure ??= error as NodeJS.ErrnoException;
}

function writeStdout(text: string): void {
  stdoutPending = Promise.resolve(stdoutPending)
    .then(() => Bun.write(Bun.stdout, text))
    .catch(noteStdoutFailure);
}

/** Waits until stdout took everything written to it; then stdoutFailure holds any write error. */
async function settleStdout(): Promise<void> {
  if (stdoutPending) await stdoutPending;
}

/** A value worked out on first read: the terminal checks cost memory that `env` never needs. */
function lazy<T>(compute: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) (value = compute()), (done = true);
    return value;
  };
}

/**
 * The composition root: the only file that reads process.* and exits, and (with src/compose.ts,
 * which only it calls) the only place real adapters are built. `hot`: `env`, `token` and `exec` write with
 * writeAll instead of Node's streams; every other command keeps the streams, which interactive
 * prompts (clack) also write to, so their output stays in order.
 */
function createDeps(hot: boolean): Deps {
  // A copy: what authctl sets in its own environment (NO_PROXY above) never reaches a child.
  const env = { ...process.env } as Record<string, string | undefined>;
  const writeStderr = hot
    ? (text: string) => writeAll(2, text)
    : (text: string) => void process.stderr.write(text);
  // isatty(0) rather than process.stdin.isTTY: creating the stdin stream costs about 9 MB.
  const stdinIsTTY = lazy(() => isatty(0));
  const stderrIsTTY = lazy(() => isatty(2));
  const interactive = lazy(() => stdinIsTTY() && stderrIsTTY() && env.CI !== "true");
  // isatty(1) rather than process.stdout.isTTY: creating the stdout stream costs the hot path.
  const stdoutColor = lazy(() => wantsColor(env, isatty(1)));
  const stderrColor = lazy(() => wantsColor(env, stderrIsTTY()));
  const ui = createUi(writeStderr, writeStdout, {
    get color() {
      return stderrColor();
    },
    unicode: wantsUnicode(env, process.platform),
  });
  const fetchDirect = ((input: string | URL | Request, init?: RequestInit) => {
    neverProxyLoopback();
    // Bun's fetch logs every request to stderr when BUN_CONFIG_VERBOSE_FETCH is set (a setting
    // people export while debugging some other Bun program): its headers with `x-api-key` and
    // cookies in clear, and with `=curl` the Authorization header and the body too (a refresh
    // token, a PKCE verifier, the etcd password). A request's own `verbose: false` wins over it.
    // Likewise NODE_TLS_REJECT_UNAUTHORIZED=0 (exported for some Node tool behind a TLS-inspecting
    // proxy) made Bun's fetch send keys and tokens to any certificate, silently; the request's own
    // `rejectUnauthorized` wins over it, and NODE_EXTRA_CA_CERTS / SSL_CERT_FILE still apply. The
    // proxy (proxy/upstream.ts) already decides on the handshake's answer itself.
    const tls = { ...(init as { tls?: object } | undefined)?.tls, rejectUnauthorized: true };
    return fetch(input, { ...init, verbose: false, tls } as RequestInit);
  }) as typeof fetch;
  const sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
    });
  const timeoutSignal = (ms: number) => AbortSignal.timeout(ms);
  // The HTTP client (ofetch) loads with the first request: `env`, `token`, `exec` make none.
  let client: Promise<HttpClient> | undefined;
  const http: HttpClient = {
    send: async (url, what, request) =>
      (
        await (client ??= import("./io/http.ts").then((m) =>
          m.createHttpClient({ fetch: fetchDirect, sleep, timeoutSignal }),
        ))
      ).send(url, what, request),
  };
  // On first use: --version, help and `upgrade` never need a home, and a process without one
  // (HOME unset and a uid that /etc/passwd does not list: a container run with an arbitrary uid,
  // `setpriv --reuid`) must still run them, and be told what to set for the rest.
  const home = lazy(() =>
    resolveHome(
      env,
      process.platform,
      () => (process.getuid ? passwdHome(process.getuid()) : undefined) ?? accountHome(),
    ),
  );
  return {
    env,
    get home() {
      return home();
    },
    cwd: () => process.cwd(),
    platform: process.platform,
    get interactive() {
      return interactive();
    },
    get stdinIsTTY() {
      return stdinIsTTY();
    },
    get stdoutColor() {
      return stdoutColor();
    },
    writeStdout,
    writeStderr,
    readStdin: () => Bun.stdin.text(),
    ui,
    prompter: async () => (await import("./io/prompter.ts")).createClackPrompter(),
    spinner: async () => (await import("./io/prompter.ts")).createClackSpinner(),
    fetch: fetchDirect,
    http,
    now: () => Date.now(),
    sleep,
    timeoutSignal,
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    canOpenBrowser: () =>
      (require("./io/browser.ts") as typeof import("./io/browser.ts")).canOpenBrowser(env, process.platform),
    openBrowser: async (url) => (await import("./io/browser.ts")).openBrowser(url, env, process.platform),
    hostname: () => (require("node:os") as typeof import("node:os")).hostname(),
    startLoopbackServer: async (options) =>
      (await import("./io/loopback-server.ts")).startLoopbackServer(options),
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

/** os.homedir() (libuv asks the password database); it throws when the uid has no entry there. */
function accountHome(): string {
  try {
    return (require("node:os") as typeof import("node:os")).homedir();
  } catch (error) {
    throw new AuthctlError(
      "CONFIG_INVALID",
      `cannot find a home directory: HOME is not set and uid ${process.getuid?.()} has no entry in the password database`,
      { hint: "set AUTHCTL_HOME to the directory authctl keeps its files in (or set HOME)", cause: error },
    );
  }
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
  // Server text inside a message (an etcd member's error, a provider's refusal) must not drive the
  // terminal: controls out first, then redaction (an escape inside a key would hide it from redact).
  const write = (text: string) => {
    const line = glyphs(`${redact(terminalLines(text))}\n`);
    hot ? writeAll(2, line) : void process.stderr.write(line);
  };
  if (isAuthctlError(error)) {
    write(`authctl: ${error.message}`);
    if (error.usage) write(`usage: ${error.usage}`);
    if (error.hint) write(`  → ${error.hint}`);
    if (env.AUTHCTL_DEBUG && error.cause)
      write(withoutReceived(String((error.cause as Error).stack ?? error.cause)));
    return;
  }
  write(`authctl: internal error: ${withoutReceived((error as Error)?.message ?? String(error))}`);
  if (env.AUTHCTL_DEBUG) write(withoutReceived(String((error as Error)?.stack)));
}

/**
 * `env`, `token` and `exec` (main.ts isHotCommand) run before every agent launch and hold
 * a secret for milliseconds: they skip the ~8 ms of bun:ffi (exec hardens itself when it stays the
 * parent of its child). Every other command (a login waiting for the browser, logout, status,
 * store migrate) is kept out of core dumps from the start (io/harden.ts).
 */
let hot = false;

async function main(argv: string[]): Promise<number> {
  try {
    // The binary starts with a reluctant JIT (scripts/build.ts: start-up code stays interpreted,
    // which saves `env` memory); every other command may run long (a login server, upgrade).
    if (!hot) Bun.unsafe.setJITPolicy(1);
    if (!hot) await hardenProcess();
    const deps = createDeps(hot);
    // The config, the providers and the store (src/compose.ts), built on first use: --help, a
    // usage error and `upgrade` never need them. A promise: the team store is read over the network.
    // `env`, `token` and `exec` read config.toml without node:fs in the usual case.
    const getContext = lazy(() => {
      return hot ? openContextQuickly(deps) : openContext(deps);
    });
    // The full CLI (citty, every command, the help) loads only when the hot path hands over.
    return (
      (hot ? await runHot(argv, deps, getContext) : undefined) ??
      (await (await import("./cli/index.ts")).runCli(argv, deps, getContext))
    );
  } catch (error) {
    report(error);
    return exitCodeFor(error);
  }
}

/**
 * The full path: every command, and `env`, `token` and `exec` whenever the usual-case lane
 * (main.ts) hands over. main.ts has already started the reads `env`, `token` and `exec` take
 * (store/quick-read.ts). Ends the process.
 */
export async function runFull(argv: string[], hotPath: boolean): Promise<never> {
  hot = hotPath;
  let code = await main(argv);
  // Flush stdout before exiting: large --json output into a pipe must not be cut off.
  await settleStdout();
  if (stdoutFailure) code = reportStdoutFailure(stdoutFailure, code);
  process.exit(code);
}

/** A failed write to stdout (not EPIPE): the output is incomplete, and the command must not exit 0. */
export function reportStdoutFailure(failure: NodeJS.ErrnoException, code = 0): number {
  report(
    new AuthctlError("STORE_IO", `could not write the output to stdout: ${failure.message}`, {
      hint: "the output is incomplete; free space (or send it elsewhere) and run the command again",
    }),
  );
  return code || 1;
}
