/**
 * Proves test/fakes/openrouter.ts behaves as providers.md §2 documents, with plain fetch and no
 * authctl code: /auth redirects with a code, the code and verifier buy an sk-or-v1 key once,
 * the documented 400/403/405 errors, and GET /api/v1/key with the key.
 */
import { describe, expect, test } from "bun:test";

import { startOpenRouterFake, type OpenRouterFake, type OpenRouterFakeOptions } from "../fakes/openrouter.ts";
import { cleanupAfterEach, getJson, pkce, postJson, redirectTarget, withQuery } from "./_helpers.ts";

const CALLBACK = "http://127.0.0.1:3000/callback";

const { started } = cleanupAfterEach();
const fake = (options?: OpenRouterFakeOptions): OpenRouterFake => started(startOpenRouterFake(options));

const authUrl = (f: OpenRouterFake, params: Record<string, string>): string =>
  withQuery(f.url, "/auth", params);

/** GET /auth without following the redirect; the callback URL it points at. */
const auth = (f: OpenRouterFake, params: Record<string, string>): Promise<URL> =>
  redirectTarget(authUrl(f, params));

async function codeFor(
  f: OpenRouterFake,
  challenge: string,
  method = "S256",
  extra: Record<string, string> = {},
) {
  const params = {
    callback_url: CALLBACK,
    code_challenge: challenge,
    code_challenge_method: method,
    ...extra,
  };
  const callback = await auth(f, params);
  return callback.searchParams.get("code")!;
}

const exchange = (f: OpenRouterFake, body: unknown) => postJson(`${f.url}/api/v1/auth/keys`, body);

const currentKey = (f: OpenRouterFake, key: string) =>
  getJson(`${f.url}/api/v1/key`, { authorization: `Bearer ${key}` });

const INVALID_CODE = { error: { message: "Invalid code or code_verifier", code: 403 } };

