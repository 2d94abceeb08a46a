/**
 * `createTestDeps(overrides)`: the `Deps` of src/deps.ts for tests that call actions and flows
 * directly, as GitHub CLI's tests build a cmdutil.Factory (pkg/cmd/auth/logout/logout_test.go):
 *
 * - a fake clock: `now()` is virtual; `sleep(ms)` moves it forward by `ms` at once, and
 *   `timeoutSignal(ms)` and `clock.at(…)` timers fire when the clock passes them (`clock.advance`);
 * - a scripted prompter that answers by the label a person sees, and fails the test on a question
 *   nobody scripted;
 * - an in-memory keyring, a temporary AUTHCTL_HOME (a file store unless `env` says otherwise);
 * - a recorded browser (every URL it was asked to open), optionally following the URL against an
 *   in-process fake as a person's browser would (test/fakes/browser-follow.ts);
 * - captured stdout and stderr;
 * - the real `fetch`, which the preload (test/setup.ts) limits to 127.0.0.1: the Bun.serve fakes
 *   under test/fakes/ run in this process, so requests reach them without a binary in between.
 *
 *   const t = createTestDeps({ answers: [["Log out of which provider?", "OpenRouter"]], interactive: true });
 *   await logout(t.context(), { providerIds: [], all: false });
 *   expect(t.stderr()).toContain("logged out of OpenRouter");
 *   t.cleanup();
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createContext } from "../../src/compose.ts";
import type { Context } from "../../src/context.ts";
import type { Deps, Env, Prompter, SelectOption, Spinner } from "../../src/deps.ts";
import { AuthctlError } from "../../src/errors.ts";
import { createHttpClient } from "../../src/io/http.ts";
import { createUi } from "../../src/io/ui.ts";
import type { SecretVault } from "../../src/store/backend.ts";
import type { Credentials, StoredCredential } from "../../src/store/types.ts";

// --------------------------------------------------------------------------- the fake clock

export interface FakeClock {
  now(): number;
  /** Moves virtual time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): Promise<void>;
  /** Sets `fire` to run when the clock reaches now + `ms`; returns the cancel. */
  at(ms: number, fire: () => void): () => void;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  timeoutSignal(ms: number): AbortSignal;
  /** Timers not yet fired. */
  pending(): number;
}

/** A whole turn of the event loop: what a timer's callback started (a rejection, an abort) settles. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export function createFakeClock(start = Date.UTC(2026, 0, 15, 12, 0, 0)): FakeClock {
  let now = start;
  let sequence = 0;
  const timers: Array<{ due: number; order: number; fire: () => void }> = [];
  const clock: FakeClock = {
    now: () => now,
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        timers.sort((a, b) => a.due - b.due || a.order - b.order);
        const next = timers[0];
        if (!next || next.due > target) break;
        timers.shift();
        now = next.due;
        next.fire();
        await settle();
      }
      now = target;
      await settle();
    },
    at(ms, fire) {
      const timer = { due: now + Math.max(0, ms), order: sequence++, fire };
      timers.push(timer);
      return () => {
        const index = timers.indexOf(timer);
        if (index >= 0) timers.splice(index, 1);
      };
    },
    // A sleep is the code under test waiting on purpose (a poll interval, a retry): virtual time
    // moves on by that much at once, so a 5-second poll costs nothing, and the timers it passes fire.
    async sleep(ms, signal) {
      if (signal?.aborted) throw signal.reason;
      await clock.advance(ms);
      if (signal?.aborted) throw signal.reason;
    },
    timeoutSignal(ms) {
      const controller = new AbortController();
      clock.at(ms, () => controller.abort(new DOMException("The operation timed out.", "TimeoutError")));
      return controller.signal;
    },
    pending: () => timers.length,
  };
  return clock;
}

// --------------------------------------------------------------------------- the scripted prompter

/** What a person answers: a select's visible label, text, a confirm, several labels; or Ctrl-C. */
export type PromptAnswer = string | boolean | string[] | typeof CANCEL;
/** The answer that presses Ctrl-C at that prompt. */
export const CANCEL: unique symbol = Symbol("Ctrl-C");
/** [the question as shown (a RegExp matches part of it), the answer]. */
export type ScriptedAnswer = [question: string | RegExp, answer: PromptAnswer];

export interface ScriptedPrompter extends Prompter {
  /** Every question asked, in order. */
  readonly asked: string[];
  /** Answers not used yet. */
  readonly remaining: ScriptedAnswer[];
}

/**
 * Answers prompts in the scripted order. A question that is not the next one scripted, or a
 * select answer that is not one of the labels shown, throws an Error that is no AuthctlError, so
 * the action under test fails as with a bug, never as a handled cancel.
 */
