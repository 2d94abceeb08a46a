import { describe, expect, test } from "bun:test";
import { buildAuthorizeUrl } from "../../src/oauth/authorize-url.ts";
import { expectAuthctlError } from "./_fakes.ts";

const pkce = { challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", method: "S256" as const };

describe("buildAuthorizeUrl", () => {
  test("sends the standard parameters, scopes joined with spaces, and provider extras", () => {
    const url = buildAuthorizeUrl({
      authorizeUrl: "https://auth.openai.com/oauth/authorize",
      clientId: "app_test",
      redirectUri: "http://localhost:1455/auth/callback",
      scopes: ["openid", "profile", "offline_access"],
      state: "state-123",
      pkce,
      extraParams: { originator: "authctl", codex_cli_simplified_flow: "true", skipped: undefined },
    });
    expect(url.origin + url.pathname).toBe("https://auth.openai.com/oauth/authorize");
    expect([...url.searchParams]).toEqual([
      ["response_type", "code"],
      ["client_id", "app_test"],
      ["redirect_uri", "http://localhost:1455/auth/callback"],
      ["scope", "openid profile offline_access"],
      ["state", "state-123"],
      ["code_challenge", pkce.challenge],
      ["code_challenge_method", "S256"],
      ["originator", "authctl"],
      ["codex_cli_simplified_flow", "true"],
    ]);
    expect(url.search).toContain("redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback");
  });

  test("keeps query parameters already in the authorize URL", () => {
    const url = buildAuthorizeUrl({
      authorizeUrl: "https://claude.ai/oauth/authorize?code=true",
      clientId: "client",
      redirectUri: "http://localhost:53692/callback",
      state: "s",
      pkce,
    });
    expect(url.searchParams.get("code")).toBe("true");
    expect(url.searchParams.get("client_id")).toBe("client");
  });

  test("leaves out client_id, scope, state and response_type for OpenRouter's shape", () => {
    const url = buildAuthorizeUrl({
      authorizeUrl: "https://openrouter.ai/auth",
      redirectUri: "http://127.0.0.1:3000/callback",
      redirectUriParam: "callback_url",
      responseType: null,
      scopes: [],
      pkce,
    });
    expect([...url.searchParams]).toEqual([
      ["callback_url", "http://127.0.0.1:3000/callback"],
      ["code_challenge", pkce.challenge],
      ["code_challenge_method", "S256"],
    ]);
  });

  test("an extra parameter may not replace state or the challenge", async () => {
    await expectAuthctlError(
      () =>
        buildAuthorizeUrl({
          authorizeUrl: "https://auth.example.com/authorize",
          redirectUri: "http://127.0.0.1:1/cb",
          pkce,
          extraParams: { state: "other" },
        }),
      "USAGE",
      'the extra authorize parameter "state" would replace a standard one',
    );
  });

  test("a plain-http authorize URL on a public host is refused", async () => {
    await expectAuthctlError(
      () => buildAuthorizeUrl({ authorizeUrl: "http://auth.example.com/authorize", redirectUri: "x", pkce }),
      "USAGE",
      "the authorization endpoint must use https (plain http is allowed only for 127.0.0.1, ::1 and localhost): http://auth.example.com",
    );
  });
});
