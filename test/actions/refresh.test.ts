import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { token } from "../../src/actions/token.ts";
import { REFRESH_FAKE_CLIENT_ID, type RefreshFake, startRefreshFake } from "../fakes/refresh-fake.ts";
import { createTestDeps, type TestDeps } from "../helpers/deps.ts";
import { HOUR, oauthCredential, run, secret } from "./_table.ts";

/**
 * When `token` refreshes (src/store/expiry.ts: 5 minutes before expiry, or within half the
 * lifetime when that is shorter, or sooner than --min-ttl), on the fake clock against the refresh
 * fake in this process. The binary tests waited for real expiry (Bun.sleep) to see some of these;
 * here the expiry is placed on the clock and the clock is moved.
 */
const MIN = 60_000;
let fake: RefreshFake;
let t: TestDeps;
beforeAll(async () => {
  fake = await startRefreshFake();
});
afterAll(() => fake.stop());
afterEach(() => t.cleanup());

async function loggedIn(expiresIn: number, lifetime = HOUR): Promise<string> {
  t = createTestDeps();
  t.writeConfig(
    `[providers.fake]\nname = "Fake"\nauthorize_url = "${fake.url}/authorize"\ntoken_url = "${fake.tokenUrl}"\n` +
      `client_id = "${REFRESH_FAKE_CLIENT_ID}"\nenv = { FAKE_TOKEN = "access_token" }\n`,
  );
  const { accessToken, refreshToken } = fake.grant(lifetime / 1000);
  secret(accessToken);
  secret(refreshToken);
  await t.seed({
    fake: oauthCredential(t.clock.now(), { access: accessToken, refresh: refreshToken, expiresIn, lifetime }),
  });
  return accessToken;
}

async function printToken(minTtlMs?: number) {
  const before = fake.refreshes;
  const out = t.stdout().length;
  const result = await run(t, () => token(t.context(), { providerId: "fake", minTtlMs }));
  expect(result.error).toBeUndefined();
  return { printed: t.stdout().slice(out).trim(), refreshed: fake.refreshes - before };
}

describe("the refresh margin", () => {
  const CASES: Array<{
    name: string;
    expiresIn: number;
    lifetime?: number;
    minTtl?: number;
    refreshed: boolean;
  }> = [
    {
      name: "a 1-hour token with 5 min 1 s left is handed out as it is",
      expiresIn: 5 * MIN + 1000,
      refreshed: false,
    },
    {
      name: "a 1-hour token with 4 min 59 s left is refreshed first",
      expiresIn: 5 * MIN - 1000,
      refreshed: true,
    },
    { name: "an expired token is refreshed first", expiresIn: -MIN, refreshed: true },
    {
      name: "a 60-second token with 31 s left is not refreshed (half its lifetime, not 5 min)",
      expiresIn: 31_000,
      lifetime: MIN,
      refreshed: false,
    },
    {
      name: "a 60-second token with 29 s left is refreshed",
      expiresIn: 29_000,
      lifetime: MIN,
      refreshed: true,
    },
    {
      name: "--min-ttl 10m on a token with 9 min left refreshes it",
      expiresIn: 9 * MIN,
      minTtl: 10 * MIN,
      refreshed: true,
    },
    {
      name: "--min-ttl 10m on a token with 11 min left does not",
      expiresIn: 11 * MIN,
      minTtl: 10 * MIN,
      refreshed: false,
    },
  ];
  for (const c of CASES) {
    test(c.name, async () => {
      const old = await loggedIn(c.expiresIn, c.lifetime);
      const { printed, refreshed } = await printToken(c.minTtl);
      expect(refreshed).toBe(c.refreshed ? 1 : 0);
      if (c.refreshed) {
        expect(printed).not.toBe(old);
        const stored = (await t.stored()).fake!;
        expect(stored.access_token).toBe(printed);
        expect(stored.obtained_at).toBe(t.clock.now());
      } else expect(printed).toBe(old);
    });
  }

  test("as the clock moves: no refresh at 54 min 59 s of a 1-hour token, one at 55 min 1 s, then none", async () => {
    const old = await loggedIn(HOUR);
    await t.clock.advance(55 * MIN - 1000);
    expect(await printToken()).toEqual({ printed: old, refreshed: 0 });
    await t.clock.advance(2000);
    const next = await printToken();
    expect(next.refreshed).toBe(1);
    await t.clock.advance(MIN);
    expect(await printToken()).toEqual({ printed: next.printed, refreshed: 0 });
  });
});
