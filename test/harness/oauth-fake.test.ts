/**
 * Proves test/fakes/oauth-fake.ts behaves as documented, with plain fetch and no authctl code:
 * the checks a real server makes (PKCE, redirect_uri, client, single use, form bodies), and
 * each configurable misbehaviour.
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";

import {
  DEVICE_CODE_GRANT,
  FAKE_CLIENT_ID,
  startOAuthFake,
  type OAuthFake,
  type OAuthFakeOptions,
  type TokenBehaviour,
} from "../fakes/oauth-fake.ts";
import { cleanupAfterEach, pkce, redirectTarget, sendForm, sendJson, withQuery } from "./_helpers.ts";

const REDIRECT_URI = "http://127.0.0.1:53682/callback";

// --------------------------------------------------------------------------- helpers

const { started } = cleanupAfterEach();
const fake = (options?: OAuthFakeOptions): OAuthFake => started(startOAuthFake(options));

type Json = Record<string, unknown>;
interface Answer {
  status: number;
  contentType: string | null;
  text: string;
  json: Json | undefined;
}

async function read(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: Json | undefined;
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = undefined;
  }
  return { status: res.status, contentType: res.headers.get("content-type"), text, json };
}

async function postForm(
  url: string,
  params: Record<string, string>,
  init: RequestInit = {},
): Promise<Answer> {
  return read(await sendForm(url, params, init));
}

function token(f: OAuthFake, params: Record<string, string>, init?: RequestInit): Promise<Answer> {
  return postForm(`${f.url}/token`, { client_id: FAKE_CLIENT_ID, ...params }, init);
}

function authorizeUrl(f: OAuthFake, params: Record<string, string> = {}): string {
  return withQuery(f.url, "/authorize", {
    client_id: FAKE_CLIENT_ID,
    response_type: "code",
    redirect_uri: REDIRECT_URI,
    scope: "openid offline_access",
    state: "the-state",
    code_challenge: pkce().challenge,
    code_challenge_method: "S256",
    ...params,
  });
}

/** GET /authorize without following the redirect; returns the callback URL it points at. */
const authorize = (f: OAuthFake, params: Record<string, string> = {}): Promise<URL> =>
  redirectTarget(authorizeUrl(f, params));

/** A fresh, valid authorization code and the verifier that goes with it. */
async function codeAndVerifier(f: OAuthFake): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkce();
  const callback = await authorize(f, { code_challenge: challenge });
  return { code: callback.searchParams.get("code")!, verifier };
}

function exchange(
  f: OAuthFake,
  code: string,
  verifier: string,
  redirectUri = REDIRECT_URI,
  init?: RequestInit,
) {
  return token(
    f,
    { grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier },
    init,
  );
}

function refresh(f: OAuthFake, refreshToken: string): Promise<Answer> {
  return token(f, { grant_type: "refresh_token", refresh_token: refreshToken });
}

async function tokens(f: OAuthFake): Promise<{ access_token: string; refresh_token: string }> {
  const { code, verifier } = await codeAndVerifier(f);
  const answer = await exchange(f, code, verifier);
  expect(answer.status).toBe(200);
  return answer.json as { access_token: string; refresh_token: string };
}

async function userinfo(f: OAuthFake, accessToken?: string): Promise<number> {
  const headers: Record<string, string> = accessToken ? { authorization: `Bearer ${accessToken}` } : {};
  const res = await fetch(`${f.url}/userinfo`, { headers });
  await res.arrayBuffer();
  return res.status;
}

async function startDevice(f: OAuthFake): Promise<Json> {
  const answer = await postForm(`${f.url}/device/code`, { client_id: FAKE_CLIENT_ID, scope: "openid" });
  expect(answer.status).toBe(200);
  return answer.json!;
}

function poll(f: OAuthFake, deviceCode: unknown): Promise<Answer> {
  return token(f, { grant_type: DEVICE_CODE_GRANT, device_code: String(deviceCode) });
}

