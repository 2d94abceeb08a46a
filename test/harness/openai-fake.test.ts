/**
 * Proves test/fakes/openai.ts behaves as providers.md §4 documents, with plain fetch and no
 * authctl code: /oauth/authorize only redirects to the allow-listed ports 1455/1457, the
 * form-encoded code exchange checks PKCE, redirect_uri and client_id and returns JWT-shaped
 * tokens with the ChatGPT claims, refresh tokens are single-use (JSON or form), the token-exchange
 * grant buys an sk-proj key, and OpenAI's device-code variant hands out a server-made PKCE pair.
 */
import { describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";

import {
  AUTH_CLAIM,
  ID_TOKEN_TYPE,
  OPENAI_CLIENT_ID,
  TOKEN_EXCHANGE_GRANT,
  decodeJwtPayload,
  startOpenAIFake,
  type OpenAIFake,
  type OpenAIFakeOptions,
} from "../fakes/openai.ts";
import {
  cleanupAfterEach,
  jsonOrNullAnswer,
  pkce,
  pkceLogin,
  sendForm,
  sendJson,
  withQuery,
} from "./_helpers.ts";

const REDIRECT = "http://localhost:1455/auth/callback";

const { started } = cleanupAfterEach();
const fake = (options?: OpenAIFakeOptions): OpenAIFake => started(startOpenAIFake(options));

function authorizeParams(challenge: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    response_type: "code",
    client_id: OPENAI_CLIENT_ID,
    redirect_uri: REDIRECT,
    scope: "openid profile email offline_access",
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: randomBytes(16).toString("hex"),
    id_token_add_organizations: "true",
    codex_cli_simplified_flow: "true",
    originator: "codex_cli_rs",
    ...extra,
  };
}

const authorizeUrl = (f: OpenAIFake, params: Record<string, string>) =>
  withQuery(f.url, "/oauth/authorize", params);
const authorize = (f: OpenAIFake, params: Record<string, string>) =>
  fetch(authorizeUrl(f, params), { redirect: "manual" });

/** A valid /authorize; the code and state of its redirect. */
const login = (f: OpenAIFake, extra: Record<string, string> = {}) =>
  pkceLogin(
    (params) => authorizeUrl(f, params),
    (challenge) => authorizeParams(challenge, extra),
  );

async function form(f: OpenAIFake, path: string, body: Record<string, string | undefined>) {
  const clean = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
  const headers = { "content-type": "application/x-www-form-urlencoded" };
  return jsonOrNullAnswer(await sendForm(`${f.url}${path}`, clean, { headers }));
}

const json = async (f: OpenAIFake, path: string, body: unknown) =>
  jsonOrNullAnswer(await sendJson(`${f.url}${path}`, body));

async function loginAndExchange(f: OpenAIFake) {
  const { verifier, code } = await login(f);
  const res = await form(f, "/oauth/token", {
    grant_type: "authorization_code",
    code,
    redirect_uri: REDIRECT,
    client_id: OPENAI_CLIENT_ID,
    code_verifier: verifier,
  });
  expect(res.status).toBe(200);
  return res.json as { id_token: string; access_token: string; refresh_token: string; expires_in: number };
}

const refreshJson = (f: OpenAIFake, token: string) =>
  json(f, "/oauth/token", { client_id: OPENAI_CLIENT_ID, grant_type: "refresh_token", refresh_token: token });
const refreshForm = (f: OpenAIFake, token: string) =>
  form(f, "/oauth/token", { grant_type: "refresh_token", refresh_token: token, client_id: OPENAI_CLIENT_ID });

