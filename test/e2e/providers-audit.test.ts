import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createSandbox, ensureBinary, expectOk, type Sandbox } from "../helpers/binary.ts";

/**
 * `authctl providers --json` is the audit view (issue 16): per provider and method, what authctl
 * will talk to (endpoints, client id, scopes, redirect), what it hands out, which method is the
 * default, the policy status and the source of every value — with config.toml applied.
 */
let box: Sandbox;
beforeAll(() => ensureBinary());
beforeEach(() => {
  box = createSandbox();
});
afterEach(() => box.cleanup());

type Json = Record<string, any>;
async function audit(): Promise<Json[]> {
  const result = await box.run(["providers", "--json"]);
  expectOk(result);
  return JSON.parse(result.stdout) as Json[];
}
const find = (list: Json[], id: string) => list.find((p) => p.id === id)!;
const method = (list: Json[], id: string, m: string) => find(list, id).methods.find((x: Json) => x.id === m)!;

describe("providers --json", () => {
  test("every built-in method names its endpoints, client id, scopes, redirect, exports, default flag, policy and source", async () => {
    const list = await audit();
    for (const provider of list) {
      expect(provider.default_method).toBe(provider.methods[0].id);
      for (const m of provider.methods) {
        expect(typeof m.policy, `${provider.id} ${m.id}`).toBe("string");
        expect(typeof m.source, `${provider.id} ${m.id}`).toBe("string");
        expect(m.exports.length, `${provider.id} ${m.id}`).toBeGreaterThan(0);
        if (m.kind !== "oauth") continue;
        expect(m).toHaveProperty("endpoints.token");
        expect(m).toHaveProperty("client_id");
        expect(Array.isArray(m.scopes)).toBe(true);
        if (m.flows.includes("loopback"))
          expect(m.redirect).toMatchObject({ host: expect.any(String), path: expect.stringMatching(/^\//) });
        else expect(m.redirect).toBeNull();
      }
      if (provider.key_check) expect(typeof provider.key_check.source).toBe("string");
    }
    expect(method(list, "openrouter", "oauth")).toMatchObject({
      default: true,
      policy: expect.stringContaining("supported"),
      endpoints: { authorize: "https://openrouter.ai/auth", token: "https://openrouter.ai/api/v1/auth/keys" },
      redirect: { host: "127.0.0.1", port: "any", path: "/callback/<state>" },
    });
    expect(method(list, "anthropic", "console")).toMatchObject({
      default: false,
      endpoints: { authorize: "https://platform.claude.com/oauth/authorize" },
      client_id: "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
      redirect: { host: "localhost", port: 53692, path: "/callback" },
    });
    expect(method(list, "openai", "chatgpt").redirect).toEqual({
      host: "localhost",
      port: 1455,
      fallback_ports: [1457],
      path: "/auth/callback",
    });
    // openai/codex: the code exchange is a form, the refresh JSON (auth/manager.rs), the revoke JSON
    // (auth/revoke.rs); the authorize request carries Codex's extra parameters, with authctl's own
    // originator.
    expect(method(list, "openai", "chatgpt")).toMatchObject({
      bodies: { token: "form", refresh: "json", revocation: "json" },
      authorize_params: {
        id_token_add_organizations: "true",
        codex_cli_simplified_flow: "true",
        originator: "authctl",
      },
    });
    expect(method(list, "anthropic", "claude").bodies).toEqual({
      token: "json",
      refresh: "json",
      revocation: null,
    });
    expect(method(list, "kimi", "device")).toMatchObject({
      authorize_params: null,
      bodies: { token: "form" },
    });
    expect(method(list, "openai", "chatgpt").exports).toContainEqual({
      name: "CHATGPT_ACCESS_TOKEN",
      field: "access_token",
      note: expect.stringContaining("authctl's own name"),
    });
    expect(method(list, "minimax", "coding-plan").endpoints).toMatchObject({
      device_authorization: "https://account.minimax.io/oauth2/device/code",
    });
    expect(find(list, "huggingface").key_check).toMatchObject({
      url: "https://huggingface.co/api/whoami-v2",
    });
    expect(find(list, "xai").key_check.refused_on).toEqual([401, 403, 400]);
    expect(find(list, "moonshot").regions.map((r: Json) => r.id)).toEqual(["global", "cn"]);
  });

  test("config.toml is applied: region cn moves MiniMax's account host and API, an override shows as is", async () => {
    box.writeConfig(
      `[providers.minimax]\nregion = "cn"\n[providers.openrouter]\napi_url = "https://gateway.example/api/v1"\n`,
    );
    const list = await audit();
    expect(method(list, "minimax", "coding-plan").endpoints).toMatchObject({
      device_authorization: "https://account.minimaxi.com/oauth2/device/code",
      token: "https://account.minimaxi.com/oauth2/token",
    });
    expect(find(list, "minimax")).toMatchObject({
      api_url: "https://api.minimaxi.com/anthropic/v1",
      regions: [{ id: "cn" }, { id: "global" }],
    });
    expect(find(list, "openrouter").key_check.url).toBe("https://gateway.example/api/v1/key");
  });
});
