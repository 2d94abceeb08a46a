import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { startOpenAIFake, type OpenAIFake } from "../fakes/openai.ts";
import {
  BINARY,
  createSandbox,
  ensureBinary,
  expectOk,
  readUntil,
  ROOT,
  writeScript,
  type Sandbox,
  writeFollowingBrowser,
} from "../helpers/binary.ts";
import { requirePortFree } from "../helpers/ports.ts";

/** ChatGPT sign-in: the fake, like OpenAI's allow-list, accepts only localhost:1455 and :1457. */
const cleanups: Array<() => void> = [];
beforeAll(() => {
  requirePortFree(1455, "the ChatGPT sign-in tests need OpenAI's registered redirect port");
  return ensureBinary();
});
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function setup(options: Parameters<typeof startOpenAIFake>[0] = {}): {
  fake: OpenAIFake;
  box: Sandbox;
  env: Record<string, string>;
} {
  const fake = startOpenAIFake(options);
  cleanups.push(() => fake.stop());
  const box = createSandbox();
  cleanups.push(() => box.cleanup());
  box.writeConfig(
    `[providers.openai]\nauthorize_url = "${fake.url}/oauth/authorize"\ntoken_url = "${fake.url}/oauth/token"\n` +
      `device_authorization_url = "${fake.url}/api/accounts/deviceauth/usercode"\nrevocation_url = "${fake.url}/oauth/revoke"\n`,
  );
  const browser = writeFollowingBrowser(box.root);
  return { fake, box, env: { BROWSER: browser } };
}
const store = (box: Sandbox) =>
  parse(readFileSync(join(box.home, "credentials.toml"), "utf8")) as Record<string, Record<string, unknown>>;