describe("OpenAI fake: /oauth/authorize", () => {
  test("approve redirects to 1455 or 1457 with code and state; the §4 extra params are recorded", async () => {
    const f = fake();
    for (const redirect of [REDIRECT, "http://localhost:1457/auth/callback"]) {
      const { location, code, state, params } = await login(f, { redirect_uri: redirect });
      expect(location.origin + location.pathname).toBe(redirect);
      expect(code.length).toBeGreaterThan(20);
      expect(state).toBe(params.state!);
    }
    await login(f, { allowed_workspace_id: "ws_1" });
    expect(f.authorizations[0]).toEqual({
      id_token_add_organizations: "true",
      codex_cli_simplified_flow: "true",
      originator: "codex_cli_rs",
    });
    expect(f.authorizations[2]?.allowed_workspace_id).toBe("ws_1");
  });

  test("deny and missing_codex_entitlement redirect with access_denied and the state", async () => {
    const f = fake({ authorize: "deny" });
    let { location, params } = await login(f);
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.get("error_description")).toBeTruthy();
    expect(location.searchParams.get("error_description")).not.toContain("missing_codex_entitlement");
    expect(location.searchParams.get("state")).toBe(params.state!);

    f.options.authorize = "missing_codex_entitlement";
    ({ location } = await login(f));
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.get("error_description")).toContain("missing_codex_entitlement");
    expect(location.searchParams.has("code")).toBe(false);
    expect(f.issued.codes).toHaveLength(0);
  });

  test("bad requests get a 400 page: other ports, hosts, the device redirect, client, scope, PKCE, state", async () => {
    const f = fake();
    const { challenge } = pkce();
    const cases: Array<Record<string, string>> = [
      { redirect_uri: "http://localhost:1456/auth/callback" },
      { redirect_uri: "http://localhost:53692/auth/callback" },
      { redirect_uri: "http://127.0.0.1:1455/auth/callback" },
      { redirect_uri: "http://localhost:1455/callback" },
      { redirect_uri: f.deviceRedirectUri },
      { client_id: "app_other" },
      { response_type: "token" },
      { scope: "profile email" },
      { scope: "openid admin" },
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
});

describe("OpenAI fake: code exchange", () => {
  test("form exchange answers id_token, access_token, refresh_token, expires_in with the ChatGPT claims", async () => {
    const f = fake();
    const tokens = await loginAndExchange(f);
    expect(Object.keys(tokens).sort()).toEqual(["access_token", "expires_in", "id_token", "refresh_token"]);
    expect(tokens.expires_in).toBe(3600);
    for (const jwt of [tokens.id_token, tokens.access_token]) {
      expect(jwt.split(".")).toHaveLength(3);
      const payload = decodeJwtPayload(jwt);
      expect(payload[AUTH_CLAIM]).toEqual({ chatgpt_account_id: "acct_123", chatgpt_plan_type: "plus" });
      expect(payload.email).toBe("user@example.com");
      expect(payload.exp).toBeGreaterThan(Date.now() / 1000);
    }
    expect(f.counts.token).toBe(1);
  });

  test("each check: form only, client_id, redirect_uri, PKCE; a code is single-use", async () => {
    const f = fake();
    const { verifier, code } = await login(f);
    const good = {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT,
      client_id: OPENAI_CLIENT_ID,
      code_verifier: verifier,
    };
    expect(await json(f, "/oauth/token", good)).toMatchObject({
      status: 400,
      json: { error: "invalid_request" },
    });
    const bad = (change: Record<string, string | undefined>) =>
      form(f, "/oauth/token", { ...good, ...change });
    expect(await bad({ client_id: "app_other" })).toMatchObject({
      status: 401,
      json: { error: "invalid_client" },
    });
    expect(await bad({ redirect_uri: "http://localhost:1457/auth/callback" })).toMatchObject({
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
    expect(await bad({ code: "nope" })).toMatchObject({ status: 400, json: { error: "invalid_grant" } });
    expect(await bad({ grant_type: "password" })).toMatchObject({
      status: 400,
      json: { error: "unsupported_grant_type" },
    });
    expect((await form(f, "/oauth/token", good)).status).toBe(200);
    expect(await form(f, "/oauth/token", good)).toMatchObject({
      status: 400,
      json: { error: "invalid_grant" },
    });
  });
});

describe("OpenAI fake: refresh", () => {
  test("JSON and form both work; each refresh token is single-use (401 refresh_token_reused)", async () => {
    const f = fake();
    const first = await loginAndExchange(f);
    const second = await refreshJson(f, first.refresh_token);
    expect(second.status).toBe(200);
    expect(Object.keys(second.json).sort()).toEqual(["access_token", "id_token", "refresh_token"]);
    expect(second.json.refresh_token).not.toBe(first.refresh_token);

    const third = await refreshForm(f, second.json.refresh_token);
    expect(third.status).toBe(200);

    const reused = await refreshJson(f, first.refresh_token);
    expect(reused.status).toBe(401);
    expect(reused.json.error.code).toBe("refresh_token_reused");
    expect(reused.json.error.message).toBeString();
    expect((await refreshForm(f, second.json.refresh_token)).json.error.code).toBe("refresh_token_reused");
    expect(f.counts.refresh).toBe(4);
  });

  test("refreshErrorStyle flat_400 gives {error, error_description} at 400", async () => {
    const f = fake({ refreshErrorStyle: "flat_400" });
    const first = await loginAndExchange(f);
    await refreshJson(f, first.refresh_token);
    const reused = await refreshJson(f, first.refresh_token);
    expect(reused.status).toBe(400);
    expect(reused.json.error).toBe("refresh_token_reused");
    expect(reused.json.error_description).toBeString();
  });

  test("options.refresh forces refresh_token_expired / _invalidated; revoke invalidates", async () => {
    const f = fake();
    const tokens = await loginAndExchange(f);
    for (const code of ["refresh_token_expired", "refresh_token_invalidated"] as const) {
      f.options.refresh = code;
      expect(await refreshJson(f, tokens.refresh_token)).toMatchObject({
        status: 401,
        json: { error: { code } },
      });
    }
    f.options.refresh = undefined;

    // Form-encoded (RFC 7009's default) is not what codex sends: refused, nothing revoked.
    expect(
      (await form(f, "/oauth/revoke", { token: tokens.refresh_token, client_id: OPENAI_CLIENT_ID })).status,
    ).toBe(400);
    const revoked = await json(f, "/oauth/revoke", {
      token: tokens.refresh_token,
      token_type_hint: "refresh_token",
      client_id: OPENAI_CLIENT_ID,
    });
    expect(revoked.status).toBe(200);
    expect(await refreshJson(f, tokens.refresh_token)).toMatchObject({
      status: 401,
      json: { error: { code: "refresh_token_invalidated" } },
    });
    expect((await json(f, "/oauth/revoke", { token: "unknown" })).status).toBe(200);
    expect(f.counts.revoke).toBe(3);
  });

  test("wrong client_id and a text/plain body are refused", async () => {
    const f = fake();
    const tokens = await loginAndExchange(f);
    const wrongClient = await json(f, "/oauth/token", {
      client_id: "x",
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
    });
    expect(wrongClient).toMatchObject({ status: 401, json: { error: "invalid_client" } });
    const res = await fetch(`${f.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({
        client_id: OPENAI_CLIENT_ID,
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
      }),
    });
    expect(res.status).toBe(400);
    expect((await refreshJson(f, tokens.refresh_token)).status).toBe(200);
  });
});

describe("OpenAI fake: API-key token exchange", () => {
  const exchange = (f: OpenAIFake, subject: string, change: Record<string, string> = {}) =>
    form(f, "/oauth/token", {
      grant_type: TOKEN_EXCHANGE_GRANT,
      client_id: OPENAI_CLIENT_ID,
      requested_token: "openai-api-key",
      subject_token: subject,
      subject_token_type: ID_TOKEN_TYPE,
      ...change,
    });

  test("the id_token buys an sk-proj key", async () => {
    const f = fake();
    const { id_token } = await loginAndExchange(f);
    const res = await exchange(f, id_token);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ access_token: f.issued.apiKeys[0]! });
    expect(res.json.access_token).toStartWith("sk-proj-");
    expect(f.counts.tokenExchange).toBe(1);
  });

  test("the access token, a wrong requested_token or subject_token_type, or apiKeyExchange fail → 400", async () => {
    const f = fake();
    const { id_token, access_token } = await loginAndExchange(f);
    expect((await exchange(f, access_token)).status).toBe(400);
    expect((await exchange(f, id_token, { requested_token: "something" })).status).toBe(400);
    expect(
      (await exchange(f, id_token, { subject_token_type: "urn:ietf:params:oauth:token-type:access_token" }))
        .status,
    ).toBe(400);
    f.options.apiKeyExchange = "fail";
    expect(await exchange(f, id_token)).toMatchObject({ status: 400, json: { error: "invalid_grant" } });
    expect(f.issued.apiKeys).toHaveLength(0);
  });
});

describe("OpenAI fake: device-code variant", () => {
  test("usercode → pending 403 → approve → server-made PKCE pair → code exchange at the device redirect", async () => {
    const f = fake();
    const start = await json(f, "/api/accounts/deviceauth/usercode", { client_id: OPENAI_CLIENT_ID });
    expect(start.status).toBe(200);
    const { device_auth_id, user_code, interval } = start.json as Record<string, string>;
    expect(device_auth_id).toBeString();
    expect(user_code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    expect(interval).toBe("5");

    const poll = () => json(f, "/api/accounts/deviceauth/token", { device_auth_id, user_code });
    const pending = await poll();
    expect(pending.status).toBe(403);

    expect(f.approve("NOPE-NOPE")).toBe(false);
    expect(f.approve(user_code!)).toBe(true);
    const done = await poll();
    expect(done.status).toBe(200);
    const { authorization_code, code_challenge, code_verifier } = done.json as Record<string, string>;
    expect(createHash("sha256").update(code_verifier!).digest("base64url")).toBe(code_challenge!);

    const exchange = (redirect: string) =>
      form(f, "/oauth/token", {
        grant_type: "authorization_code",
        code: authorization_code,
        redirect_uri: redirect,
        client_id: OPENAI_CLIENT_ID,
        code_verifier,
      });
    expect((await exchange(REDIRECT)).status).toBe(400); // a device code belongs to the device redirect
    const tokens = await exchange(f.deviceRedirectUri);
    expect(tokens.status).toBe(200);
    expect(decodeJwtPayload(tokens.json.id_token)[AUTH_CLAIM]).toMatchObject({
      chatgpt_account_id: "acct_123",
    });
    expect(f.counts).toMatchObject({ usercode: 1, poll: 2 });
    expect((await fetch(`${f.url}/codex/device`)).status).toBe(200);
  });

  test("deviceEnabled false → 404; usercode field, interval and pending status are switchable", async () => {
    const f = fake({ deviceEnabled: false });
    expect((await json(f, "/api/accounts/deviceauth/usercode", { client_id: OPENAI_CLIENT_ID })).status).toBe(
      404,
    );

    Object.assign(f.options, {
      deviceEnabled: true,
      userCodeField: "usercode",
      deviceInterval: "1",
      pendingStatus: 404,
    });
    const start = await json(f, "/api/accounts/deviceauth/usercode", { client_id: OPENAI_CLIENT_ID });
    expect(start.status).toBe(200);
    expect(start.json.user_code).toBeUndefined();
    expect(start.json.usercode).toBeString();
    expect(start.json.interval).toBe("1");
    const pending = await json(f, "/api/accounts/deviceauth/token", {
      device_auth_id: start.json.device_auth_id,
      user_code: start.json.usercode,
    });
    expect(pending.status).toBe(404);
  });

  test("bad device requests: form body, wrong client, unknown id or mismatched user_code → 400/401", async () => {
    const f = fake();
    expect((await form(f, "/api/accounts/deviceauth/usercode", { client_id: OPENAI_CLIENT_ID })).status).toBe(
      400,
    );
    expect((await json(f, "/api/accounts/deviceauth/usercode", { client_id: "app_other" })).status).toBe(401);
    const start = await json(f, "/api/accounts/deviceauth/usercode", { client_id: OPENAI_CLIENT_ID });
    const { device_auth_id } = start.json as Record<string, string>;
    expect(
      (await json(f, "/api/accounts/deviceauth/token", { device_auth_id, user_code: "XXXX-XXXX" })).status,
    ).toBe(400);
    expect(
      (
        await json(f, "/api/accounts/deviceauth/token", {
          device_auth_id: "nope",
          user_code: start.json.user_code,
        })
      ).status,
    ).toBe(400);
  });
});
