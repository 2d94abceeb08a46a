import { afterEach, describe, expect, test } from "bun:test";
import { logout } from "../../src/actions/logout.ts";
import type { Credentials } from "../../src/store/types.ts";
import { CANCEL, createTestDeps, type ScriptedAnswer, type TestDeps } from "../helpers/deps.ts";
import { keyCredential, run, secret, storedIds } from "./_table.ts";

/**
 * `logout` as a table, in the shape of GitHub CLI's pkg/cmd/auth/logout/logout_test.go: the
 * starting store, the arguments, what a person answers, and then the store, stderr and exit code.
 * The binary tests keep the contract (streams, the keyring, revocation against real servers).
 */
const OR_KEY = secret("sk-or-v1-logout0123456789abcdef0123456789abcdef0123456789abcdef0123");
const GROQ_KEY = secret("gsk_logout0123456789abcdef0123456789abcdef0123456789ab");

let t: TestDeps;
afterEach(() => t.cleanup());

interface Case {
  name: string;
  store: (now: number) => Credentials;
  args: { providerIds: string[]; all: boolean };
  interactive?: boolean;
  env?: Record<string, string>;
  answers?: ScriptedAnswer[];
  storeAfter: string[];
  stderr: string[];
  code: number;
  error?: string;
}

const both = (now: number): Credentials => ({
  openrouter: keyCredential(OR_KEY, now),
  groq: keyCredential(GROQ_KEY, now),
});

const CASES: Case[] = [
  {
    name: "a named provider is removed and the others stay",
    store: both,
    args: { providerIds: ["openrouter"], all: false },
    storeAfter: ["groq"],
    stderr: [`✓ logged out of OpenRouter (removed …${OR_KEY.slice(-4)} from the store)`],
    code: 0,
  },
  {
    name: "a provider named in capitals is the same provider",
    store: both,
    args: { providerIds: ["OpenRouter"], all: false },
    storeAfter: ["groq"],
    stderr: ["✓ logged out of OpenRouter"],
    code: 0,
  },
  {
    name: "--all removes every login",
    store: both,
    args: { providerIds: [], all: true },
    storeAfter: [],
    stderr: ["✓ logged out of OpenRouter", "✓ logged out of Groq"],
    code: 0,
  },
  {
    name: "--all with nothing stored says so and succeeds",
    store: () => ({}),
    args: { providerIds: [], all: true },
    storeAfter: [],
    stderr: ["nothing is stored: nothing to log out of"],
    code: 0,
  },
  {
    name: "a provider that is not logged in: nothing is removed, exit 4",
    store: (now) => ({ groq: keyCredential(GROQ_KEY, now) }),
    args: { providerIds: ["openrouter"], all: false },
    storeAfter: ["groq"],
    stderr: [],
    code: 4,
    error: "not logged in to openrouter: nothing was removed",
  },
  {
    name: "a key only in the environment is not authctl's to remove: a warning, exit 4",
    store: () => ({}),
    args: { providerIds: ["openrouter"], all: false },
    env: { OPENROUTER_API_KEY: OR_KEY },
    storeAfter: [],
    stderr: [
      "openrouter comes from OPENROUTER_API_KEY in your environment, which authctl did not set: unset it where your shell sets it",
    ],
    code: 4,
  },
  {
    name: "no provider named and no terminal: exit 2, nothing removed",
    store: both,
    args: { providerIds: [], all: false },
    storeAfter: ["groq", "openrouter"],
    stderr: [],
    code: 2,
    error: "no provider named and no terminal to pick one",
  },
  {
    name: "no provider named at a terminal: the picked login goes, by the name shown",
    store: both,
    args: { providerIds: [], all: false },
    interactive: true,
    answers: [["Log out of which provider?", "Groq"]],
    storeAfter: ["openrouter"],
    stderr: ["✓ logged out of Groq"],
    code: 0,
  },
  {
    name: "no provider named at a terminal: the last row logs out of all of them",
    store: both,
    args: { providerIds: [], all: false },
    interactive: true,
    answers: [["Log out of which provider?", "All of them"]],
    storeAfter: [],
    stderr: ["✓ logged out of OpenRouter", "✓ logged out of Groq"],
    code: 0,
  },
  {
    name: "Ctrl-C at the picker: exit 2, nothing removed",
    store: both,
    args: { providerIds: [], all: false },
    interactive: true,
    answers: [["Log out of which provider?", CANCEL]],
    storeAfter: ["groq", "openrouter"],
    stderr: [],
    code: 2,
  },
];

describe("logout", () => {
  for (const c of CASES) {
    test(c.name, async () => {
      t = createTestDeps({ interactive: c.interactive, answers: c.answers, env: c.env });
      await t.seed(c.store(t.clock.now()));
      const result = await run(t, () => logout(t.context(), c.args));
      expect(result.code).toBe(c.code);
      if (c.error) expect(result.error?.message).toBe(c.error);
      else if (c.code === 0) expect(result.error).toBeUndefined();
      expect(await storedIds(t)).toEqual(c.storeAfter);
      for (const line of c.stderr) expect(result.stderr).toContain(line);
      expect(t.prompter.remaining).toEqual([]);
    });
  }
});