const errorOf = (a: Answer) => ({ status: a.status, error: a.json?.error });

// --------------------------------------------------------------------------- tests

describe("OAuth fake: discovery and /authorize", () => {
  test("both metadata documents name the fake's endpoints, with the URL as issuer", async () => {
    const f = fake();
    for (const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]) {
      const doc = (await (await fetch(f.url + path)).json()) as Json;
      expect(doc).toMatchObject({
        issuer: f.url,
        authorization_endpoint: `${f.url}/authorize`,
        token_endpoint: `${f.url}/token`,
        device_authorization_endpoint: `${f.url}/device/code`,
        revocation_endpoint: `${f.url}/revoke`,
        userinfo_endpoint: `${f.url}/userinfo`,
        code_challenge_methods_supported: ["S256"],
      });
    }
  });

  const invalidAuthorizeRequests: Array<{ name: string; params: Record<string, string>; message: string }> = [
    { name: "another client_id", params: { client_id: "someone-else" }, message: "unknown client_id" },
    {
      name: "an https redirect_uri",
      params: { redirect_uri: "https://127.0.0.1/callback" },
      message: "loopback",
    },
    {
      name: "a non-loopback redirect_uri",
      params: { redirect_uri: "http://example.com/callback" },
      message: "loopback",
    },
    {
      name: "response_type=token",
      params: { response_type: "token" },
      message: "response_type must be code",
    },
    { name: "no code_challenge", params: { code_challenge: "" }, message: "PKCE is required" },
    {
      name: "code_challenge_method=plain",
      params: { code_challenge_method: "plain" },
      message: "PKCE is required",
    },
    {
      name: "a padded base64 challenge",
      params: { code_challenge: `${"a".repeat(43)}=` },
      message: "not a base64url",
    },
  ];
  for (const { name, params, message } of invalidAuthorizeRequests) {
    test(`an authorize request with ${name} gets a 400 page, not a redirect`, async () => {
      const f = fake();
      const res = await fetch(authorizeUrl(f, params), { redirect: "manual" });
      expect(res.status).toBe(400);
      expect(res.headers.get("location")).toBeNull();
      expect(res.headers.get("content-type")).toStartWith("text/html");
      expect(await res.text()).toContain(message);
    });
  }

  test("loopback redirect URIs on localhost and [::1] are accepted, and their query is kept", async () => {
    const f = fake();
    for (const redirect of ["http://localhost:8080/cb?x=1", "http://[::1]:8080/cb"]) {
      const callback = await authorize(f, { redirect_uri: redirect });
      expect(callback.origin + callback.pathname).toBe(redirect.replace(/\?.*$/, ""));
      expect(callback.searchParams.get("code")).toStartWith("fake-code-");
    }
    expect((await authorize(f, { redirect_uri: "http://localhost:8080/cb?x=1" })).searchParams.get("x")).toBe(
      "1",
    );
  });

  const authorizeModes: Array<{
    name: string;
    mode: OAuthFakeOptions["authorize"];
    expected: Record<string, string | null>;
  }> = [
    {
      name: "redirect sends code and state",
      mode: "redirect",
      expected: { code: "fake-code-", state: "the-state", error: null },
    },
    {
      name: "deny sends access_denied with the state",
      mode: "deny",
      expected: {
        code: null,
        state: "the-state",
        error: "access_denied",
        error_description: "The user denied the request",
      },
    },
    {
      name: "missing_code sends only the state",
      mode: "missing_code",
      expected: { code: null, state: "the-state", error: null },
    },
    {
      name: "wrong_state sends a code and another state",
      mode: "wrong_state",
      expected: { code: "fake-code-", error: null },
    },
  ];
  for (const { name, mode, expected } of authorizeModes) {
    test(`authorize: ${name}`, async () => {
      const f = fake({ authorize: mode });
      const params = (await authorize(f)).searchParams;
      for (const [key, value] of Object.entries(expected)) {
        if (value === null) expect(params.get(key)).toBeNull();
        else if (value.endsWith("-")) expect(params.get(key)).toStartWith(value);
        else expect(params.get(key)).toBe(value);
      }
      if (mode === "wrong_state") expect(params.get("state")).not.toBe("the-state");
      expect(f.counts.authorize).toBe(1);
      expect(f.requests[0]).toMatchObject({
        method: "GET",
        path: "/authorize",
        query: { state: "the-state" },
      });
    });
  }
});

