import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import {
  REFRESH_FAKE_CLIENT_ID,
  startRefreshFake,
  type RefreshAnswer,
  type RefreshFake,
} from "../fakes/refresh-fake.ts";
import { startUpstream, type Upstream } from "../fakes/upstream.ts";
import { startOidcServer, TEST_CLIENT_ID } from "../fakes/oidc-server.ts";
import {
  createSandbox,
  ensureBinary,
  expectOk,
  ROOT,
  secret,
  writeScript,
  type Sandbox,
  writeFollowingBrowser,
} from "../helpers/binary.ts";

/**
 * The refresh rules (src/actions/refresh.ts, expiry.ts, the proxy's renew) through the compiled
 * binary. Every test starts from a store written here, with an expiry chosen relative to now, so
 * no test waits for a token to expire: the margins are exercised by where the expiry lies.
 */
const MIN = 60_000;
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
beforeAll(() => ensureBinary());

interface Setup {
  fake: RefreshFake;
  box: Sandbox;
  up: Upstream;
  storePath: string;
}

async function setup(): Promise<Setup> {
  const fake = await startRefreshFake();
  cleanups.push(() => fake.stop());
  // The API accepts exactly the access tokens the authorization server considers live.
  const up = startUpstream({ authorize: (header) => fake.isLive(header?.replace(/^Bearer /, "") ?? "") });
  cleanups.push(() => up.stop());
  const box = createSandbox();
  cleanups.push(() => box.cleanup());
  box.writeConfig(
    `[providers.fake]\nname = "Fake"\nauthorize_url = "${fake.url}/authorize"\ntoken_url = "${fake.tokenUrl}"\n` +
      `client_id = "${REFRESH_FAKE_CLIENT_ID}"\napi_url = "${up.url}/api/v1"\nenv = { FAKE_TOKEN = "access_token" }\n`,
  );
  return { fake, box, up, storePath: join(box.home, "credentials.toml") };
}

/**
 * A logged-in store whose access token expires `expiresInMs` from now after a lifetime of
 * `lifetimeMs` (undefined: the server never said how long it lives).
 */
function login(s: Setup, options: { expiresInMs?: number; lifetimeMs?: number; ttlSeconds?: number } = {}) {
  const { accessToken, refreshToken } = s.fake.grant(options.ttlSeconds ?? 3600);
  secret(accessToken);
  secret(refreshToken);
  const now = Date.now();
  const credential: Record<string, unknown> = {
    method: "oauth",
    type: "oauth",
    access_token: accessToken,
    refresh_token: refreshToken,
    created_at: now - 2 * 3600_000,
    updated_at: now - 3600_000,
  };
  if (options.expiresInMs !== undefined) {
    credential.expires_at = now + options.expiresInMs;
    credential.obtained_at = now + options.expiresInMs - (options.lifetimeMs ?? 3600_000);
  } else {
    credential.obtained_at = now - 3600_000;
  }
  mkdirSync(s.box.home, { recursive: true, mode: 0o700 });
  writeFileSync(s.storePath, stringify({ version: 1, fake: credential }), { mode: 0o600 });
  chmodSync(s.storePath, 0o600);
  return { accessToken, refreshToken };
}

const stored = (s: Setup) =>
  (parse(readFileSync(s.storePath, "utf8")) as Record<string, Record<string, unknown>>).fake!;

/** A child that calls the API `CALLS` times through the proxy and prints the statuses as JSON. */
const CHILD = `
const statuses = [];
for (let i = 0; i < Number(process.env.CALLS); i++) {
  const res = await fetch(process.env.FAKE_BASE_URL + "/me", { method: "POST", headers: { authorization: "Bearer " + process.env.FAKE_TOKEN }, body: "ping" });
  statuses.push(res.status);
  await res.text();
}
console.log(JSON.stringify(statuses));
`;

async function proxyCalls(s: Setup, calls: number) {
  const script = writeScript(s.box.root, "child.mjs", CHILD);
  const result = await s.box.run(["exec", "--proxy", "-p", "fake", "--", process.execPath, script], {
    env: { CALLS: String(calls) },
    timeoutMs: 40_000,
  });
  expectOk(result);
  return JSON.parse(result.stdout) as number[];
}

const bearers = (up: Upstream) => up.requests.map((r) => r.headers.authorization?.replace(/^Bearer /, ""));

