/**
 * What the Bun runtime inside the compiled binary would take from the environment on its own,
 * without authctl asking: settings people export for some other program must not change what
 * authctl does with a credential.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "smol-toml";
import { startKeyApi, TEST_TLS, type KeyApi } from "../fakes/key-api.ts";
import { REFRESH_FAKE_CLIENT_ID, startRefreshFake } from "../fakes/refresh-fake.ts";
import { createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

const OPENROUTER = secret("sk-or-v1-verbose0123456789abcdef0123456789abcdef0123456789abcdef0123");
const ANTHROPIC = secret("sk-ant-api03-verbose0123456789abcdef0123456789abcdef0123456789abcd");

let api: KeyApi;
const cleanups: Array<() => void | Promise<void>> = [];
beforeAll(async () => {
  await ensureBinary();
  api = startKeyApi();
});
afterAll(() => api.stop());
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function sandbox(config: string): Sandbox {
  const box = createSandbox();
  cleanups.push(() => box.cleanup());
  box.writeConfig(config);
  return box;
}

/** Lines Bun's fetch writes with BUN_CONFIG_VERBOSE_FETCH: `curl …`, `> GET …` style request heads, `< 200 OK`. */
const FETCH_LOG = /^(curl |\s*HTTP\/1\.1 (GET|POST) |< \d{3} )/m;

describe("BUN_CONFIG_VERBOSE_FETCH (Bun's request log) is not honoured", () => {
  for (const value of ["1", "curl"]) {
    test(`=${value}: key checks send the key and print none of the request (Authorization, x-api-key)`, async () => {
      const box = sandbox(
        `[providers.openrouter]\napi_url = "${api.url}/api/v1"\n[providers.anthropic]\napi_url = "${api.url}"\n`,
      );
      for (const [provider, key] of [
        ["openrouter", OPENROUTER],
        ["anthropic", ANTHROPIC],
      ] as const) {
        api.requests.length = 0;
        const result = await box.run(["login", provider, "--with-key"], {
          stdin: key,
          env: { BUN_CONFIG_VERBOSE_FETCH: value },
        });
        expectOk(result);
        // The check happened (so the log would have had something to show)…
        expect(api.requests).toHaveLength(1);
        expect(result.stderr).toContain("accepted the key");
        // …and nothing of it reached the terminal.
        expect(result.stderr).not.toContain(key);
        expect(result.stderr).not.toMatch(FETCH_LOG);
        expect(result.stderr.toLowerCase()).not.toContain("x-api-key");
      }
    }, 30_000);
  }

  test("=curl: a refresh prints neither the refresh token nor the request", async () => {
    const fake = await startRefreshFake();
    cleanups.push(() => fake.stop());
    const box = sandbox(
      `[providers.fake]\nname = "Fake"\nauthorize_url = "${fake.url}/authorize"\ntoken_url = "${fake.tokenUrl}"\n` +
        `client_id = "${REFRESH_FAKE_CLIENT_ID}"\nenv = { FAKE_TOKEN = "access_token" }\n`,
    );
    const { accessToken, refreshToken } = fake.grant(3600);
    secret(accessToken);
    secret(refreshToken);
    const now = Date.now();
    mkdirSync(box.home, { recursive: true, mode: 0o700 });
    writeFileSync(
      join(box.home, "credentials.toml"),
      stringify({
        version: 1,
        fake: {
          method: "oauth",
          type: "oauth",
          access_token: accessToken,
          refresh_token: refreshToken,
          created_at: now - 2 * 3600_000,
          updated_at: now - 3600_000,
          obtained_at: now - 3600_000,
          expires_at: now - 1000,
        },
      }),
      { mode: 0o600 },
    );
    const result = await box.run(["token", "fake"], { env: { BUN_CONFIG_VERBOSE_FETCH: "curl" } });
    expectOk(result);
    expect(fake.refreshes).toBe(1);
    expect(result.stdout.trim()).not.toBe(accessToken);
    expect(result.stderr).not.toContain(refreshToken);
    expect(result.stderr).not.toMatch(FETCH_LOG);
  }, 30_000);
});

describe("NODE_TLS_REJECT_UNAUTHORIZED=0 does not turn certificate checks off", () => {
  test("a key is not sent to a server whose certificate is not trusted; NODE_EXTRA_CA_CERTS still trusts one", async () => {
    const tlsApi = startKeyApi({ tls: true });
    cleanups.push(() => tlsApi.stop());
    const box = sandbox(
      `[providers.openrouter]\napi_url = "${tlsApi.url}/api/v1"\n[providers.mycorp]\nissuer = "${tlsApi.url}"\nclient_id = "authctl"\n`,
    );
    const insecure = { NODE_TLS_REJECT_UNAUTHORIZED: "0" };
    const unverified = await box.run(["login", "openrouter", "--with-key"], {
      stdin: OPENROUTER,
      env: insecure,
    });
    expectOk(unverified);
    expect(unverified.stderr).toContain("TLS certificate is not trusted here");
    expect(unverified.stderr).toContain("NODE_EXTRA_CA_CERTS");
    expect(tlsApi.requests).toEqual([]);
    // An OAuth login stops at discovery, before any code or verifier exists.
    const oauth = await box.run(["login", "mycorp", "--timeout", "5"], {
      env: { ...insecure, BROWSER: "true" },
    });
    expect(oauth.code).toBe(1);
    expect(oauth.stderr).toContain("TLS certificate not trusted");
    expect(tlsApi.requests).toEqual([]);
    // The supported way to trust a company CA is unchanged.
    const trusted = await box.run(["login", "openrouter", "--with-key"], {
      stdin: OPENROUTER,
      env: { ...insecure, NODE_EXTRA_CA_CERTS: TEST_TLS.caPath },
    });
    expectOk(trusted);
    expect(trusted.stderr).toContain("OpenRouter accepted the key");
    expect(tlsApi.requests).toHaveLength(1);
  }, 30_000);
});