describe("OAuth fake: authorization code exchange", () => {
  test("the right verifier gets tokens that userinfo accepts; the code is then single-use", async () => {
    const f = fake();
    const { code, verifier } = await codeAndVerifier(f);
    const answer = await exchange(f, code, verifier);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      access_token: f.issued.accessTokens[0],
      token_type: "Bearer",
      expires_in: 3600,
      refresh_token: f.issued.refreshTokens[0],
      scope: "openid offline_access",
    });
    expect(answer.json!.access_token).toStartWith("fake-at-");
    expect(answer.json!.refresh_token).toStartWith("fake-rt-");
    expect(await userinfo(f, answer.json!.access_token as string)).toBe(200);

    // A replayed code is refused, and what it was exchanged for is revoked (RFC 6749 §4.1.2).
    const replay = await exchange(f, code, verifier);
    expect(replay.json).toEqual({
      error: "invalid_grant",
      error_description: "authorization code was already used",
    });
    expect(await userinfo(f, answer.json!.access_token as string)).toBe(401);
    expect(f.counts).toMatchObject({ authorize: 1, token: 2 });
  });

  const wrongVerifiers: Array<{ name: string; verifier: (right: string) => string }> = [
    { name: "another valid verifier", verifier: () => pkce().verifier },
    {
      name: "the right verifier with one character changed",
      verifier: (right) => `${right.slice(0, -1)}${right.endsWith("A") ? "B" : "A"}`,
    },
    {
      name: "the challenge instead of the verifier",
      verifier: (right) => createHash("sha256").update(right).digest("base64url"),
    },
    { name: "no verifier", verifier: () => "" },
  ];
  for (const { name, verifier } of wrongVerifiers) {
    test(`PKCE: ${name} is rejected, and the code still works with the right one`, async () => {
      const f = fake();
      const right = await codeAndVerifier(f);
      const wrong = await exchange(f, right.code, verifier(right.verifier));
      expect(wrong.status).toBe(400);
      expect(wrong.json).toEqual({ error: "invalid_grant", error_description: "PKCE verification failed" });
      expect((await exchange(f, right.code, right.verifier)).status).toBe(200);
    });
  }

  test("a redirect_uri other than the one sent to /authorize is rejected", async () => {
    const f = fake();
    const { code, verifier } = await codeAndVerifier(f);
    const answer = await exchange(f, code, verifier, "http://127.0.0.1:53683/callback");
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({
      error: "invalid_grant",
      error_description: "redirect_uri does not match the one sent to /authorize",
    });
    const missing = await token(f, { grant_type: "authorization_code", code, code_verifier: verifier });
    expect(errorOf(missing)).toEqual({ status: 400, error: "invalid_grant" });
  });

  test("an unknown code, another client, a JSON body and an unknown grant_type are refused", async () => {
    const f = fake();
    const { code, verifier } = await codeAndVerifier(f);
    expect(errorOf(await exchange(f, "fake-code-unknown", verifier))).toEqual({
      status: 400,
      error: "invalid_grant",
    });
    const otherClient = await postForm(`${f.url}/token`, {
      client_id: "someone-else",
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    });
    expect(errorOf(otherClient)).toEqual({ status: 401, error: "invalid_client" });
    const noClient = await postForm(`${f.url}/token`, { grant_type: "authorization_code", code });
    expect(errorOf(noClient)).toEqual({ status: 401, error: "invalid_client" });
    const json = await read(
      await sendJson(`${f.url}/token`, { client_id: FAKE_CLIENT_ID, grant_type: "authorization_code", code }),
    );
    expect(errorOf(json)).toEqual({ status: 400, error: "invalid_request" });
    expect(errorOf(await token(f, { grant_type: "password" }))).toEqual({
      status: 400,
      error: "unsupported_grant_type",
    });
    // None of these consumed the code; the JSON body was recorded as sent.
    expect((await exchange(f, code, verifier)).status).toBe(200);
    expect(f.requests.find((r) => r.contentType === "application/json")?.body).toMatchObject({
      grant_type: "authorization_code",
    });
    expect(f.counts.token).toBe(5); // the password grant counts as none of token/refresh/poll
  });

  test("HTTP Basic client authentication names the client too", async () => {
    const f = fake({ clientId: "basic client" });
    const { verifier, challenge } = pkce();
    const callback = await authorize(f, { client_id: "basic client", code_challenge: challenge });
    const basic = `Basic ${Buffer.from("basic+client:").toString("base64")}`;
    const body = {
      grant_type: "authorization_code",
      code: callback.searchParams.get("code")!,
      code_verifier: verifier,
    };
    const answer = await postForm(
      `${f.url}/token`,
      { ...body, redirect_uri: REDIRECT_URI },
      { headers: { authorization: basic } },
    );
    expect(answer.status).toBe(200);
  });
});

