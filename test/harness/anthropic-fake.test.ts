/**
 * Proves test/fakes/anthropic.ts behaves as providers.md §3 documents, with plain fetch and no
 * authctl code: /oauth/authorize redirects (loopback or the paste page showing `code#state`), the
 * JSON token endpoint checks state, PKCE, redirect_uri and client_id, refresh tokens rotate,
 * create_api_key needs org:create_api_key, and the API answers the documented errors.
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";

import {
  ANTHROPIC_CLIENT_ID,
  CLAUDE_CODE_ONLY_MESSAGE,
  EXPIRED_MESSAGE,
  INVALID_CREDENTIALS_MESSAGE,
  startAnthropicFake,
  type AnthropicFake,
  type AnthropicFakeOptions,
} from "../fakes/anthropic.ts";
import { cleanupAfterEach, getJson, pkce, pkceLogin, postJson, sendForm, withQuery } from "./_helpers.ts";

const LOOPBACK = "http://localhost:53692/callback";
const SCOPE =
  "org:create_api_key user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload";

const { started } = cleanupAfterEach();
const fake = (options?: AnthropicFakeOptions): AnthropicFake => started(startAnthropicFake(options));

function authorizeParams(challenge: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    code: "true",
    client_id: ANTHROPIC_CLIENT_ID,
    response_type: "code",
    redirect_uri: LOOPBACK,
    scope: SCOPE,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: randomBytes(16).toString("hex"),
    ...extra,
  };
}

const authorizeUrl = (f: AnthropicFake, params: Record<string, string>) =>
  withQuery(f.url, "/oauth/authorize", params);
const authorize = (f: AnthropicFake, params: Record<string, string>) =>
  fetch(authorizeUrl(f, params), { redirect: "manual" });

/** A valid /authorize; the code and state of its redirect. */
const login = (f: AnthropicFake, extra: Record<string, string> = {}) =>
  pkceLogin(
    (params) => authorizeUrl(f, params),
    (challenge) => authorizeParams(challenge, extra),
  );

const post = (f: AnthropicFake, path: string, body: unknown, headers: Record<string, string> = {}) =>
  postJson(`${f.url}${path}`, body, headers);
const get = (f: AnthropicFake, path: string, headers: Record<string, string>) =>
  getJson(`${f.url}${path}`, headers);

async function loginAndExchange(f: AnthropicFake, extra: Record<string, string> = {}) {
  const { verifier, params, code, state } = await login(f, extra);
  const res = await post(f, "/v1/oauth/token", {
    grant_type: "authorization_code",
    client_id: ANTHROPIC_CLIENT_ID,
    code,
    state,
    redirect_uri: params.redirect_uri,
    code_verifier: verifier,
  });
  expect(res.status).toBe(200);
  return res.json as {
    access_token: string;
    refresh_token: string;
    expires_in: number;
    scope: string;
    token_type: string;
  };
}

const apiError = (type: string, message: string) => ({ type: "error", error: { type, message } });

describe("Anthropic fake: /oauth/authorize", () => {
  test("approve redirects to the loopback callback with code and the same state; any port", async () => {
    const f = fake();
    for (const redirect of [LOOPBACK, "http://localhost:40123/callback"]) {
      const { location, code, state, params } = await login(f, { redirect_uri: redirect });
      expect(location.origin + location.pathname).toBe(redirect);
      expect(code.length).toBeGreaterThan(20);
      expect(state).toBe(params.state!);
    }
    expect(f.counts.authorize).toBe(2);
  });

  test("deny redirects with access_denied, a description and the state", async () => {
    const f = fake({ authorize: "deny" });
    const { location, params } = await login(f);
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.get("error_description")).toBeTruthy();
    expect(location.searchParams.get("state")).toBe(params.state!);
    expect(location.searchParams.has("code")).toBe(false);
  });

  test("bad requests get a 400 page, never a redirect", async () => {
    const f = fake();
    const { challenge } = pkce();
    const cases: Array<Record<string, string>> = [
      { client_id: "someone-else" },
      { code: "false" },
      { response_type: "token" },
      { redirect_uri: "http://127.0.0.1:53692/callback" },
      { redirect_uri: "http://localhost:53692/elsewhere" },
      { redirect_uri: "https://evil.example/callback" },
      { scope: "" },
      { scope: "user:inference admin:everything" },
      { code_challenge_method: "plain" },
      { code_challenge: "short" },
      { state: "" },
    ];
    for (const extra of cases) {
      const res = await authorize(f, authorizeParams(challenge, extra));
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toContain("text/html");
    }
    expect(f.issued.codes).toHaveLength(0);
  });

  test("legacy scope set is accepted", async () => {
    const f = fake();
    const tokens = await loginAndExchange(f, { scope: "org:create_api_key user:profile user:inference" });
    expect(tokens.scope).toBe("org:create_api_key user:profile user:inference");
  });
});