describe("when a token is refreshed", () => {
  // [name, expires in, lifetime, refreshed?]: 5 minutes, or half the lifetime when that is shorter.
  const margins: Array<[string, number, number, boolean]> = [
    ["a 1-hour token with 4 minutes left is refreshed (the 5-minute margin)", 4 * MIN, 60 * MIN, true],
    ["a 1-hour token with 6 minutes left is handed out as it is", 6 * MIN, 60 * MIN, false],
    ["a 2-minute token with 50 s left is refreshed (half its lifetime)", 50_000, 2 * MIN, true],
    ["a 2-minute token with 70 s left is handed out as it is", 70_000, 2 * MIN, false],
  ];
  for (const [name, expiresInMs, lifetimeMs, refreshed] of margins) {
    test(name, async () => {
      const s = await setup();
      const { accessToken } = login(s, { expiresInMs, lifetimeMs });
      const result = await s.box.run(["token", "fake"]);
      expectOk(result);
      expect(s.fake.refreshes).toBe(refreshed ? 1 : 0);
      expect(result.stdout.trim() === accessToken).toBe(!refreshed);
      expect(result.stdout.trim()).toBe(String(stored(s).access_token));
    });
  }

  test("a network failure after the request was sent is not retried: one request reaches the server", async () => {
    const s = await setup();
    login(s, { expiresInMs: -1000 });
    s.fake.script.push("reset");
    const result = await s.box.run(["token", "fake"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(s.fake.refreshes).toBe(1);
  });
});

describe("a token whose lifetime the server never told", () => {
  test("is handed out as it is, and `--min-ttl` refreshes it", async () => {
    const s = await setup();
    const { accessToken } = login(s);
    const plain = await s.box.run(["token", "fake"]);
    expectOk(plain);
    expect(plain.stdout.trim()).toBe(accessToken);
    expect(s.fake.refreshes).toBe(0);

    s.fake.script.push({ expiresIn: null });
    const withTtl = await s.box.run(["token", "fake", "--min-ttl", "1m"]);
    expectOk(withTtl);
    expect(s.fake.refreshes).toBe(1);
    expect(withTtl.stdout.trim()).not.toBe(accessToken);
    expect(s.fake.isLive(withTtl.stdout.trim())).toBe(true);
    expect(stored(s).access_token).toBe(withTtl.stdout.trim());
  });

  test("a refresh answer without expires_in keeps an expiring token expiring: the old lifetime is assumed", async () => {
    const s = await setup();
    login(s, { expiresInMs: -1000, lifetimeMs: 60 * MIN });
    s.fake.script.push({ expiresIn: null });
    const before = Date.now();
    expectOk(await s.box.run(["token", "fake"]));
    expect(s.fake.refreshes).toBe(1);
    const expiresAt = Number(stored(s).expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 60 * MIN);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 60 * MIN);
  });

  test("the proxy refreshes it when the provider answers 401, and replays the request", async () => {
    const s = await setup();
    const { accessToken } = login(s);
    s.up.rejectNext = 1;
    expect(await proxyCalls(s, 1)).toEqual([200]);
    expect(s.fake.refreshes).toBe(1);
    expect(bearers(s.up)).toEqual([accessToken, s.fake.issued.accessTokens.at(-1)]);
  });
});

describe("exec --proxy refreshes", () => {
  test("before expiry: a token inside the proxy's margin is replaced before the request goes upstream", async () => {
    const s = await setup();
    const { accessToken } = login(s, { expiresInMs: 30_000, lifetimeMs: 60 * MIN });
    // exec's own refresh at start meets a 503 and hands the proxy the still-valid token; the
    // proxy must then refresh it before sending it, not wait for the provider's 401.
    s.fake.script.push("unavailable");
    expect(await proxyCalls(s, 1)).toEqual([200]);
    expect(s.fake.refreshes).toBe(2);
    const fresh = s.fake.issued.accessTokens.at(-1);
    expect(fresh).not.toBe(accessToken);
    expect(bearers(s.up)).toEqual([fresh]);
  });

  test("during an outage the proxy keeps sending the still-valid token, warns once, and does not retry on every request", async () => {
    const s = await setup();
    const { accessToken } = login(s, { expiresInMs: 30_000, lifetimeMs: 60 * MIN });
    s.fake.script.push("unavailable", "unavailable", "unavailable", "unavailable");
    const script = writeScript(s.box.root, "child.mjs", CHILD);
    const result = await s.box.run(["exec", "--proxy", "-p", "fake", "--", process.execPath, script], {
      env: { CALLS: "3" },
      timeoutMs: 40_000,
    });
    expectOk(result);
    expect(JSON.parse(result.stdout)).toEqual([200, 200, 200]);
    expect(bearers(s.up)).toEqual([accessToken, accessToken, accessToken]);
    // One attempt when exec starts, one by the proxy; then it waits before trying again.
    expect(s.fake.refreshes).toBe(2);
    expect(result.stderr.match(/^! proxy: could not refresh the Fake login/gm)).toHaveLength(1);
  });

  test("after a 401, even when the new token lives less than the rejected one had left; the new token is kept", async () => {
    const s = await setup();
    const { accessToken } = login(s, { expiresInMs: 50 * MIN, lifetimeMs: 60 * MIN });
    s.up.rejectNext = 1;
    s.fake.script.push({ expiresIn: 600 });
    expect(await proxyCalls(s, 2)).toEqual([200, 200]);
    expect(s.fake.refreshes).toBe(1);
    const fresh = s.fake.issued.accessTokens.at(-1);
    expect(bearers(s.up)).toEqual([accessToken, fresh, fresh]);
    expect(stored(s).access_token).toBe(fresh);
  });
});

describe("exec --proxy when a 401 brings no newer token", () => {
  for (const answer of ["unavailable", "invalid_grant"] as const) {
    test(`the refresh answered ${answer}: the child gets the provider's 401 as it was sent`, async () => {
      const s = await setup();
      const { accessToken } = login(s);
      s.up.rejectNext = 1;
      s.fake.script.push(answer);
      const script = writeScript(
        s.box.root,
        "child.mjs",
        `const res = await fetch(process.env.FAKE_BASE_URL + "/me", { method: "POST", headers: { authorization: "Bearer " + process.env.FAKE_TOKEN }, body: "ping" });\n` +
          `console.log(JSON.stringify({ status: res.status, type: res.headers.get("content-type"), body: await res.text() }));\n`,
      );
      const result = await s.box.run(["exec", "--proxy", "-p", "fake", "--", process.execPath, script], {
        timeoutMs: 40_000,
      });
      expect(result.stderr).not.toContain("Malformed_HTTP_Response");
      expectOk(result);
      expect(JSON.parse(result.stdout)).toEqual({
        status: 401,
        type: "application/json;charset=utf-8",
        body: JSON.stringify({ error: { message: "invalid credential" } }),
      });
      expect(s.fake.refreshes).toBe(1);
      expect(bearers(s.up)).toEqual([accessToken]);
    });
  }
});

describe("a refresh that fails for a reason that is not the grant's", () => {
  test("a 503 with a token that is still valid: handed out with one warning, the store untouched", async () => {
    const s = await setup();
    const { accessToken } = login(s, { expiresInMs: 25_000 });
    const before = readFileSync(s.storePath);
    s.fake.script.push("unavailable");
    const result = await s.box.run(["token", "fake", "--min-ttl", "1s"]);
    expectOk(result);
    expect(result.stdout.trim()).toBe(accessToken);
    expect(s.fake.refreshes).toBe(1);
    const warnings = result.stderr.trim().split("\n");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^! could not refresh the Fake login: .*temporarily_unavailable.*; using the current token, valid for another 2\d s$/,
    );
    expect(readFileSync(s.storePath).equals(before)).toBe(true);
  });

  test("oidc-provider stopped, the token valid for another 25 s: `token --min-ttl 1s` and `exec` still work", async () => {
    const server = await startOidcServer();
    let stopped = false;
    cleanups.push(() => (stopped ? undefined : server.stop()));
    const box = createSandbox();
    cleanups.push(() => box.cleanup());
    box.writeConfig(
      `[providers.mycorp]\nname = "MyCorp"\nissuer = "${server.issuer}"\nclient_id = "${TEST_CLIENT_ID}"\nscopes = ["openid", "offline_access"]\n`,
    );
    const browser = writeFollowingBrowser(box.root);
    expectOk(await box.run(["login", "mycorp"], { env: { BROWSER: browser } }));
    const path = join(box.home, "credentials.toml");
    const doc = parse(readFileSync(path, "utf8")) as Record<string, Record<string, unknown>>;
    const accessToken = String(doc.mycorp!.access_token);
    // Inside the 5-minute refresh window of a 1-hour token.
    doc.mycorp!.expires_at = Date.now() + 25_000;
    doc.mycorp!.obtained_at = Date.now() + 25_000 - 3600_000;
    writeFileSync(path, stringify(doc), { mode: 0o600 });
    await server.stop();
    stopped = true;

    const token = await box.run(["token", "mycorp", "--min-ttl", "1s"]);
    expectOk(token);
    expect(token.stdout.trim()).toBe(accessToken);
    expect(token.stderr).toMatch(
      /^! could not refresh the MyCorp login: could not reach the token endpoint at 127\.0\.0\.1:\d+ \(connection refused\); using the current token, valid for another 2\d s\n$/,
    );
    const exec = await box.run(["exec", "-p", "mycorp", "--", "sh", "-c", 'printf %s "$MYCORP_TOKEN"']);
    expectOk(exec);
    expect(exec.stdout).toBe(accessToken);
    expect(exec.stderr.trim().split("\n")).toHaveLength(1);
    const tooLong = await box.run(["token", "mycorp", "--min-ttl", "1m"]);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stdout).toBe("");
  });

  test("the token does not satisfy --min-ttl, or has expired: an error (exit 1), nothing handed out", async () => {
    const s = await setup();
    login(s, { expiresInMs: 25_000 });
    s.fake.script.push("unavailable", "unavailable");
    const tooShort = await s.box.run(["token", "fake", "--min-ttl", "1m"]);
    expect(tooShort.code).toBe(1);
    expect(tooShort.stdout).toBe("");
    expect(tooShort.stderr).toContain("temporarily_unavailable");

    login(s, { expiresInMs: -1000 });
    const expired = await s.box.run(["env", "fake"]);
    expect(expired.code).toBe(1);
    expect(expired.stdout).toBe("");
    expect(s.fake.refreshes).toBe(2);
  });

  test("a dead grant is an error even while the token is valid: exit 4, the login marked", async () => {
    const s = await setup();
    login(s, { expiresInMs: 25_000 });
    s.fake.script.push("invalid_grant");
    const result = await s.box.run(["token", "fake"]);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("invalid_grant");
    expect(result.stderr).toContain("authctl login fake");
    expect(stored(s).needs_login).toBe(true);
  });

  test("an answer lost after the request arrived is reported as such: the server may have refreshed", async () => {
    const s = await setup();
    login(s, { expiresInMs: -1000 });
    const before = readFileSync(s.storePath);
    s.fake.script.push("reset");
    const result = await s.box.run(["token", "fake"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("the server may have refreshed without authctl receiving the answer");
    expect(result.stderr).toContain("authctl login fake");
    expect(s.fake.refreshes).toBe(1);
    expect(readFileSync(s.storePath).equals(before)).toBe(true);
  });
});

describe("a 200 that rotates the refresh token but is otherwise refused", () => {
  const bad: Array<[string, RefreshAnswer, string]> = [
    ["token_type DPoP", { tokenType: "DPoP" }, 'type "DPoP"'],
    ["expires_in 1e13", { expiresIn: 1e13 }, "expires_in"],
  ];
  for (const [name, answer, message] of bad) {
    test(`${name}: the new refresh token is stored first, so the next refresh does not replay the spent one`, async () => {
      const s = await setup();
      const { accessToken, refreshToken } = login(s, { expiresInMs: -1000 });
      s.fake.script.push(answer);
      const first = await s.box.run(["token", "fake"]);
      // An answer that breaks the protocol: an error (1), not a refused login (4).
      expect(first.code).toBe(1);
      expect(first.stdout).toBe("");
      expect(first.stderr).toContain(message);
      expect(first.stderr).toContain("the new refresh token was kept");
      const rotated = s.fake.issued.refreshTokens.at(-1)!;
      expect(rotated).not.toBe(refreshToken);
      expect(stored(s)).toMatchObject({ refresh_token: rotated, access_token: accessToken });

      const second = await s.box.run(["token", "fake"]);
      expectOk(second);
      expect(s.fake.presented).toEqual([refreshToken, rotated]);
      expect(s.fake.isLive(second.stdout.trim())).toBe(true);
    });
  }
});

/** `unshare -m` and a read-only bind mount (root in a mount namespace of its own) are available. */
const canMountReadOnly = (() => {
  const probe = Bun.spawnSync([
    "unshare",
    "-m",
    "sh",
    "-c",
    'd=$(mktemp -d) && mount --bind -o ro "$d" "$d" && ! touch "$d/x" 2>/dev/null; s=$?; rmdir "$d"; exit $s',
  ]);
  return probe.exitCode === 0;
})();
/** Runs the binary with AUTHCTL_HOME mounted read-only (as under systemd's ProtectHome=read-only), in its own mount namespace. */
const READ_ONLY_HOME = [
  "unshare",
  "-m",
  "sh",
  "-c",
  'mount --bind -o ro "$AUTHCTL_HOME" "$AUTHCTL_HOME" && exec "$@"',
  "sh",
];

describe.skipIf(!canMountReadOnly)("a read-only store (a read-only bind mount of AUTHCTL_HOME)", () => {
  test("a token inside the refresh window is handed out with a warning naming the store; nothing is requested", async () => {
    const s = await setup();
    const { accessToken } = login(s, { expiresInMs: 4 * MIN });
    const result = await s.box.run(["token", "fake"], { prefix: READ_ONLY_HOME });
    expectOk(result);
    expect(result.stdout.trim()).toBe(accessToken);
    expect(result.stderr.trim().split("\n")).toEqual([
      `! the credential store ${s.storePath} is read-only (EROFS): the Fake token was not refreshed; using the current token, valid for another 3 min`,
    ]);
    // No rotation was asked for that could not have been saved.
    expect(s.fake.refreshes).toBe(0);
    const exec = await s.box.run(["exec", "--", "sh", "-c", 'printf %s "$FAKE_TOKEN"'], {
      prefix: READ_ONLY_HOME,
    });
    expectOk(exec);
    expect(exec.stdout).toBe(accessToken);
  });

  test("an expired token is an error naming the read-only store, and nothing is requested", async () => {
    const s = await setup();
    login(s, { expiresInMs: -1000 });
    const result = await s.box.run(["env", "fake"], { prefix: READ_ONLY_HOME });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`the credential store ${s.storePath} is read-only (EROFS)`);
    expect(result.stderr).toContain("AUTHCTL_HOME");
    expect(s.fake.refreshes).toBe(0);
  });
});

