import { afterEach, expect, test } from "bun:test";
import { env } from "../../src/actions/env.ts";
import { exec } from "../../src/actions/exec.ts";
import { token } from "../../src/actions/token.ts";
import { openContextQuickly } from "../../src/compose.ts";
import { wantsUnicode } from "../../src/io/ui.ts";
import { createTestDeps, type TestDeps } from "../helpers/deps.ts";
import { HOUR, keyCredential, oauthCredential, run, secret } from "./_table.ts";

// `env`, `token` and `exec` run no regular expression in the usual case: a compiled binary that
// runs none never touches the regex engine, about 1 MiB of its peak memory (issue 18,
// scripts/bench.ts; the checks are src/names.ts). Every way a RegExp runs goes through one of
// these methods of its prototype; they are counted for the length of each command.
const METHODS = ["exec", "test", Symbol.replace, Symbol.split, Symbol.match, Symbol.matchAll, Symbol.search];
async function regexesDuring(run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const prototype = RegExp.prototype as unknown as Record<string | symbol, (...args: unknown[]) => unknown>;
  const originals = METHODS.map((name) => [name, prototype[name]!] as const);
  for (const [name, original] of originals) {
    prototype[name] = function (this: RegExp, ...args: unknown[]) {
      seen.push(`/${this.source}/ ${String(name)}`);
      return original.apply(this, args);
    };
  }
  try {
    await run();
  } finally {
    for (const [name, original] of originals) prototype[name] = original;
  }
  return seen;
}

const KEY = secret("sk-or-v1-regex0123456789abcdef0123456789abcdef0123456789abcdef01234");
const ACCESS = secret("regex-access-token-0123456789abcdef");

let t: TestDeps;
afterEach(() => t.cleanup());

for (const store of ["file", "encrypted"]) {
  test(`env, token and exec on the ${store} store (a key, a fresh OAuth token, a custom provider) run no regular expression`, async () => {
    t = createTestDeps({ env: { AUTHCTL_STORE: store } });
    t.writeConfig('[providers.mycorp]\nissuer = "https://sso.example.com"\nclient_id = "authctl"\n');
    const now = t.clock.now();
    await t.seed({
      openrouter: keyCredential(KEY, now),
      mycorp: oauthCredential(now, { access: ACCESS, refresh: "r", expiresIn: 4 * HOUR }),
    });
    let spawned: Record<string, string> | undefined;
    t.deps.spawnInherit = async (_file, _argv, childEnv) => {
      spawned = childEnv;
      return 0;
    };
    const seen = await regexesDuring(async () => {
      expect(wantsUnicode({ LANG: "en_US.UTF-8" }, "linux")).toBe(true);
      const context = await openContextQuickly(t.deps, { vaults: { keyring: t.keyring } });
      expect(
        (await run(t, () => env(context, { providerIds: ["openrouter", "mycorp"], format: "sh" }))).code,
      ).toBe(0);
      expect((await run(t, () => token(context, { providerId: "openrouter" }))).code).toBe(0);
      const fresh = await openContextQuickly(t.deps, { vaults: { keyring: t.keyring } });
      expect(
        (await run(t, () => exec(fresh, { providerIds: ["openrouter"], command: ["/bin/true"] }))).code,
      ).toBe(0);
    });
    expect(t.stdout()).toBe(`export OPENROUTER_API_KEY='${KEY}'\nexport MYCORP_TOKEN='${ACCESS}'\n${KEY}\n`);
    expect(spawned?.OPENROUTER_API_KEY).toBe(KEY);
    expect(spawned?.AUTHCTL_STORE).toBe(store);
    expect(seen).toEqual([]);
  });
}
