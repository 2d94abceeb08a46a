import { afterEach, describe, expect, test } from "bun:test";
import { env } from "../../src/actions/env.ts";
import { login } from "../../src/actions/login.ts";
import { logout } from "../../src/actions/logout.ts";
import { createTestDeps, type TestDeps } from "../helpers/deps.ts";
import { run, secret } from "./_table.ts";

/**
 * Which account a bare provider id means, through login, logout and env on createTestDeps: the
 * rules of store/accounts.ts that the binary tests (test/e2e/accounts.test.ts) do not reach, where
 * an account that sorts before the default arrives later. No binary: a few ms each.
 */
const WORK = secret("sk-or-v1-accwork0123456789abcdef0123456789abcdef0123456789abcdef0123");
const ALPHA = secret("sk-or-v1-accalpha123456789abcdef0123456789abcdef0123456789abcdef0123");
const PERSONAL = secret("sk-or-v1-accpers0123456789abcdef0123456789abcdef0123456789abcdef0123");

let t: TestDeps;
/** What each `login --with-key` reads from stdin, in turn. */
const keys: string[] = [];
afterEach(() => {
  t.cleanup();
  keys.length = 0;
});

function setup(): TestDeps {
  return createTestDeps({ readStdin: async () => keys.shift() ?? "" });
}

async function loginKey(t: TestDeps, providerId: string, key: string): Promise<void> {
  keys.push(key);
  const result = await run(t, () => login(t.context(), { providerId, withKey: true, verify: false }));
  expect(result.error).toBeUndefined();
}

/** The key `env openrouter` hands out: what the bare provider id means now. */
async function bareKey(t: TestDeps): Promise<string> {
  const before = t.stdout().length;
  await env(t.context(), { providerIds: ["openrouter"], format: "sh" });
  return /OPENROUTER_API_KEY='([^']+)'/.exec(t.stdout().slice(before))?.[1] ?? "";
}

describe("the default account stays put when accounts are added or removed", () => {
  test("a first account named 'work' stays the default when 'alpha' (which sorts first) is added", async () => {
    t = setup();
    await loginKey(t, "openrouter@work", WORK);
    expect(await bareKey(t)).toBe(WORK);
    await loginKey(t, "openrouter@alpha", ALPHA);
    expect(await bareKey(t)).toBe(WORK);
    const stored = await t.stored();
    expect(stored["openrouter@work"]!.default).toBe(true);
    expect(stored["openrouter@alpha"]!.default).toBeUndefined();
  });

  test("after the default is logged out, the account that took over stays the default when one that sorts first is added", async () => {
    t = setup();
    await loginKey(t, "openrouter", PERSONAL);
    await loginKey(t, "openrouter@work", WORK);
    const out = await run(t, () => logout(t.context(), { providerIds: ["openrouter"], all: false }));
    expect(out.code).toBe(0);
    expect(out.stderr).toContain("openrouter@work is now the default openrouter account");
    expect(await bareKey(t)).toBe(WORK);
    await loginKey(t, "openrouter@alpha", ALPHA);
    expect(await bareKey(t)).toBe(WORK);
  });
});

describe("logout --all", () => {
  test("with an account named is a usage error (exit 2) that removes nothing", async () => {
    t = setup();
    await loginKey(t, "openrouter", PERSONAL);
    await loginKey(t, "openrouter@work", WORK);
    const result = await run(t, () => logout(t.context(), { providerIds: ["openrouter@work"], all: true }));
    expect(result.code).toBe(2);
    expect(result.error?.message).toBe("--all logs out every account of a provider, not of openrouter@work");
    expect(Object.keys(await t.stored()).sort()).toEqual(["openrouter", "openrouter@work"]);
  });

  test("with a provider named removes every account of it, and only of it", async () => {
    t = setup();
    await loginKey(t, "openrouter", PERSONAL);
    await loginKey(t, "openrouter@work", WORK);
    await loginKey(t, "groq", secret("gsk_accounts0123456789abcdef0123456789abcdef0123456789ab"));
    const result = await run(t, () => logout(t.context(), { providerIds: ["openrouter"], all: true }));
    expect(result.code).toBe(0);
    expect(Object.keys(await t.stored())).toEqual(["groq"]);
  });
});