describe("OAuth fake: token behaviours", () => {
  const JSON_TYPE = "application/json";
  const behaviours: Array<{
    behaviour: TokenBehaviour;
    status: number;
    contentType: string;
    check: (a: Answer) => void;
  }> = [
    {
      behaviour: "ok",
      status: 200,
      contentType: JSON_TYPE,
      check: (a) =>
        expect(Object.keys(a.json!).sort()).toEqual([
          "access_token",
          "expires_in",
          "refresh_token",
          "scope",
          "token_type",
        ]),
    },
    {
      behaviour: "invalid_grant",
      status: 400,
      contentType: JSON_TYPE,
      check: (a) =>
        expect(a.json).toEqual({ error: "invalid_grant", error_description: "grant request is invalid" }),
    },
    {
      behaviour: "server_error_500",
      status: 500,
      contentType: JSON_TYPE,
      check: (a) => expect(a.json).toEqual({ error: "server_error", error_description: "internal failure" }),
    },
    {
      behaviour: "html_500",
      status: 500,
      contentType: "text/html",
      check: (a) => expect(a.text).toStartWith("<!DOCTYPE html>"),
    },
    {
      behaviour: "invalid_json",
      status: 200,
      contentType: JSON_TYPE,
      check: (a) =>
        expect({ json: a.json, start: a.text.slice(0, 15) }).toEqual({
          json: undefined,
          start: '{"access_token"',
        }),
    },
    {
      behaviour: "missing_access_token",
      status: 200,
      contentType: JSON_TYPE,
      check: (a) => expect(a.json).toEqual({ token_type: "Bearer", expires_in: 3600, scope: "" }),
    },
    {
      behaviour: "error_with_200",
      status: 200,
      contentType: JSON_TYPE,
      check: (a) => expect(a.json).toEqual({ error: "invalid_grant" }),
    },
  ];

  for (const { behaviour, status, contentType, check } of behaviours) {
    test(`token: ${behaviour} answers ${status} ${contentType} for both the code and the refresh grant`, async () => {
      const f = fake();
      const refreshToken = (await tokens(f)).refresh_token;
      const { code, verifier } = await codeAndVerifier(f);
      f.options.token = behaviour;

      for (const answer of [await exchange(f, code, verifier), await refresh(f, refreshToken)]) {
        expect(answer.status).toBe(status);
        expect(answer.contentType).toStartWith(contentType);
        check(answer);
      }
      // Only "ok" consumes the code and the refresh token; after a failure both still work.
      f.options.token = "ok";
      const retried = [await exchange(f, code, verifier), await refresh(f, refreshToken)].map(
        (a) => a.status,
      );
      expect(retried).toEqual(behaviour === "ok" ? [400, 400] : [200, 200]);
    });
  }

  test("token: hang never answers; the client's 300 ms timeout is what ends it", async () => {
    const f = fake({ token: "hang" });
    const { code, verifier } = await codeAndVerifier(f);
    const started = performance.now();
    const other = exchange(f, code, verifier).then(
      () => "answered",
      () => "failed",
    );
    const outcome = await exchange(f, code, verifier, REDIRECT_URI, {
      signal: AbortSignal.timeout(300),
    }).then(
      () => "answered",
      (error: Error) => error.name,
    );
    expect(outcome).toBe("TimeoutError");
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);

    // stop() ends the other hanging request too: it fails instead of waiting forever.
    f.stop();
    expect(await other).toBe("failed");
    expect(f.counts.token).toBe(2);
  });

  test("refresh overrides token for the refresh grant only", async () => {
    const f = fake({ refresh: "server_error_500" });
    const { refresh_token } = await tokens(f);
    expect(errorOf(await refresh(f, refresh_token))).toEqual({ status: 500, error: "server_error" });
    f.options.token = "html_500";
    expect((await refresh(f, refresh_token)).contentType).toStartWith("application/json");
  });

  test("rotation: a used refresh token is dead, its successor works", async () => {
    const f = fake({ accessTokenTtl: 120 });
    const first = await tokens(f);
    const refreshed = await refresh(f, first.refresh_token);
    expect(refreshed.status).toBe(200);
    expect(refreshed.json).toMatchObject({ expires_in: 120, scope: "openid offline_access" });
    const rotated = refreshed.json!.refresh_token as string;
    expect(rotated).not.toBe(first.refresh_token);

    const replay = await refresh(f, first.refresh_token);
    expect(replay.json).toEqual({
      error: "invalid_grant",
      error_description: "refresh token is invalid or was already used",
    });
    expect((await refresh(f, rotated)).status).toBe(200);
    expect(f.issued.refreshTokens).toEqual([
      first.refresh_token,
      rotated,
      expect.stringMatching(/^fake-rt-/),
    ]);
    expect(f.issued.accessTokens).toHaveLength(3);
    expect(f.counts).toMatchObject({ token: 1, refresh: 3 });
  });

  test("rotateRefreshToken: false returns the same refresh token every time", async () => {
    const f = fake({ rotateRefreshToken: false });
    const { refresh_token } = await tokens(f);
    for (let i = 0; i < 2; i++) {
      const answer = await refresh(f, refresh_token);
      expect(answer.status).toBe(200);
      expect(answer.json!.refresh_token).toBe(refresh_token);
    }
    expect(f.issued.refreshTokens).toEqual([refresh_token]);
  });
});

