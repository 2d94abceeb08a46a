import { afterEach, describe, expect, test } from "bun:test";
import { status } from "../../src/actions/status.ts";
import type { Credentials } from "../../src/store/types.ts";
import { createTestDeps, type TestDeps } from "../helpers/deps.ts";
import { HOUR, keyCredential, oauthCredential, run, secret } from "./_table.ts";

/**
 * `status` as a table (GitHub CLI's auth status tests are the model): the store and environment,
 * then the report on stdout, stderr, and the exit code that says whether everything can be used.
 * The clock is the fake one, so "expires in 3 h" is exact. test/e2e/status-report.test.ts keeps
 * what only the binary shows (streams under a pipe, providers removed from config.toml).
 */
const KEY = secret("sk-or-v1-status0123456789abcdef0123456789abcdef0123456789abcdef01234");
const ACCESS = secret("status-access-token-0123456789abcdef");
const REFRESH = secret("status-refresh-token-0123456789abcdef");
const SHELL_KEY = secret("sk-or-v1-shell00123456789abcdef0123456789abcdef0123456789abcdef0123");

let t: TestDeps;
afterEach(() => t.cleanup());

interface Case {
  name: string;
  store: (now: number) => Credentials;
  providerIds?: string[];
  env?: Record<string, string>;
  stdout: string[];
  stderr?: string[];
  code: number;
  error?: string;
}

const CASES: Case[] = [
  {
    name: "a key: logged in, masked, where it is stored, what it exports; exit 0",
    store: (now) => ({ openrouter: keyCredential(KEY, now) }),
    stdout: [
      "OpenRouter (openrouter)",
      `  ✓ logged in with a key …${KEY.slice(-4)}`,
      "    stored in the plain file",
      "    exports OPENROUTER_API_KEY",
    ],
    code: 0,
  },
  {
    name: "an account login with its account name and a relative expiry",
    store: (now) => ({
      openai: oauthCredential(now, {
        method: "chatgpt",
        access: ACCESS,
        refresh: REFRESH,
        expiresIn: 3 * HOUR + 60_000,
        account: "alice@example.com",
      }),
    }),
    stdout: [
      `✓ logged in with an account login (chatgpt) …${ACCESS.slice(-4)} as alice@example.com`,
      "access token expires in 3 h; refreshed automatically",
    ],
    code: 0,
  },
  {
    name: "nothing stored: exit 4 with what to run",
    store: () => ({}),
    stdout: [],
    code: 4,
    error: "not logged in to any provider",
  },
  {
    name: "a named provider that is not logged in is said once, on stdout, exit 4",
    store: (now) => ({ openrouter: keyCredential(KEY, now) }),
    providerIds: ["xai"],
    stdout: ["✗ not logged in — run 'authctl login xai'"],
    code: 4,
  },
  {
    name: "an expired token without a refresh token cannot be used: exit 4",
    store: (now) => ({
      anthropic: oauthCredential(now, { method: "claude", access: ACCESS, expiresIn: -2 * HOUR }),
    }),
    stdout: [
      `✗ logged in with an account login (claude) …${ACCESS.slice(-4)}, but it cannot be used now:`,
      "✗ expired 2 h ago and cannot be refreshed (no refresh token) — run 'authctl login anthropic'",
    ],
    code: 4,
  },
  {
    name: "an expired token with a refresh token will be refreshed: exit 0",
    store: (now) => ({
      openai: oauthCredential(now, {
        method: "chatgpt",
        access: ACCESS,
        refresh: REFRESH,
        expiresIn: -2 * HOUR,
      }),
    }),
    stdout: ["access token expired 2 h ago; refreshed on next use"],
    code: 0,
  },
  {
    name: "one login that needs renewal makes the exit code 4; the other is still fine",
    store: (now) => ({
      openrouter: keyCredential(KEY, now),
      anthropic: oauthCredential(now, {
        method: "claude",
        access: ACCESS,
        refresh: REFRESH,
        expiresIn: HOUR,
        needsLogin: true,
      }),
    }),
    stdout: [
      "✗ needs a new login: the provider refused the last refresh — run 'authctl login anthropic'",
      "✓ logged in with a key",
    ],
    code: 4,
  },
  {
    name: "a key only in the environment is reported as such (not stored by authctl)",
    store: () => ({}),
    env: { OPENROUTER_API_KEY: SHELL_KEY },
    stdout: [
      `✓ from the environment: OPENROUTER_API_KEY = …${SHELL_KEY.slice(-4)}`,
      "not stored by authctl; 'authctl login openrouter' stores it",
    ],
    code: 0,
  },
  {
    name: "a stored key shadowed by a different one in the shell: a warning on stderr",
    store: (now) => ({ openrouter: keyCredential(KEY, now) }),
    env: { OPENROUTER_API_KEY: SHELL_KEY },
    stdout: [`✓ logged in with a key …${KEY.slice(-4)}`],
    stderr: [
      `OPENROUTER_API_KEY in this shell holds a different value (…${SHELL_KEY.slice(-4)}): programs you start directly use it`,
    ],
    code: 0,
  },
];

describe("status", () => {
  for (const c of CASES) {
    test(c.name, async () => {
      t = createTestDeps({ env: c.env });
      await t.seed(c.store(t.clock.now()));
      const result = await run(t, () =>
        status(t.context(), { providerIds: c.providerIds ?? [], json: false }),
      );
      expect(result.code).toBe(c.code);
      if (c.error) expect(result.error?.message).toContain(c.error);
      for (const line of c.stdout) expect(result.stdout).toContain(line);
      for (const line of c.stderr ?? []) expect(result.stderr).toContain(line);
      // The report is on stdout; stderr has warnings only.
      for (const line of c.stdout) expect(result.stderr).not.toContain(line);
    });
  }

  test("--json: expired, refreshable and usable per provider, in alphabetical order", async () => {
    t = createTestDeps();
    const now = t.clock.now();
    await t.seed({
      openrouter: keyCredential(KEY, now),
      anthropic: oauthCredential(now, { method: "claude", access: ACCESS, expiresIn: -2 * HOUR }),
    });
    const result = await run(t, () => status(t.context(), { providerIds: [], json: true }));
    expect(result.code).toBe(4);
    const report = JSON.parse(result.stdout);
    expect(report.providers.map((p: { id: string; usable: boolean }) => [p.id, p.usable])).toEqual([
      ["anthropic", false],
      ["openrouter", true],
    ]);
    expect(report.providers[0]).toMatchObject({
      expired: true,
      refreshable: false,
      expires_at: new Date(now - 2 * HOUR).toISOString(),
    });
  });
});