describe("Anthropic fake: paste mode", () => {
  test("redirects to the code page, which shows code#state; that code exchanges with the paste redirect_uri", async () => {
    const f = fake();
    const { verifier, location, params } = await login(f, { redirect_uri: f.pasteRedirectUri });
    expect(location.href.startsWith(f.pasteRedirectUri)).toBe(true);
    const page = await fetch(location);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    const shown = /<code id="code">([^<]+)<\/code>/.exec(html)?.[1];
    expect(shown).toBeDefined();
    const [code, state] = shown!.split("#");
    expect(state).toBe(params.state!);
    expect(code).toBe(f.issued.codes[0]!);

    const res = await post(f, "/v1/oauth/token", {
      grant_type: "authorization_code",
      client_id: ANTHROPIC_CLIENT_ID,
      code,
      state,
      redirect_uri: f.pasteRedirectUri,
      code_verifier: verifier,
    });
    expect(res.status).toBe(200);
    expect(res.json.access_token).toStartWith("sk-ant-oat01-");
    expect(f.counts.codePage).toBe(1);
  });

  test("deny shows the error on the code page", async () => {
    const f = fake({ authorize: "deny" });
    const { location } = await login(f, { redirect_uri: f.pasteRedirectUri });
    const html = await (await fetch(location)).text();
    expect(html).toContain("access_denied");
  });
});

