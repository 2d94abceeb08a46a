import { afterEach, describe, expect, test } from "bun:test";
import { login, type LoginOptions } from "../../src/actions/login.ts";
import type { Credentials } from "../../src/store/types.ts";
import { CANCEL, createTestDeps, type ScriptedAnswer, type TestDeps } from "../helpers/deps.ts";
import { keyCredential, run, secret } from "./_table.ts";

/**
 * `login` with a key as a table (GitHub CLI's login tests are the model): the starting store,
 * options, stdin or what a person types at each prompt (by the prompt and the label shown), then
 * the store, stderr and exit code. --no-verify keeps the provider out of it; key checks and
 * account logins against real servers stay in the binary tests.
 */
const KEY = secret("sk-or-v1-login00123456789abcdef0123456789abcdef0123456789abcdef01234");
const GROQ = secret("gsk_login0123456789abcdef0123456789abcdef0123456789abcd");
const OLD = secret("sk-or-v1-old000123456789abcdef0123456789abcdef0123456789abcdef01234");

let t: TestDeps;
afterEach(() => t.cleanup());

interface Case {
  name: string;
  store?: (now: number) => Credentials;
  options: LoginOptions;
  interactive?: boolean;
  stdin?: string;
  answers?: ScriptedAnswer[];
  key: string | undefined;
  stderr: string[];
  code: number;
  error?: string;
}

const CASES: Case[] = [
  {
    name: "--with-key reads the key from stdin and stores it",
    options: { providerId: "openrouter", withKey: true, verify: false },
    stdin: `${KEY}\n`,
    key: KEY,
    stderr: ["not verified (--no-verify)", `✓ logged in to OpenRouter with key …${KEY.slice(-4)}`],
    code: 0,
  },
  {
    name: "--with-key with nothing on stdin: exit 2, nothing stored",
    options: { providerId: "openrouter", withKey: true, verify: false },
    stdin: "",
    key: undefined,
    stderr: [],
    code: 2,
    error: "--with-key read nothing from stdin",
  },
  {
    name: "a new key replaces the stored one and says which",
    store: (now) => ({ openrouter: keyCredential(OLD, now) }),
    options: { providerId: "openrouter", withKey: true, verify: false },
    stdin: KEY,
    key: KEY,
    stderr: [`replaced the stored OpenRouter key …${OLD.slice(-4)}`],
    code: 0,
  },
  {
    name: "no --with-key and no terminal: exit 2 with how to pipe it",
    options: { providerId: "groq", verify: false },
    key: undefined,
    stderr: [],
    code: 2,
    error: "no terminal to ask for the Groq key",
  },
  {
    name: "at a terminal the key is asked for (masked) and stored",
    options: { providerId: "groq", verify: false },
    interactive: true,
    answers: [["Groq API key", GROQ]],
    key: GROQ,
    stderr: [`✓ logged in to Groq with key …${GROQ.slice(-4)}`],
    code: 0,
  },
  {
    name: "an empty paste is asked again (try 2 of 3)",
    options: { providerId: "groq", verify: false },
    interactive: true,
    answers: [
      ["Groq API key", ""],
      ["Groq API key (try 2 of 3)", GROQ],
    ],
    key: GROQ,
    stderr: ["nothing was pasted"],
    code: 0,
  },
  {
    name: "Ctrl-C at the key prompt: exit 2, the stored key untouched",
    store: (now) => ({ groq: keyCredential(OLD, now) }),
    options: { providerId: "groq", verify: false },
    interactive: true,
    answers: [["Groq API key", CANCEL]],
    key: OLD,
    stderr: [],
    code: 2,
  },
  {
    name: "no provider named at a terminal: how, then which provider, by the labels shown",
    options: { verify: false },
    interactive: true,
    answers: [
      ["How do you want to log in?", "Paste an API key"],
      ["Which provider is the key for?", "OpenRouter"],
      ["OpenRouter API key", KEY],
    ],
    key: KEY,
    stderr: [`✓ logged in to OpenRouter with key …${KEY.slice(-4)}`],
    code: 0,
  },
  {
    name: "no provider named and no terminal: exit 2",
    options: { verify: false },
    key: undefined,
    stderr: [],
    code: 2,
    error: "no provider named and no terminal to pick one",
  },
  {
    name: "--device with a key-only provider is a usage error naming its methods",
    options: { providerId: "groq", device: true, verify: false },
    stdin: KEY,
    key: undefined,
    stderr: [],
    code: 2,
    error: "--device does not apply to Groq",
  },
];

describe("login with a key", () => {
  for (const c of CASES) {
    test(c.name, async () => {
      t = createTestDeps({ interactive: c.interactive, answers: c.answers, stdin: c.stdin });
      if (c.store) await t.seed(c.store(t.clock.now()));
      const result = await run(t, () => login(t.context(), { ...c.options }));
      expect(result.code).toBe(c.code);
      if (c.error) expect(result.error?.message).toContain(c.error);
      else if (c.code === 0) expect(result.error).toBeUndefined();
      const stored = await t.stored();
      const id = c.options.providerId ?? "openrouter";
      expect(stored[id]?.key).toBe(c.key);
      for (const line of c.stderr) expect(result.stderr).toContain(line);
      expect(result.stdout).toBe("");
      expect(t.prompter.remaining).toEqual([]);
    });
  }
});