describe("openai --method chatgpt", () => {
  test("logs in on localhost:1455, keeps the account id claim and the exchanged API key, and exports both kinds", async () => {
    const { fake, box, env } = setup();
    expectOk(await box.run(["login", "openai", "--method", "chatgpt"], { env }));
    const cred = store(box).openai!;
    const extra = cred.extra as Record<string, string>;
    expect(cred).toMatchObject({
      method: "chatgpt",
      type: "oauth",
      access_token: fake.issued.accessTokens[0],
    });
    expect(extra.chatgpt_account_id).toBe("acct_123");
    expect(extra.api_key).toBe(fake.issued.apiKeys[0]!);
    expect(fake.requests.find((r) => r.path === "/oauth/authorize")?.query?.redirect_uri).toBe(
      "http://localhost:1455/auth/callback",
    );
    const out = (await box.run(["env", "openai"])).stdout;
    expect(out).toContain(`export OPENAI_API_KEY='${extra.api_key}'`);
    expect(out).toContain(`export CHATGPT_ACCESS_TOKEN='${cred.access_token}'`);
    expect(out).toContain("export CHATGPT_ACCOUNT_ID='acct_123'");
  });

  test("status names the login and its variables; logout revokes at OpenAI", async () => {
    const { fake, box, env } = setup();
    expectOk(await box.run(["login", "openai", "--method", "chatgpt"], { env }));
    const status = JSON.parse((await box.run(["status", "openai", "--json"])).stdout).providers[0];
    expect(status).toMatchObject({
      method: "chatgpt",
      type: "oauth",
      variables: ["OPENAI_API_KEY", "CHATGPT_ACCESS_TOKEN", "CHATGPT_ACCOUNT_ID"],
    });
    const refreshToken = String(store(box).openai!.refresh_token);
    const logout = await box.run(["logout", "openai"]);
    expectOk(logout);
    expect(logout.stderr).toContain("revoked the OpenAI grant");
    expect(fake.counts.revoke).toBe(1);
    // As codex sends it (auth/revoke.rs): JSON, the refresh token with its hint and the client id.
    const revoke = fake.requests.find((r) => r.path === "/oauth/revoke")!;
    expect(revoke.contentType).toStartWith("application/json");
    expect(revoke.body).toMatchObject({
      token: refreshToken,
      token_type_hint: "refresh_token",
      client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
    });
    expect(store(box).openai).toBeUndefined();
  });

  test("when 1455 is taken, the registered fallback 1457 is used", async () => {
    let squatter: ReturnType<typeof Bun.serve> | undefined;
    try {
      squatter = Bun.serve({ hostname: "127.0.0.1", port: 1455, fetch: () => new Response("busy") });
    } catch {
      // Something else holds 1455 already: the test still checks the fallback.
    }
    try {
      const { fake, box, env } = setup();
      expectOk(await box.run(["login", "openai", "--method", "chatgpt"], { env }));
      expect(fake.requests.find((r) => r.path === "/oauth/authorize")?.query?.redirect_uri).toBe(
        "http://localhost:1457/auth/callback",
      );
    } finally {
      squatter?.stop(true);
    }
  });

  test("a workspace without Codex gets a readable message, not a raw OAuth error", async () => {
    const { box, env } = setup({ authorize: "missing_codex_entitlement" });
    const result = await box.run(["login", "openai", "--method", "chatgpt"], { env });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("Codex is not enabled for this ChatGPT workspace");
  });

  test("without an API key from the exchange, only the ChatGPT token and account are exported", async () => {
    const { box, env } = setup({ apiKeyExchange: "fail" });
    expectOk(await box.run(["login", "openai", "--method", "chatgpt"], { env }));
    const out = (await box.run(["env", "openai"])).stdout;
    expect(out).not.toContain("OPENAI_API_KEY");
    expect(out).toContain("CHATGPT_ACCESS_TOKEN");
  });

  test("OpenAI's own device variant: user code on stderr, approval, code exchange with the server's verifier", async () => {
    const { fake, box } = setup({ deviceInterval: "1" });
    const proc = Bun.spawn([BINARY, "login", "openai", "--method", "chatgpt", "--device"], {
      env: box.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    const { match: code, text } = await readUntil(proc.stderr, /^\s+([A-Z0-9]{4,}-?[A-Z0-9]*)\s*$/m);
    expect(text).toContain(`${fake.url}/codex/device`);
    expect(fake.approve(code!)).toBe(true);
    expect(await proc.exited).toBe(0);
    expect(store(box).openai).toMatchObject({ method: "chatgpt", type: "oauth" });
  });

  test("device login switched off for the account is explained", async () => {
    const { box } = setup({ deviceEnabled: false });
    const result = await box.run(["login", "openai", "--method", "chatgpt", "--device"]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("device-code login is not enabled");
  });

  test("a refresh is JSON {client_id, grant_type, refresh_token}, as Codex sends it, while the code exchange is a form", async () => {
    // openai/codex codex-rs/login/src/auth/manager.rs request_chatgpt_token_refresh (commit 375d41a3).
    const { fake, box, env } = setup({ expiresIn: 0.001 });
    expectOk(await box.run(["login", "openai", "--method", "chatgpt"], { env }));
    const spent = String(store(box).openai!.refresh_token);
    expectOk(await box.run(["token", "openai"]));
    const grants = fake.requests.filter((r) => r.path === "/oauth/token");
    const code = grants.find((r) => r.body.grant_type === "authorization_code")!;
    expect(code.contentType).toStartWith("application/x-www-form-urlencoded");
    const refresh = grants.find((r) => r.body.grant_type === "refresh_token")!;
    expect(refresh.contentType).toStartWith("application/json");
    expect(refresh.body).toEqual({
      client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
      grant_type: "refresh_token",
      refresh_token: spent,
    });
  });

  test("refresh_token_reused (another client used the token) marks the login for renewal and keeps it", async () => {
    // A token that expires a millisecond after it is issued: expired on the real clock by the
    // time `token` runs, without a sleep (this provider's one real-expiry case).
    const { fake, box, env } = setup({ expiresIn: 0.001 });
    expectOk(await box.run(["login", "openai", "--method", "chatgpt"], { env }));
    const before = store(box).openai!;
    expect(Number(before.expires_at)).toBeLessThan(Date.now());
    const stolen = await fetch(`${fake.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: String(before.refresh_token),
        client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
      }),
    });
    expect(stolen.status).toBe(200);
    const result = await box.run(["token", "openai"]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("refresh_token_reused");
    expect(store(box).openai).toMatchObject({ needs_login: true, refresh_token: before.refresh_token });
  });
});