describe("copies of a store and rotating refresh tokens", () => {
  test("invalid_grant after a rotation says another copy of the store probably refreshed first", async () => {
    const s = await setup();
    login(s, { expiresInMs: -1000 });
    expectOk(await s.box.run(["token", "fake"]));
    expect(stored(s).rotated_at).toBeDefined();
    // A backup restored elsewhere: the same store in a second home.
    const copy = createSandbox();
    cleanups.push(() => copy.cleanup());
    copy.writeConfig(readFileSync(join(s.box.home, "config.toml"), "utf8"));
    writeFileSync(join(copy.home, "credentials.toml"), readFileSync(s.storePath), { mode: 0o600 });
    // The original refreshes again (its token expired), which spends the token the copy holds.
    const expire = (path: string) => {
      const doc = parse(readFileSync(path, "utf8")) as Record<string, Record<string, unknown>>;
      doc.fake!.expires_at = Date.now() - 1000;
      writeFileSync(path, stringify(doc), { mode: 0o600 });
    };
    expire(s.storePath);
    expectOk(await s.box.run(["token", "fake"]));
    expire(join(copy.home, "credentials.toml"));
    const result = await copy.run(["token", "fake"]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("invalid_grant");
    expect(result.stderr).toContain(
      "another copy of this store (a restored backup, a synced home directory) probably refreshed first",
    );
    expect(result.stderr).toContain("authctl login fake");
  });

  test("invalid_grant for a token that was never rotated does not blame a copy", async () => {
    const s = await setup();
    login(s, { expiresInMs: -1000 });
    s.fake.script.push("invalid_grant");
    const result = await s.box.run(["token", "fake"]);
    expect(result.code).toBe(4);
    expect(result.stderr).not.toContain("another copy");
  });
});

describe("env and exec without named providers", () => {
  const KEY = secret("sk-or-v1-refresh0123456789abcdef0123456789abcdef0123456789abcdef0123");

  async function twoLogins() {
    const s = await setup();
    login(s, { expiresInMs: -1000 });
    expectOk(await s.box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    s.fake.script.push("unavailable", "unavailable", "unavailable");
    return s;
  }

  test("hand out every credential that works and warn once about the one that does not", async () => {
    const s = await twoLogins();
    const env = await s.box.run(["env"]);
    expectOk(env);
    expect(env.stdout).toBe(`export OPENROUTER_API_KEY='${KEY}'\n`);
    const warnings = env.stderr.trim().split("\n");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toStartWith("! skipped fake: could not refresh the Fake login: ");
    expect(warnings[0]).toContain("temporarily_unavailable");

    const exec = await s.box.run([
      "exec",
      "--",
      "sh",
      "-c",
      'printf "%s|%s" "$OPENROUTER_API_KEY" "${FAKE_TOKEN-unset}"',
    ]);
    expectOk(exec);
    expect(exec.stdout).toBe(`${KEY}|unset`);
    expect(exec.stderr).toContain("skipped fake");
  });

  test("named providers stay all-or-nothing: nothing printed, non-zero exit", async () => {
    const s = await twoLogins();
    const env = await s.box.run(["env", "openrouter", "fake"]);
    expect(env.code).toBe(1);
    expect(env.stdout).toBe("");
    expect(env.stderr).toContain("could not refresh the Fake login");
    const exec = await s.box.run(["exec", "-p", "openrouter", "-p", "fake", "--", "sh", "-c", "echo ran"]);
    expect(exec.code).toBe(1);
    expect(exec.stdout).toBe("");
  });
});