describe("OAuth fake: device authorization (RFC 8628)", () => {
  test("the device response carries the codes, URIs, expiry and interval", async () => {
    const f = fake({ deviceExpiresIn: 30, deviceInterval: 3 });
    const auth = await startDevice(f);
    expect(auth).toEqual({
      device_code: expect.stringMatching(/^fake-dc-/),
      user_code: "ABCD-EFGH",
      verification_uri: `${f.url}/device`,
      verification_uri_complete: `${f.url}/device?user_code=ABCD-EFGH`,
      expires_in: 30,
      interval: 3,
    });
    f.options.deviceInterval = 0;
    expect(await startDevice(f)).not.toHaveProperty("interval");
    expect((await fetch(`${f.url}/device?user_code=ABCD-EFGH`)).status).toBe(200);
    expect(f.counts.device).toBe(2);
  });

  test("approve_after with pendingPolls 2: pending, pending, token; then the device code is spent", async () => {
    const f = fake({ pendingPolls: 2 });
    const { device_code } = await startDevice(f);
    const answers = [];
    for (let i = 0; i < 4; i++) {
      answers.push(await poll(f, device_code));
      await Bun.sleep(50);
    }
    expect(answers.map(errorOf)).toEqual([
      { status: 400, error: "authorization_pending" },
      { status: 400, error: "authorization_pending" },
      { status: 200, error: undefined },
      { status: 400, error: "invalid_grant" },
    ]);
    expect(await userinfo(f, answers[2]!.json!.access_token as string)).toBe(200);
    expect(answers[2]!.json).toMatchObject({ scope: "openid", token_type: "Bearer" });

    // Each poll's arrival time is recorded, so tests can check the client's interval.
    const at = f.requests.filter((r) => r.body.grant_type === DEVICE_CODE_GRANT).map((r) => r.at);
    expect(at).toHaveLength(4);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(45);
    expect(f.counts.poll).toBe(4);
  });

  const pollOutcomes: Array<{ name: string; options: OAuthFakeOptions; expected: string[] }> = [
    {
      name: "slow_down_storm answers slow_down to every poll",
      options: { device: "slow_down_storm" },
      expected: ["slow_down", "slow_down", "slow_down"],
    },
    {
      name: "deny answers access_denied from the first poll",
      options: { device: "deny" },
      expected: ["access_denied", "access_denied"],
    },
    {
      name: "approve_after then the token behaviour decides the answer",
      options: { pendingPolls: 0, token: "error_with_200" },
      expected: ["invalid_grant"],
    },
  ];
  for (const { name, options, expected } of pollOutcomes) {
    test(`device: ${name}`, async () => {
      const f = fake(options);
      const { device_code } = await startDevice(f);
      const errors = [];
      for (const _ of expected) errors.push((await poll(f, device_code)).json?.error);
      expect(errors).toEqual(expected);
    });
  }

  test("expire with deviceExpiresIn 1: pending, and expired_token after 1 s", async () => {
    const f = fake({ device: "expire", deviceExpiresIn: 1 });
    const { device_code, expires_in } = await startDevice(f);
    expect(expires_in).toBe(1);
    expect(errorOf(await poll(f, device_code))).toEqual({ status: 400, error: "authorization_pending" });
    await Bun.sleep(1_050);
    expect(errorOf(await poll(f, device_code))).toEqual({ status: 400, error: "expired_token" });
    expect(errorOf(await poll(f, "fake-dc-unknown"))).toEqual({ status: 400, error: "invalid_grant" });
  });
});