export function createScriptedPrompter(script: ScriptedAnswer[]): ScriptedPrompter {
  const remaining = [...script];
  const asked: string[] = [];
  function next(kind: string, message: string): PromptAnswer {
    asked.push(message);
    const entry = remaining[0];
    const matches = entry && (typeof entry[0] === "string" ? entry[0] === message : entry[0].test(message));
    if (!entry || !matches) {
      throw new Error(
        `unexpected ${kind} prompt "${message}"${entry ? ` (the script expected "${entry[0]}")` : " (the script has no more answers)"}`,
      );
    }
    remaining.shift();
    if (entry[1] === CANCEL) throw new AuthctlError("CANCELLED", "cancelled");
    return entry[1];
  }
  function label<T extends string>(message: string, options: SelectOption<T>[], wanted: string): T {
    const option = options.find((o) => o.label === wanted);
    if (!option) {
      throw new Error(
        `"${message}" shows no option labelled "${wanted}"; it shows: ${options.map((o) => o.label).join(" | ")}`,
      );
    }
    return option.value;
  }
  const asString = (kind: string, message: string) => {
    const answer = next(kind, message);
    if (typeof answer !== "string") throw new Error(`the answer to "${message}" must be text`);
    return answer;
  };
  return {
    asked,
    remaining,
    async password(message) {
      return asString("password", message);
    },
    async text(message, options) {
      if (options?.signal?.aborted) throw options.signal.reason;
      return asString("text", message);
    },
    async confirm(message) {
      const answer = next("confirm", message);
      if (typeof answer !== "boolean") throw new Error(`the answer to "${message}" must be true or false`);
      return answer;
    },
    async select(message, options) {
      return label(message, options, asString("select", message));
    },
    async multiselect(message, options) {
      const answer = next("multiselect", message);
      if (!Array.isArray(answer)) throw new Error(`the answer to "${message}" must be a list of labels`);
      return answer.map((wanted) => label(message, options, wanted));
    },
  };
}

// --------------------------------------------------------------------------- the in-memory keyring

export interface MemoryKeyring extends SecretVault {
  /** Items by provider id, as JSON, as the real keyring holds them. */
  items: Map<string, string>;
  /** False: the keyring does not answer (no D-Bus session). */
  available: boolean;
}

export function createMemoryKeyring(): MemoryKeyring {
  const keyring: MemoryKeyring = {
    items: new Map(),
    available: true,
    quickUnavailableReason: () => (keyring.available ? undefined : "no keyring in this test"),
    probe: async () => (keyring.available ? undefined : "no keyring in this test"),
    async get(id) {
      if (!keyring.available)
        throw new AuthctlError("STORE_IO", "the keyring could not read: off in this test");
      return keyring.items.get(id) ?? null;
    },
    async put(id, value) {
      if (!keyring.available)
        throw new AuthctlError("STORE_IO", "the keyring could not write: off in this test");
      keyring.items.set(id, value);
    },
    async remove(id) {
      if (!keyring.available)
        throw new AuthctlError("STORE_IO", "the keyring could not delete: off in this test");
      return keyring.items.delete(id);
    },
  };
  return keyring;
}

// --------------------------------------------------------------------------- createTestDeps

export interface TestDepsOptions extends Partial<Omit<Deps, "env">> {
  /** Added to the test environment (AUTHCTL_HOME, HOME, AUTHCTL_STORE=file); undefined removes one. */
  env?: Env;
  /** A person at a terminal (default false: a script, as in CI). */
  interactive?: boolean;
  answers?: ScriptedAnswer[];
  /** What the action reads from stdin. */
  stdin?: string;
  /** Where the fake clock starts (default 2026-01-15 12:00 UTC). */
  startAt?: number;
  /**
   * Follow each URL the browser is asked to open, as a person who approves everything would
   * (test/fakes/browser-follow.ts), in this process. `true` for the defaults.
   */
  followBrowser?: boolean | { submitForms?: boolean; decision?: "allow" | "deny"; username?: string };
}

export interface TestDeps {
  deps: Deps;
  clock: FakeClock;
  prompter: ScriptedPrompter;
  keyring: MemoryKeyring;
  /** The temporary directory holding AUTHCTL_HOME (`home`) and HOME. */
  root: string;
  home: string;
  browser: {
    /** Every URL the action asked to open, in order. */
    urls: string[];
    /** The follows started (with followBrowser), to await or inspect. */
    follows: Promise<import("../fakes/browser-follow.ts").FollowResult>[];
  };
  /** Everything written to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Presses Ctrl-C: every handler registered with onInterrupt runs. */
  interrupt(): void;
  /** The Context the action gets (built once; `fresh` builds a new one, e.g. after writeConfig). */
  context(fresh?: boolean): Context;
  writeConfig(text: string): void;
  /** Stores credentials as a login would have (through the store, whatever its backend). */
  seed(credentials: Credentials): Promise<void>;
  /** What the store holds now, secrets included. */
  stored(): Promise<Credentials>;
  cleanup(): void;
}