describe("OpenRouter fake: /auth", () => {
  test("approve appends ?code= to callback_url; a state in the path survives", async () => {
    const f = fake();
    const { challenge } = pkce();
    const callback = await auth(f, {
      callback_url: "http://localhost:43210/oauth/callback/abc",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    expect(callback.origin + callback.pathname).toBe("http://localhost:43210/oauth/callback/abc");
    expect(callback.searchParams.get("code")).toMatch(/^[0-9a-f]{32}$/);
    expect(f.counts.auth).toBe(1);
  });

  test("the code is appended as text: a callback_url with its own query comes back broken", async () => {
    const f = fake();
    const callback = await auth(f, {
      callback_url: "http://localhost:43210/oauth/callback?state=abc",
      code_challenge: pkce().challenge,
      code_challenge_method: "S256",
    });
    expect(callback.searchParams.get("state")).toMatch(/^abc\?code=[0-9a-f]{32}$/);
    expect(callback.searchParams.get("code")).toBeNull();
  });

  test("deny redirects with error=access_denied and no code", async () => {
    const f = fake({ authorize: "deny" });
    const callback = await auth(f, {
      callback_url: `${CALLBACK}/abc`,
      code_challenge: pkce().challenge,
      code_challenge_method: "S256",
    });
    expect(callback.searchParams.get("error")).toBe("access_denied");
    expect(callback.searchParams.get("code")).toBeNull();
    expect(callback.pathname).toBe("/callback/abc");
  });

  const badCallbacks: Array<{ name: string; params: Record<string, string> }> = [
    { name: "no callback_url", params: {} },
    { name: "a non-loopback http callback_url", params: { callback_url: "http://example.com/cb" } },
    {
      name: "an unknown code_challenge_method",
      params: { callback_url: CALLBACK, code_challenge: "x", code_challenge_method: "S512" },
    },
  ];
  for (const { name, params } of badCallbacks) {
    test(`${name} gets a 400 page, not a redirect`, async () => {
      const f = fake();
      const res = await fetch(authUrl(f, params), { redirect: "manual" });
      expect(res.status).toBe(400);
      expect(res.headers.get("location")).toBeNull();
      expect(res.headers.get("content-type")).toStartWith("text/html");
    });
  }

  test("https callbacks and loopback callbacks on any port are accepted", async () => {
    const f = fake();
    for (const callback_url of [
      "https://app.example.com/cb",
      "http://127.0.0.1:1/cb",
      "http://localhost:65000/",
    ]) {
      expect((await auth(f, { callback_url })).searchParams.get("code")).toBeTruthy();
    }
  });
});

describe("OpenRouter fake: POST /api/v1/auth/keys and GET /api/v1/key", () => {
  test("S256 happy path: code + verifier → sk-or-v1 key, which /api/v1/key accepts", async () => {
    const f = fake();
    const { verifier, challenge } = pkce();
    const code = await codeFor(f, challenge, "S256", { key_label: "authctl" });
    const answer = await exchange(f, { code, code_verifier: verifier, code_challenge_method: "S256" });
    expect(answer.status).toBe(200);
    expect(answer.json.key).toMatch(/^sk-or-v1-[0-9a-f]{64}$/);
    expect(answer.json.user_id).toMatch(/^user_/);
    expect(f.issuedKeys).toEqual([
      { key: answer.json.key as string, label: "authctl", userId: answer.json.user_id as string },
    ]);

    expect(await currentKey(f, answer.json.key as string)).toEqual({
      status: 200,
      json: {
        data: {
          label: "authctl",
          limit: null,
          limit_remaining: null,
          usage: 0,
          is_free_tier: false,
          expires_at: null,
        },
      },
    });
    expect(f.counts).toEqual({ auth: 1, exchange: 1, key: 1 });
  });

  test("plain method: the verifier is the challenge; key_label in the body wins", async () => {
    const f = fake({ userId: null });
    const code = await codeFor(f, "the-plain-verifier", "plain", { key_label: "from-query" });
    const body = {
      code,
      code_verifier: "the-plain-verifier",
      code_challenge_method: "plain",
      key_label: "from-body",
    };
    const answer = await exchange(f, body);
    expect(answer.status).toBe(200);
    expect(answer.json.user_id).toBeNull();
    expect(f.issuedKeys[0]?.label).toBe("from-body");
  });

  test("a method other than the one sent to /auth gets 400 Invalid code_challenge_method", async () => {
    const f = fake();
    const { verifier, challenge } = pkce();
    const code = await codeFor(f, challenge, "S256");
    expect(await exchange(f, { code, code_verifier: verifier, code_challenge_method: "plain" })).toEqual({
      status: 400,
      json: { error: { message: "Invalid code_challenge_method", code: 400 } },
    });
  });

  test("a wrong verifier gets 403, and an unknown code too", async () => {
    const f = fake();
    const { challenge } = pkce();
    const code = await codeFor(f, challenge);
    expect(
      await exchange(f, { code, code_verifier: pkce().verifier, code_challenge_method: "S256" }),
    ).toEqual({
      status: 403,
      json: INVALID_CODE,
    });
    expect(await exchange(f, { code: "nope", code_verifier: "x", code_challenge_method: "S256" })).toEqual({
      status: 403,
      json: INVALID_CODE,
    });
    expect(f.issuedKeys).toEqual([]);
  });

  test("a code is single-use: the second exchange gets 403", async () => {
    const f = fake();
    const { verifier, challenge } = pkce();
    const code = await codeFor(f, challenge);
    const body = { code, code_verifier: verifier, code_challenge_method: "S256" };
    expect((await exchange(f, body)).status).toBe(200);
    expect(await exchange(f, body)).toEqual({ status: 403, json: INVALID_CODE });
    expect(f.issuedKeys).toHaveLength(1);
  });

  test("a body that is not JSON gets 400; GET on the exchange gets 405", async () => {
    const f = fake();
    expect((await exchange(f, "code=abc")).status).toBe(400);
    const res = await fetch(`${f.url}/api/v1/auth/keys`);
    expect(res.status).toBe(405);
    await res.arrayBuffer();
  });

  test("/api/v1/key with an unknown key or none gets 401 User not found.", async () => {
    const f = fake();
    expect(await currentKey(f, "sk-or-v1-unknown")).toEqual({
      status: 401,
      json: { error: { message: "User not found.", code: 401 } },
    });
    const res = await fetch(`${f.url}/api/v1/key`);
    expect(res.status).toBe(401);
    await res.arrayBuffer();
  });

  test("deleting a key is not documented, so it is not served", async () => {
    const f = fake();
    const init = { method: "DELETE", headers: { authorization: "Bearer sk-or-v1-x" } };
    const res = await fetch(`${f.url}/api/v1/key`, init);
    expect(res.status).toBe(405);
    await res.arrayBuffer();
  });
});