describe("OAuth fake: userinfo and revocation", () => {
  test("userinfo refuses a missing, unknown or expired access token", async () => {
    const f = fake({ accessTokenTtl: 1 });
    const { access_token } = await tokens(f);
    expect(await userinfo(f, access_token)).toBe(200);
    expect(await userinfo(f)).toBe(401);
    expect(await userinfo(f, "fake-at-unknown")).toBe(401);
    await Bun.sleep(1_050);
    const expired = await fetch(`${f.url}/userinfo`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(expired.status).toBe(401);
    expect(expired.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
  });

  test("revoking a refresh token answers 200 and kills its grant; unknown tokens get 200 too", async () => {
    const f = fake();
    const { access_token, refresh_token } = await tokens(f);
    const revoke = (t: string) =>
      postForm(`${f.url}/revoke`, { client_id: FAKE_CLIENT_ID, token: t, token_type_hint: "refresh_token" });
    expect((await revoke(refresh_token)).status).toBe(200);
    expect((await revoke("fake-rt-unknown")).status).toBe(200);
    expect(errorOf(await refresh(f, refresh_token))).toEqual({ status: 400, error: "invalid_grant" });
    expect(await userinfo(f, access_token)).toBe(401);
    expect(f.counts.revoke).toBe(2);
  });
});