export function createTestDeps(options: TestDepsOptions = {}): TestDeps {
  const {
    env: extraEnv,
    interactive = false,
    answers = [],
    stdin = "",
    startAt,
    followBrowser,
    ...overrides
  } = options;
  const root = mkdtempSync(join(tmpdir(), "authctl-deps-"));
  const home = join(root, "authctl-home");
  const userHome = join(root, "user-home");
  mkdirSync(userHome, { recursive: true });
  const env: Env = { HOME: userHome, AUTHCTL_HOME: home, AUTHCTL_STORE: "file", LANG: "C.UTF-8" };
  for (const [name, value] of Object.entries(extraEnv ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const out: string[] = [];
  const err: string[] = [];
  const clock = createFakeClock(startAt);
  const prompter = createScriptedPrompter(answers);
  const keyring = createMemoryKeyring();
  const interruptHandlers = new Set<() => void>();
  const browser: TestDeps["browser"] = { urls: [], follows: [] };
  const writeStdout = (text: string) => void out.push(text);
  const writeStderr = (text: string) => void err.push(text);
  const spinner: Spinner = {
    start: (message) => writeStderr(`◒ ${message}\n`),
    message: () => {},
    stop: (message) => message !== undefined && writeStderr(`◇ ${message}\n`),
  };
  const deps: Deps = {
    env,
    home,
    platform: "linux",
    interactive,
    stdinIsTTY: interactive,
    stdoutColor: false,
    writeStdout,
    writeStderr,
    readStdin: async () => stdin,
    ui: createUi(writeStderr, writeStdout, { color: false, unicode: true }),
    prompter: async () => prompter,
    spinner: async () => spinner,
    fetch: globalThis.fetch,
    // The real client (io/http.ts) over whatever fetch, sleep and timeoutSignal the test ends up
    // with (overrides included): its timeouts fire when the fake clock passes them.
    http: createHttpClient({
      fetch: ((input: string | URL | Request, init?: RequestInit) => deps.fetch(input, init)) as typeof fetch,
      sleep: (ms, signal) => deps.sleep(ms, signal),
      timeoutSignal: (ms) => deps.timeoutSignal(ms),
    }),
    now: clock.now,
    sleep: clock.sleep,
    timeoutSignal: clock.timeoutSignal,
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    canOpenBrowser: () => true,
    async openBrowser(url) {
      browser.urls.push(url);
      if (followBrowser) {
        const settings = followBrowser === true ? {} : followBrowser;
        const { UserAgent } = await import("../fakes/browser-follow.ts");
        const follow = new UserAgent().follow(url, settings);
        follow.catch(() => {}); // the test awaits it when it cares; the flow sees the callback
        browser.follows.push(follow);
      }
      return true;
    },
    hostname: () => "test-host",
    // Inside the temporary directory: a project file lookup (.authctl.toml) finds only what the test wrote.
    cwd: () => root,
    startLoopbackServer: async (loopback) =>
      (await import("../../src/io/loopback-server.ts")).startLoopbackServer(loopback),
    onInterrupt(handler) {
      interruptHandlers.add(handler);
      return () => void interruptHandlers.delete(handler);
    },
    which: () => null,
    spawnInherit: async () => {
      throw new Error("spawnInherit is not scripted in this test");
    },
  };
  Object.assign(deps, overrides);
  let context: Context | undefined;
  const t: TestDeps = {
    deps,
    clock,
    prompter,
    keyring,
    root,
    home,
    browser,
    stdout: () => out.join(""),
    stderr: () => err.join(""),
    interrupt() {
      for (const handler of [...interruptHandlers]) handler();
    },
    context(fresh = false) {
      if (fresh || !context) context = createContext(deps, { vaults: { keyring } });
      return context;
    },
    writeConfig(text) {
      mkdirSync(home, { recursive: true, mode: 0o700 });
      writeFileSync(join(home, "config.toml"), text, { mode: 0o600 });
      context = undefined;
    },
    async seed(credentials) {
      await t.context().store.update((current) => {
        Object.assign(current, structuredClone(credentials));
      });
    },
    async stored() {
      const store = t.context().store;
      const snapshot = store.read();
      const out: Credentials = {};
      for (const id of Object.keys(snapshot.credentials))
        out[id] = ((await store.readSecrets(id)) ?? snapshot.credentials[id]) as StoredCredential;
      return out;
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
  return t;
}
