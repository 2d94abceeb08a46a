import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { startAnthropicFake, type AnthropicFake } from "../fakes/anthropic.ts";
import {
  createSandbox,
  ensureBinary,
  expectOk,
  ROOT,
  writeScript,
  type Sandbox,
  writeFollowingBrowser,
} from "../helpers/binary.ts";

const cleanups: Array<() => void> = [];
beforeAll(() => ensureBinary());
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function setup(options: Parameters<typeof startAnthropicFake>[0] = {}): {
  fake: AnthropicFake;
  box: Sandbox;
  env: Record<string, string>;
} {
  const fake = startAnthropicFake(options);
  cleanups.push(() => fake.stop());
  const box = createSandbox();
  cleanups.push(() => box.cleanup());
  // The real redirect port is 53692; tests take any free one so parallel runs never collide.
  box.writeConfig(
    `[providers.anthropic]\nauthorize_url = "${fake.url}/oauth/authorize"\ntoken_url = "${fake.url}/v1/oauth/token"\napi_url = "${fake.url}"\nredirect_port = 0\n`,
  );
  const browser = writeFollowingBrowser(box.root);
  return { fake, box, env: { BROWSER: browser } };
}
const store = (box: Sandbox) =>
  parse(readFileSync(join(box.home, "credentials.toml"), "utf8")) as Record<string, Record<string, unknown>>;

describe("anthropic --method console", () => {
  test("PKCE login, JSON exchange with state, then create_api_key: a permanent key stored and exported", async () => {
    const { fake, box, env } = setup();
    const login = await box.run(["login", "anthropic", "--method", "console"], { env });
    expectOk(login);
    const key = fake.issued.apiKeys[0]!;
    expect(login.stderr).not.toContain(key);
    expect(store(box).anthropic).toMatchObject({ method: "console", type: "api_key", key });
    expect((await box.run(["env", "anthropic"])).stdout).toBe(`export ANTHROPIC_API_KEY='${key}'\n`);
    const models = await fetch(`${fake.url}/v1/models`, {
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01" },
    });
    expect(models.status).toBe(200);
    expect(fake.counts.createApiKey).toBe(1);
  });

  test("a denied login stores nothing and exits 4", async () => {
    const { box, env } = setup({ authorize: "deny" });
    const result = await box.run(["login", "anthropic", "--method", "console"], { env });
    expect(result.code).toBe(4);
    expect(() => store(box)).toThrow();
  });
});

describe("anthropic --method claude", () => {
  test("stores rotating subscription tokens, exported for Claude Code only, with the policy notice", async () => {
    const { fake, box, env } = setup();
    const login = await box.run(["login", "anthropic", "--method", "claude"], { env });
    expectOk(login);
    expect(login.stderr).toContain("only inside Claude Code");
    const access = fake.issued.accessTokens[0]!;
    expect(store(box).anthropic).toMatchObject({ method: "claude", type: "oauth", access_token: access });
    expect((await box.run(["env", "anthropic"])).stdout).toBe(
      `export CLAUDE_CODE_OAUTH_TOKEN='${access}'\nexport ANTHROPIC_OAUTH_TOKEN='${access}'\n`,
    );
    const status = JSON.parse((await box.run(["status", "anthropic", "--json"])).stdout).providers[0];
    expect(status).toMatchObject({
      method: "claude",
      type: "oauth",
      variables: ["CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_OAUTH_TOKEN"],
    });
    // An ambient API key would make Claude Code bill the API instead of the subscription.
    const child = await box.run(
      ["exec", "-p", "anthropic", "--", "sh", "-c", 'printf "%s" "${ANTHROPIC_API_KEY-unset}"'],
      {
        env: { ANTHROPIC_API_KEY: "sk-ant-api03-ambient-0123456789abcdef" },
      },
    );
    expect(child.stdout).toBe("unset");
  });

  test("an expired access token is refreshed with the JSON grant and the rotated refresh token stored", async () => {
    // A token that expires a millisecond after it is issued: expired on the real clock by the
    // time `token` runs, without a sleep (this provider's one real-expiry case). The refresh
    // brings a token of the default 8 hours.
    const { fake, box, env } = setup({ expiresIn: 0.001 });
    expectOk(await box.run(["login", "anthropic", "--method", "claude"], { env }));
    const before = store(box).anthropic!;
    expect(Number(before.expires_at)).toBeLessThan(Date.now());
    fake.options.expiresIn = undefined;
    const token = await box.run(["token", "anthropic"]);
    expectOk(token);
    const after = store(box).anthropic!;
    expect(token.stdout.trim()).toBe(String(after.access_token));
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(fake.counts.refresh).toBe(1);
    expect(
      fake.requests
        .filter((r) => r.path === "/v1/oauth/token")
        .every((r) => r.contentType?.includes("application/json")),
    ).toBe(true);
  });
});
