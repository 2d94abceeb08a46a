import {
  accessSync,
  chmodSync,
  constants,
  mkdtempSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "bun:test";

/**
 * The compiled binary under test. Built once per test run when src/ is newer than dist/authctl,
 * so `bun test` alone works from a fresh checkout; `npm test` builds it first anyway.
 */
export const ROOT = join(import.meta.dir, "..", "..");
/**
 * AUTHCTL_TEST_BINARY lets parallel work build and test its own copy without clobbering dist/, and
 * lets a test be run against another build (main's, to see a new test fail there). A binary named
 * that way is built when it does not exist and never rebuilt: a copy of an older build was silently
 * rebuilt from the working tree when src/ was newer, and the test then "failed on the old
 * binary" against the new one (seen this session).
 */
const EXPLICIT = process.env.AUTHCTL_TEST_BINARY;
export const BINARY = EXPLICIT ?? join(ROOT, "dist", "authctl");
const BUN = process.execPath;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

let built: Promise<void> | undefined;
export function ensureBinary(): Promise<void> {
  built ??= (async () => {
    let stale = true;
    try {
      const mtime = statSync(BINARY).mtimeMs;
      stale =
        !EXPLICIT &&
        mtime < Math.max(newestMtime(join(ROOT, "src")), statSync(join(ROOT, "package.json")).mtimeMs);
    } catch {}
    if (!stale) return;
    const proc = Bun.spawnSync([BUN, join(ROOT, "scripts", "build.ts"), `--outfile=${BINARY}`], {
      cwd: ROOT,
      stderr: "pipe",
    });
    if (proc.exitCode !== 0) throw new Error(`build failed: ${proc.stderr.toString()}`);
  })();
  return built;
}

/** Secrets used by tests: no run of the binary may print any of them to stderr. */
const testSecrets = new Set<string>();
export function secret(value: string): string {
  testSecrets.add(value);
  return value;
}

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** What the scripted browser did (browser.log in the sandbox), for the failure message. */
  browserLog?: string;
}

export interface Sandbox {
  home: string;
  root: string;
  env: Record<string, string>;
  /** `prefix`: a command put before the binary and its arguments (`unshare -m sh -c '… && exec "$@"' sh`). */
  run(
    args: string[],
    options?: {
      stdin?: string;
      env?: Record<string, string | undefined>;
      timeoutMs?: number;
      prefix?: string[];
      /** The working directory (project files are looked for from there upward). */
      cwd?: string;
    },
  ): Promise<RunResult>;
  writeConfig(text: string): void;
  cleanup(): void;
}

/**
 * Where temporary files may live in memory: /dev/shm when the machine has it writable, else the
 * usual temporary directory. For tests about a kill or a race, not about the disk: under disk load
 * (stress-ng --hdd 1) every fsync on the disk waits its turn, and that time is not what they test.
 */
export function memoryTmpdir(): string {
  try {
    accessSync("/dev/shm", constants.W_OK);
    if (statSync("/dev/shm").isDirectory()) return "/dev/shm";
  } catch {
    // No tmpfs here: the disk it is.
  }
  return tmpdir();
}

/**
 * A temporary AUTHCTL_HOME and a clean environment (no provider variables leak in from the host).
 * `inMemory`: under memoryTmpdir() (a kill after each durable step need not wait for the disk).
 */
export function createSandbox(options: { inMemory?: boolean } = {}): Sandbox {
  const root = mkdtempSync(join(options.inMemory ? memoryTmpdir() : tmpdir(), "authctl-test-"));
  const home = join(root, "authctl-home");
  const userHome = join(root, "user-home");
  mkdirSync(userHome, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: userHome,
    AUTHCTL_HOME: home,
    NO_COLOR: "1",
    LANG: "C.UTF-8",
    // Most tests read the store to check what was written; the backend tests unset this.
    AUTHCTL_STORE: "file",
  };
  return {
    home,
    root,
    env,
    async run(args, options = {}) {
      await ensureBinary();
      const runEnv: Record<string, string> = { ...env };
      for (const [name, value] of Object.entries(options.env ?? {})) {
        if (value === undefined) delete runEnv[name];
        else runEnv[name] = value;
      }
      const proc = Bun.spawn([...(options.prefix ?? []), BINARY, ...args], {
        env: runEnv,
        cwd: options.cwd,
        stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
        stdout: "pipe",
        stderr: "pipe",
        timeout: options.timeoutMs ?? 30_000,
      });
      const [stdout, stderr] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
      ]);
      await proc.exited;
      for (const s of testSecrets) {
        if (stderr.includes(s))
          throw new Error(`a secret reached stderr of 'authctl ${args.join(" ")}': …${s.slice(-4)}`);
      }
      let browserLog: string | undefined;
      try {
        browserLog = readFileSync(join(root, "browser.log"), "utf8");
      } catch {}
      return {
        code: proc.exitCode,
        signal: proc.signalCode === null ? null : String(proc.signalCode),
        stdout,
        stderr,
        browserLog,
      };
    },
    writeConfig(text) {
      mkdirSync(home, { recursive: true, mode: 0o700 });
      writeFileSync(join(home, "config.toml"), text);
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Writes an executable script and returns its path. */
export function writeScript(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  chmodSync(path, 0o755);
  return path;
}

/**
 * A `BROWSER` that follows the authorize URL like a person who clicks Allow (test/fakes/browser-follow.ts).
 * authctl discards its opener's output, so what the browser did goes to `<dir>/browser.log`, which a
 * failed run in that sandbox prints (expectOk): a login that failed because the browser did is then
 * explained by the browser's own steps, not only by "the browser exited 1".
 */
export function writeFollowingBrowser(dir: string, env: Record<string, string> = {}): string {
  const vars = Object.entries({ BROWSER_LOG: join(dir, "browser.log"), ...env })
    .map(([name, value]) => `${name}="${value}" `)
    .join("");
  return writeScript(
    dir,
    "browser.sh",
    `#!/bin/sh\n${vars}exec "${BUN}" "${join(ROOT, "test/fakes/browser-follow.ts")}" "$1"\n`,
  );
}

export function expectOk(result: RunResult): void {
  if (result.code !== 0)
    throw new Error(
      `expected exit 0, got ${result.code}; stderr:\n${result.stderr}` +
        (result.browserLog ? `\nbrowser.log:\n${result.browserLog}` : ""),
    );
  expect(result.code).toBe(0);
}

/** Reads a running process's stream until `pattern` matches; returns the first capture group. */
export async function readUntil(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
): Promise<{ match: string | undefined; text: string }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const found = pattern.exec(text);
      if (found) return { match: found[1], text };
      const { value, done } = await reader.read();
      if (done) return { match: undefined, text };
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
}