describe("Anthropic fake: POST /v1/oauth/token", () => {
  test("authorization_code answers the documented token shape", async () => {
    const f = fake();
    const tokens = await loginAndExchange(f);
    expect(tokens.access_token).toStartWith("sk-ant-oat01-");
    expect(tokens.refresh_token).toStartWith("sk-ant-ort01-");
    expect(tokens.expires_in).toBe(28800);
    expect(tokens.token_type).toBe("Bearer");
    expect(tokens.scope).toBe(SCOPE);
    expect(f.counts.token).toBe(1);
  });

  test("expires_in is configurable", async () => {
    const f = fake({ expiresIn: 60 });
    expect((await loginAndExchange(f)).expires_in).toBe(60);
  });

  test("each check: JSON only, client_id, state, redirect_uri, PKCE; a code is single-use", async () => {
    const f = fake();
    const { verifier, code, state } = await login(f);
    const good = {
      grant_type: "authorization_code",
      client_id: ANTHROPIC_CLIENT_ID,
      code,
      state,
      redirect_uri: LOOPBACK,
      code_verifier: verifier,
    };
    const form = await sendForm(`${f.url}/v1/oauth/token`, good, {
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(400);
    expect(((await form.json()) as { error: string }).error).toBe("invalid_request");

    const bad = async (change: Record<string, unknown>) => post(f, "/v1/oauth/token", { ...good, ...change });
    expect(await bad({ client_id: "other" })).toMatchObject({
      status: 401,
      json: { error: "invalid_client" },
    });
    expect(await bad({ state: undefined })).toMatchObject({ status: 400, json: { error: "invalid_grant" } });
    expect(await bad({ state: "wrong" })).toMatchObject({ status: 400, json: { error: "invalid_grant" } });
    expect(await bad({ redirect_uri: "http://localhost:1/callback" })).toMatchObject({
      status: 400,
      json: { error: "invalid_grant" },
    });
    expect(await bad({ code_verifier: pkce().verifier })).toMatchObject({
      status: 400,
      json: { error: "invalid_grant" },
    });
    expect(await bad({ code_verifier: undefined })).toMatchObject({
      status: 400,
      json: { error: "invalid_grant" },
    });
    expect(await bad({ grant_type: "password" })).toMatchObject({
      status: 400,
      json: { error: "unsupported_grant_type" },
    });

    // failed attempts did not use the code up; success does
    expect((await post(f, "/v1/oauth/token", good)).status).toBe(200);
    expect(await post(f, "/v1/oauth/token", good)).toMatchObject({
      status: 400,
      json: { error: "invalid_grant" },
    });
  });

  test("refresh rotates: the new pair works, the old refresh token is dead", async () => {
    const f = fake();
    const first = await loginAndExchange(f);
    const refresh = (token: string) =>
      post(f, "/v1/oauth/token", {
        grant_type: "refresh_token",
        client_id: ANTHROPIC_CLIENT_ID,
        refresh_token: token,
      });

    const second = await refresh(first.refresh_token);
    expect(second.status).toBe(200);
    expect(second.json.access_token).toStartWith("sk-ant-oat01-");
    expect(second.json.refresh_token).toStartWith("sk-ant-ort01-");
    expect(second.json.refresh_token).not.toBe(first.refresh_token);
    expect(second.json.expires_in).toBe(28800);

    const reused = await refresh(first.refresh_token);
    expect(reused).toEqual({
      status: 400,
      json: { error: "invalid_grant", error_description: "Refresh token not found or invalid" },
    });
    expect((await refresh(second.json.refresh_token)).status).toBe(200);
    expect(f.counts.refresh).toBe(3);
    expect(f.issued.refreshTokens).toHaveLength(3);
  });
});

describe("Anthropic fake: API endpoints", () => {
  test("profile and create_api_key with the access token; the key works with x-api-key on /v1/models", async () => {
    const f = fake();
    const { access_token } = await loginAndExchange(f);
    const bearer = { authorization: `Bearer ${access_token}` };

    expect(await get(f, "/api/oauth/profile", bearer)).toEqual({
      status: 200,
      json: { account: { email_address: "user@example.com" } },
    });

    const created = await post(f, "/api/oauth/claude_cli/create_api_key", {}, bearer);
    expect(created.status).toBe(200);
    expect(created.json.raw_key).toStartWith("sk-ant-api03-");

    const models = await get(f, "/v1/models", {
      "x-api-key": created.json.raw_key,
      "anthropic-version": "2023-06-01",
    });
    expect(models.status).toBe(200);
    expect(models.json.data).toBeArray();
    expect(f.counts).toMatchObject({ profile: 1, createApiKey: 1, models: 1 });
  });

  test("the OAuth token on /v1/models gets the Claude-Code-only 400", async () => {
    const f = fake();
    const { access_token } = await loginAndExchange(f);
    expect(await get(f, "/v1/models", { authorization: `Bearer ${access_token}` })).toEqual({
      status: 400,
      json: apiError("invalid_request_error", CLAUDE_CODE_ONLY_MESSAGE),
    });
  });

  test("create_api_key needs the org:create_api_key scope", async () => {
    const f = fake();
    const { access_token } = await loginAndExchange(f, { scope: "user:profile user:inference" });
    const res = await post(
      f,
      "/api/oauth/claude_cli/create_api_key",
      {},
      { authorization: `Bearer ${access_token}` },
    );
    expect(res.status).toBe(403);
    expect(res.json.error.type).toBe("permission_error");
    expect(f.issued.apiKeys).toHaveLength(0);
  });

  test("unknown credentials get 401 Invalid authentication credentials", async () => {
    const f = fake();
    const invalid = { status: 401, json: apiError("authentication_error", INVALID_CREDENTIALS_MESSAGE) };
    expect(await get(f, "/api/oauth/profile", { authorization: "Bearer sk-ant-oat01-nope" })).toEqual(
      invalid,
    );
    expect(await get(f, "/api/oauth/profile", {})).toEqual(invalid);
    expect(await post(f, "/api/oauth/claude_cli/create_api_key", {}, { authorization: "Bearer x" })).toEqual(
      invalid,
    );
    expect(await get(f, "/v1/models", { "x-api-key": "sk-ant-api03-nope" })).toEqual(invalid);
  });

  test("an expired access token gets 401 OAuth access token has expired", async () => {
    const f = fake({ expiresIn: 0 });
    const { access_token } = await loginAndExchange(f);
    expect(await get(f, "/api/oauth/profile", { authorization: `Bearer ${access_token}` })).toEqual({
      status: 401,
      json: apiError("authentication_error", EXPIRED_MESSAGE),
    });
  });

  test("options.apiError forces each documented error whatever the credential", async () => {
    const f = fake();
    const { access_token } = await loginAndExchange(f);
    const bearer = { authorization: `Bearer ${access_token}` };
    const expected = {
      expired: [401, "authentication_error", EXPIRED_MESSAGE],
      invalid: [401, "authentication_error", INVALID_CREDENTIALS_MESSAGE],
      claude_code_only: [400, "invalid_request_error", CLAUDE_CODE_ONLY_MESSAGE],
    } as const;
    for (const [mode, [status, type, message]] of Object.entries(expected)) {
      f.options.apiError = mode as keyof typeof expected;
      expect(await get(f, "/api/oauth/profile", bearer)).toEqual({ status, json: apiError(type, message) });
      expect(await post(f, "/api/oauth/claude_cli/create_api_key", {}, bearer)).toEqual({
        status,
        json: apiError(type, message),
      });
    }
    f.options.apiError = undefined;
    expect((await get(f, "/api/oauth/profile", bearer)).status).toBe(200);
  });
});
