import { afterEach, describe, expect, test } from "bun:test";
import { env } from "../../src/actions/env.ts";
import type { Credentials } from "../../src/store/types.ts";
import { createTestDeps, type TestDeps } from "../helpers/deps.ts";
import { HOUR, keyCredential, oauthCredential, run, secret } from "./_table.ts";

/**
 * `env` as a table: the store and environment → the export lines on stdout, the warnings on
 * stderr, the exit code. Nothing here needs a refresh (a due token is in refresh.test.ts); the
 * binary tests keep shells, quoting round trips, EPIPE and the hot path's cost.
 */
const OR_KEY = secret("sk-or-v1-env000123456789abcdef0123456789abcdef0123456789abcdef01234");
const GROQ_KEY = secret("gsk_env00123456789abcdef0123456789abcdef0123456789abcd");
const ACCESS = secret("env-access-token-0123456789abcdef");
const SHELL_KEY = secret("sk-or-v1-shell0123456789abcdef0123456789abcdef0123456789abcdef01234");

let t: TestDeps;
afterEach(() => t.cleanup());

interface Case {
  name: string;
  store: (now: number) => Credentials;
  providerIds: string[];
  env?: Record<string, string>;
  stdout: string;
  stderr?: string[];
  code: number;
  error?: string;
}

const CASES: Case[] = [
  {
    name: "a named provider's key as an sh export line",
    store: (now) => ({ openrouter: keyCredential(OR_KEY, now), groq: keyCredential(GROQ_KEY, now) }),
    providerIds: ["openrouter"],
    stdout: `export OPENROUTER_API_KEY='${OR_KEY}'\n`,
    code: 0,
  },
  {
    name: "without names, every stored provider, in the order the store holds them",
    store: (now) => ({ openrouter: keyCredential(OR_KEY, now), groq: keyCredential(GROQ_KEY, now) }),
    providerIds: [],
    stdout: `export OPENROUTER_API_KEY='${OR_KEY}'\nexport GROQ_API_KEY='${GROQ_KEY}'\n`,
    code: 0,
  },
  {
    name: "the store wins over the shell's own variable",
    store: (now) => ({ openrouter: keyCredential(OR_KEY, now) }),
    providerIds: ["openrouter"],
    env: { OPENROUTER_API_KEY: SHELL_KEY },
    stdout: `export OPENROUTER_API_KEY='${OR_KEY}'\n`,
    code: 0,
  },
  {
    name: "nothing stored for a named provider, the key in the environment: that one is handed on",
    store: () => ({}),
    providerIds: ["openrouter"],
    env: { OPENROUTER_API_KEY: SHELL_KEY },
    stdout: `export OPENROUTER_API_KEY='${SHELL_KEY}'\n`,
    code: 0,
  },
  {
    name: "a named provider that is not logged in, no terminal: nothing on stdout, exit 4",
    store: (now) => ({ groq: keyCredential(GROQ_KEY, now) }),
    providerIds: ["openrouter"],
    stdout: "",
    code: 4,
    error: "openrouter is not logged in",
  },
  {
    name: "nothing stored at all: exit 4 saying how to start",
    store: () => ({}),
    providerIds: [],
    stdout: "",
    code: 4,
    error: "no provider is logged in",
  },
  {
    name: "without names, a login that needs renewal is skipped with a warning; the others are handed out",
    store: (now) => ({
      openrouter: keyCredential(OR_KEY, now),
      anthropic: oauthCredential(now, {
        method: "claude",
        access: ACCESS,
        expiresIn: HOUR,
        needsLogin: true,
      }),
    }),
    providerIds: [],
    stdout: `export OPENROUTER_API_KEY='${OR_KEY}'\n`,
    stderr: ["skipped anthropic: the Anthropic login needs renewing (run 'authctl login anthropic')"],
    code: 0,
  },
  {
    name: "named, a login that needs renewal is an error: all or nothing, exit 4",
    store: (now) => ({
      openrouter: keyCredential(OR_KEY, now),
      anthropic: oauthCredential(now, {
        method: "claude",
        access: ACCESS,
        expiresIn: HOUR,
        needsLogin: true,
      }),
    }),
    providerIds: ["openrouter", "anthropic"],
    stdout: "",
    code: 4,
    error: "the Anthropic login needs renewing",
  },
];

describe("env", () => {
  for (const c of CASES) {
    test(c.name, async () => {
      t = createTestDeps({ env: c.env });
      await t.seed(c.store(t.clock.now()));
      const result = await run(t, () => env(t.context(), { providerIds: c.providerIds, format: "sh" }));
      expect(result.code).toBe(c.code);
      if (c.error) expect(result.error?.message).toContain(c.error);
      expect(result.stdout).toBe(c.stdout);
      for (const line of c.stderr ?? []) expect(result.stderr).toContain(line);
    });
  }
});
