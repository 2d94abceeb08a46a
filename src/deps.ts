/**
 * Every side effect authctl has comes through one `Deps` object, built for real in `main.ts`
 * and by `test/helpers/deps.ts` in tests (fake clock, scripted prompter, captured output).
 * Heavy adapters (prompts, HTTP helpers, the loopback server) are reached through async getters so
 * that the hot path (`env`, `token`, `exec`) never loads them.
 */
export type Env = Record<string, string | undefined>;

export interface SelectOption<T extends string = string> {
  value: T;
  label: string;
  hint?: string;
}

/** What flows may ask a person. Every method rejects with AuthctlError("CANCELLED") on Ctrl-C. */
export interface Prompter {
  password(message: string): Promise<string>;
  text(message: string, options?: { placeholder?: string; signal?: AbortSignal }): Promise<string>;
  confirm(message: string, initial?: boolean): Promise<boolean>;
  /** `search`: the list filters as the person types (long lists: providers). */
  select<T extends string>(
    message: string,
    options: SelectOption<T>[],
    settings?: { initial?: T; search?: boolean },
  ): Promise<T>;
  multiselect<T extends string>(message: string, options: SelectOption<T>[]): Promise<T[]>;
}

/** Output for people, always through redact(): notices on stderr, human results on stdout. */
export interface Ui {
  info(message: string): void;
  success(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** A line as is (still redacted): tables, URLs, codes. */
  line(message: string): void;
  /** A line of a command's human-readable result (`status`, `providers`): on stdout, redacted. */
  result(message: string): void;
  /** ✓ → — … as the locale can show them (ASCII when it is not UTF-8). */
  glyphs(text: string): string;
}

export interface Spinner {
  start(message: string): void;
  message(message: string): void;
  /** `outcome` picks the mark: ◇ done, ■ cancelled, ▲ failed. */
  stop(message?: string, outcome?: "done" | "cancelled" | "failed"): void;
}

export interface LoopbackServerOptions {
  /** Ports to try in order; 0 means any free port. */
  ports: number[];
  path: string;
  /** Also listen on ::1 (the redirect URI says `localhost`). */
  dualStack: boolean;
  handle(url: URL): { status: number; html: string };
}

export interface LoopbackServer {
  port: number;
  /** Resolves once the last answer reached the browser (bounded) and the ports are closed. */
  stop(): Promise<void>;
}

/** One request for the HTTP client; `url` has passed the secure-endpoint check (oauth/_http.ts). */
export interface HttpRequest {
  method: "GET" | "POST";
  headers: Headers;
  /** The exact bytes to send, already encoded (form or JSON) by the caller. */
  body?: string;
  /** Gives up waiting after this long, body included, on deps' clock (`sleep`). */
  timeoutMs: number;
  /** Aborting it cancels the request with a CANCELLED error. */
  signal?: AbortSignal;
  /**
   * Retries after a network failure or a 408/429/5xx, for idempotent requests only (metadata
   * GETs). Never for a request that spends a code, a refresh token or a device code. Default 0.
   */
  retries?: number;
}

/** authctl's HTTP client (io/http.ts, on ofetch), built on deps' `fetch` and `sleep`. */
export interface HttpClient {
  /**
   * Sends one request and resolves with the answer, whatever its status, its body already read.
   * Throws NetworkError (unreachable, timed out) or AuthctlError("CANCELLED").
   */
  send(url: URL, what: string, request: HttpRequest): Promise<Response>;
}

export interface Deps {
  env: Env;
  /** AUTHCTL_HOME, resolved (see config/paths.ts). */
  home: string;
  /** The working directory (where project files are looked for); throws when it was deleted. */
  cwd(): string;
  platform: NodeJS.Platform;
  /** True when stdin and stderr are both terminals: only then may authctl prompt. */
  interactive: boolean;
  stdinIsTTY: boolean;
  /** Colour is wanted on stdout (a terminal, or FORCE_COLOR; never with NO_COLOR or TERM=dumb): help. */
  stdoutColor: boolean;
  /** Script output (env lines, token, --json). Never redacted: this is what scripts consume. */
  writeStdout(text: string): void;
  /** Raw stderr; callers normally use `ui`, which redacts. */
  writeStderr(text: string): void;
  readStdin(): Promise<string>;
  ui: Ui;
  prompter(): Promise<Prompter>;
  spinner(): Promise<Spinner>;
  fetch: typeof fetch;
  /**
   * Every request authctl itself makes (OAuth and provider endpoints, key checks) goes through
   * this client, built on `fetch` and `sleep` above; main.ts loads it on first use.
   */
  http: HttpClient;
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * A signal that aborts after `ms` (a TimeoutError), as `AbortSignal.timeout` does; it does not
   * keep the process alive. Timeouts come from here rather than from timers of their own, so that
   * a test's fake clock fires them (test/helpers/deps.ts).
   */
  timeoutSignal(ms: number): AbortSignal;
  randomBytes(length: number): Uint8Array;
  /** Whether a browser could be opened here at all (not over SSH, not without a display). */
  canOpenBrowser(): boolean;
  /** Opens a URL in the user's browser; resolves false when no opener worked. */
  openBrowser(url: string): Promise<boolean>;
  hostname(): string;
  /** Serves the OAuth redirect on loopback; throws AuthctlError("PORT_BUSY") when every port is taken. */
  startLoopbackServer(options: LoopbackServerOptions): Promise<LoopbackServer>;
  /** Calls the handler on Ctrl-C (SIGINT) or SIGTERM instead of dying; returns the unsubscribe. */
  onInterrupt(handler: () => void): () => void;
  /** Finds a command on PATH (as the child would see it); null when absent. */
  which(command: string, path: string | undefined): string | null;
  /**
   * Replaces authctl with the command (execve), so signals, exit codes and the TTY are the
   * child's own. Undefined where the platform has no execve (Windows).
   */
  replaceProcess?(file: string, argv: string[], env: Record<string, string>): never;
  /** Runs the command with inherited stdio, forwarding signals; resolves with the exit code (128+N for signal N). */
  spawnInherit(file: string, argv: string[], env: Record<string, string>): Promise<number>;
}
