/**
 * Proves test/fakes/{kimi,minimax,qwen}.ts behave as providers.md §8 and §6 document, with plain
 * fetch and no authctl code.
 */
import { describe, expect, test } from "bun:test";

import { KIMI_CLIENT_ID, KIMI_MSH_HEADERS, startKimiFake, type KimiFakeOptions } from "../fakes/kimi.ts";
import {
  MINIMAX_CLIENT_ID,
  MINIMAX_SCOPE,
  startMiniMaxFake,
  type MiniMaxFakeOptions,
} from "../fakes/minimax.ts";
import {
  QWEN_CLIENT_ID,
  QWEN_FREE_TIER_ERROR,
  QWEN_SCOPE,
  startQwenFake,
  type QwenFakeOptions,
} from "../fakes/qwen.ts";
import { cleanupAfterEach, pkce, postForm, sendJson } from "./_helpers.ts";

const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

const { started } = cleanupAfterEach();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Kimi fake (§8)", () => {
  const kimi = (o: KimiFakeOptions = {}) => started(startKimiFake(o));
  const device = (url: string, headers = KIMI_MSH_HEADERS) =>
    postForm(`${url}/api/oauth/device_authorization`, { client_id: KIMI_CLIENT_ID }, headers);
  const poll = (url: string, deviceCode: string) =>
    postForm(
      `${url}/api/oauth/token`,
      { client_id: KIMI_CLIENT_ID, device_code: deviceCode, grant_type: DEVICE_CODE_GRANT },
      KIMI_MSH_HEADERS,
    );
  const refresh = (url: string, refreshToken: string) =>
    postForm(
      `${url}/api/oauth/token`,
      { client_id: KIMI_CLIENT_ID, grant_type: "refresh_token", refresh_token: refreshToken },
      KIMI_MSH_HEADERS,
    );

  test("device flow: pending until approved, then the token; the device code is single-use", async () => {
    const f = kimi();
    const start = await device(f.url);
    expect(start.status).toBe(200);
    expect(start.json).toEqual({
      user_code: expect.stringMatching(/^[A-Z]{4}-[A-Z]{4}$/),
      device_code: expect.any(String),
      verification_uri: `${f.url}/device`,
      verification_uri_complete: `${f.url}/device?user_code=${start.json.user_code}`,
      expires_in: 600,
      interval: 5,
    });
    const pending = await poll(f.url, start.json.device_code);
    expect(pending).toEqual({
      status: 400,
      json: expect.objectContaining({ error: "authorization_pending" }),
    });
    f.approve(start.json.user_code);
    const done = await poll(f.url, start.json.device_code);
    expect(done.status).toBe(200);
    expect(done.json).toEqual({
      access_token: f.issued.accessTokens[0],
      refresh_token: f.issued.refreshTokens[0],
      expires_in: 3600,
      scope: "kimi-code",
      token_type: "Bearer",
    });
    expect((await poll(f.url, start.json.device_code)).json.error).toBe("invalid_grant");
    expect(f.counts).toEqual({ device: 1, poll: 3, refresh: 0 });
    expect(f.requests[0]!.headers["x-msh-platform"]).toBe("kimi_cli");
  });

  test("requests without X-Msh-Platform / X-Msh-Device-Id, with JSON or another client get refused", async () => {
    const f = kimi();
    const { "X-Msh-Device-Id": _, ...noDeviceId } = KIMI_MSH_HEADERS;
    expect((await device(f.url, noDeviceId)).status).toBe(400);
    expect((await device(f.url, { "X-Msh-Device-Id": "abc" })).status).toBe(400);
    const json = await sendJson(
      `${f.url}/api/oauth/device_authorization`,
      { client_id: KIMI_CLIENT_ID },
      KIMI_MSH_HEADERS,
    );
    expect(json.status).toBe(400);
    const other = await postForm(
      `${f.url}/api/oauth/device_authorization`,
      { client_id: "other" },
      KIMI_MSH_HEADERS,
    );
    expect(other).toEqual({ status: 401, json: expect.objectContaining({ error: "invalid_client" }) });
    f.options.requireMshHeaders = false;
    expect((await device(f.url, {})).status).toBe(200);
  });

  test("expired_token after expiry, access_denied after deny, 429/500 while polling", async () => {
    const f = kimi({ expiresIn: 0 });
    const expired = await device(f.url);
    expect((await poll(f.url, expired.json.device_code)).json.error).toBe("expired_token");
    f.options.expiresIn = 600;
    const denied = await device(f.url);
    f.deny(denied.json.user_code);
    expect((await poll(f.url, denied.json.device_code)).json.error).toBe("access_denied");
    const other = await device(f.url);
    f.options.poll = "rate_limited_429";
    expect((await poll(f.url, other.json.device_code)).status).toBe(429);
    f.options.poll = "server_error_500";
    expect((await poll(f.url, other.json.device_code)).status).toBe(500);
  });

  test("refresh rotates: the new pair works, the used refresh token gets 401", async () => {
    const f = kimi();
    const start = await device(f.url);
    f.approve(start.json.user_code);
    const first = (await poll(f.url, start.json.device_code)).json;
    const second = await refresh(f.url, first.refresh_token);
    expect(second.status).toBe(200);
    expect(second.json.refresh_token).not.toBe(first.refresh_token);
    expect(second.json.access_token).not.toBe(first.access_token);
    expect((await refresh(f.url, first.refresh_token)).status).toBe(401);
    f.options.refresh = "forbidden_403";
    expect((await refresh(f.url, second.json.refresh_token)).status).toBe(403);
    f.options.refresh = "rate_limited_429";
    expect((await refresh(f.url, second.json.refresh_token)).status).toBe(429);
    f.options.refresh = "ok"; // the failures above did not consume it
    expect((await refresh(f.url, second.json.refresh_token)).status).toBe(200);
    expect(f.counts.refresh).toBe(5);
  });
});

describe("MiniMax fake (opencode minimax.ts, global and China account hosts)", () => {
  const minimax = (o: MiniMaxFakeOptions = {}) => started(startMiniMaxFake(o));
  const code = (url: string, challenge: string, extra: Record<string, string> = {}) =>
    postForm(`${url}/oauth2/device/code`, {
      client_id: MINIMAX_CLIENT_ID,
      scope: MINIMAX_SCOPE,
      code_challenge: challenge,
      code_challenge_method: "S256",
      state: "state-123",
      ...extra,
    });
  const poll = (url: string, userCode: string, verifier: string) =>
    postForm(`${url}/oauth2/token`, {
      grant_type: DEVICE_CODE_GRANT,
      client_id: MINIMAX_CLIENT_ID,
      user_code: userCode,
      code_verifier: verifier,
    });

  test("code answer: ms deadline, ms interval, echoed state; pending then success", async () => {
    const f = minimax();
    const { verifier, challenge } = pkce();
    const before = Date.now();
    const start = await code(f.url, challenge);
    expect(start.status).toBe(200);
    expect(start.json).toEqual({
      verification_uri: `${f.url}/device?user_code=${start.json.user_code}`,
      user_code: expect.any(String),
      expired_in: expect.any(Number),
      interval: 2000,
      state: "state-123",
    });
    expect(start.json.expired_in).toBeGreaterThanOrEqual(before + 600_000);
    expect(start.json.expired_in).toBeLessThanOrEqual(Date.now() + 600_000);

    expect(await poll(f.url, start.json.user_code, verifier)).toEqual({
      status: 200,
      json: { status: "pending" },
    });
    f.approve(start.json.user_code);
    const done = await poll(f.url, start.json.user_code, verifier);
    expect(done.status).toBe(200);
    expect(done.json).toEqual({
      status: "success",
      access_token: f.issued.accessTokens[0],
      refresh_token: f.issued.refreshTokens[0],
      expired_in: expect.any(Number),
      resource_url: `${f.url}/anthropic`,
    });
    expect(done.json.expired_in).toBeGreaterThan(Date.now() + 3_500_000);
    expect((await poll(f.url, start.json.user_code, verifier)).json.error).toBe("invalid_grant");
  });

  test("wrong verifier, missing PKCE/state, other client, JSON body are refused", async () => {
    const f = minimax();
    const { challenge } = pkce();
    const start = await code(f.url, challenge);
    f.approve(start.json.user_code);
    const wrong = await poll(f.url, start.json.user_code, pkce().verifier);
    expect(wrong).toEqual({
      status: 400,
      json: expect.objectContaining({ status: "error", error: "invalid_grant" }),
    });
    expect((await code(f.url, challenge, { code_challenge_method: "plain" })).status).toBe(400);
    expect((await code(f.url, "short")).status).toBe(400);
    expect((await code(f.url, challenge, { state: "" })).status).toBe(400);
    expect((await code(f.url, challenge, { client_id: "other" })).status).toBe(401);
    const json = await sendJson(`${f.url}/oauth2/device/code`, {
      client_id: MINIMAX_CLIENT_ID,
      scope: MINIMAX_SCOPE,
      code_challenge: challenge,
    });
    expect(json.status).toBe(400);
  });

  test("state can come back wrong or missing; deadline passed and denial are errors", async () => {
    const f = minimax({ state: "wrong" });
    const { verifier, challenge } = pkce();
    expect((await code(f.url, challenge)).json.state).not.toBe("state-123");
    f.options.state = "missing";
    expect((await code(f.url, challenge)).json).not.toHaveProperty("state");
    f.options.expiresInMs = 0;
    const expired = await code(f.url, challenge);
    expect((await poll(f.url, expired.json.user_code, verifier)).json.error).toBe("expired_token");
    f.options.expiresInMs = 600_000;
    const denied = await code(f.url, challenge);
    f.deny(denied.json.user_code);
    expect((await poll(f.url, denied.json.user_code, verifier)).json).toMatchObject({
      status: "error",
      error: "access_denied",
    });
  });

  test("envelope base_resp: success carries base_resp.status_code 0 and no status", async () => {
    const f = minimax({ envelope: "base_resp" });
    const { verifier, challenge } = pkce();
    const start = await code(f.url, challenge);
    f.approve(start.json.user_code);
    const done = await poll(f.url, start.json.user_code, verifier);
    expect(done.json).toMatchObject({
      base_resp: { status_code: 0 },
      access_token: f.issued.accessTokens[0],
    });
    expect(done.json).not.toHaveProperty("status");
  });

  test("refresh rotates by default; resource_url can be omitted", async () => {
    const f = minimax({ resourceUrl: null });
    const { verifier, challenge } = pkce();
    const start = await code(f.url, challenge);
    f.approve(start.json.user_code);
    const first = (await poll(f.url, start.json.user_code, verifier)).json;
    expect(first).not.toHaveProperty("resource_url");
    const refresh = (token: string) =>
      postForm(`${f.url}/oauth2/token`, {
        grant_type: "refresh_token",
        refresh_token: token,
        client_id: MINIMAX_CLIENT_ID,
      });
    const second = await refresh(first.refresh_token);
    expect(second.json).toMatchObject({ status: "success", access_token: expect.any(String) });
    expect(second.json.refresh_token).not.toBe(first.refresh_token);
    expect((await refresh(first.refresh_token)).status).toBe(401);
    f.options.rotateRefreshToken = false;
    const third = await refresh(second.json.refresh_token);
    expect(third.json.refresh_token).toBe(second.json.refresh_token);
    expect((await refresh(second.json.refresh_token)).status).toBe(200);
    expect(f.counts).toEqual({ code: 1, poll: 1, refresh: 4 });
  });
});

describe("Qwen fake (§6)", () => {
  const qwen = (o: QwenFakeOptions = {}) => started(startQwenFake(o));
  const device = (
    url: string,
    challenge: string,
    headers: Record<string, string> = { "x-request-id": crypto.randomUUID() },
  ) =>
    postForm(
      `${url}/api/v1/oauth2/device/code`,
      {
        client_id: QWEN_CLIENT_ID,
        scope: QWEN_SCOPE,
        code_challenge: challenge,
        code_challenge_method: "S256",
      },
      headers,
    );
  const poll = (url: string, deviceCode: string, verifier: string) =>
    postForm(`${url}/api/v1/oauth2/token`, {
      grant_type: DEVICE_CODE_GRANT,
      client_id: QWEN_CLIENT_ID,
      device_code: deviceCode,
      code_verifier: verifier,
    });
  const refresh = (url: string, token: string) =>
    postForm(`${url}/api/v1/oauth2/token`, {
      grant_type: "refresh_token",
      refresh_token: token,
      client_id: QWEN_CLIENT_ID,
    });

  test("device flow with PKCE: 400 pending, 429 slow_down when too fast, then the token with resource_url", async () => {
    const f = qwen();
    const { verifier, challenge } = pkce();
    const start = await device(f.url, challenge);
    expect(start.status).toBe(200);
    expect(start.json).toEqual({
      device_code: expect.any(String),
      user_code: expect.any(String),
      verification_uri: `${f.url}/authorize`,
      verification_uri_complete: expect.stringContaining(`user_code=${start.json.user_code}`),
      expires_in: 600,
    });
    expect(await poll(f.url, start.json.device_code, verifier)).toEqual({
      status: 400,
      json: expect.objectContaining({ error: "authorization_pending" }),
    });
    // default 2 s between polls
    expect(await poll(f.url, start.json.device_code, verifier)).toEqual({
      status: 429,
      json: expect.objectContaining({ error: "slow_down" }),
    });
    f.options.minPollIntervalMs = 50;
    await sleep(60);
    f.approve(start.json.user_code);
    const done = await poll(f.url, start.json.device_code, verifier);
    expect(done.status).toBe(200);
    expect(done.json).toEqual({
      access_token: f.issued.accessTokens[0],
      refresh_token: f.issued.refreshTokens[0],
      token_type: "Bearer",
      expires_in: 3600,
      scope: QWEN_SCOPE,
      resource_url: new URL(f.url).host,
    });
    expect(f.counts).toEqual({ device: 1, poll: 3, refresh: 0 });
  });

  test("401 for an unknown or expired device code; wrong verifier, denial, missing x-request-id", async () => {
    const f = qwen({ minPollIntervalMs: 0 });
    const { verifier, challenge } = pkce();
    expect((await poll(f.url, "nope", verifier)).status).toBe(401);
    f.options.expiresIn = 0;
    const expired = await device(f.url, challenge);
    expect(await poll(f.url, expired.json.device_code, verifier)).toEqual({
      status: 401,
      json: expect.objectContaining({ error: "expired_token" }),
    });
    f.options.expiresIn = 600;
    const start = await device(f.url, challenge);
    expect((await poll(f.url, start.json.device_code, pkce().verifier)).json.error).toBe("invalid_grant");
    f.deny(start.json.user_code);
    expect((await poll(f.url, start.json.device_code, verifier)).json.error).toBe("access_denied");
    expect((await device(f.url, challenge, {})).status).toBe(400);
    const noPkce = await postForm(
      `${f.url}/api/v1/oauth2/device/code`,
      { client_id: QWEN_CLIENT_ID, scope: QWEN_SCOPE },
      { "x-request-id": "x" },
    );
    expect(noPkce.status).toBe(400);
  });

  test("discontinued: the device endpoint answers the free-tier error; refresh still works", async () => {
    const f = qwen({ minPollIntervalMs: 0 });
    const { verifier, challenge } = pkce();
    const start = await device(f.url, challenge);
    f.approve(start.json.user_code);
    const tokens = (await poll(f.url, start.json.device_code, verifier)).json;
    f.options.discontinued = true;
    const closed = await device(f.url, challenge);
    expect(closed.status).toBe(403);
    expect(closed.json.error_description).toBe(QWEN_FREE_TIER_ERROR);
    expect(QWEN_FREE_TIER_ERROR).toStartWith("Qwen OAuth free tier quota exceeded");
    expect((await refresh(f.url, tokens.refresh_token)).status).toBe(200);
  });

  test("refresh: no rotation by default, optional rotation, 400/401 failures", async () => {
    const f = qwen({ minPollIntervalMs: 0 });
    const { verifier, challenge } = pkce();
    const start = await device(f.url, challenge);
    f.approve(start.json.user_code);
    const tokens = (await poll(f.url, start.json.device_code, verifier)).json;
    const kept = await refresh(f.url, tokens.refresh_token);
    expect(kept.status).toBe(200);
    expect(kept.json).not.toHaveProperty("refresh_token");
    f.options.rotateRefreshToken = true;
    const rotated = await refresh(f.url, tokens.refresh_token);
    expect(rotated.json.refresh_token).toEqual(expect.any(String));
    expect((await refresh(f.url, tokens.refresh_token)).status).toBe(400);
    f.options.refresh = "unauthorized_401";
    expect((await refresh(f.url, rotated.json.refresh_token)).status).toBe(401);
    f.options.refresh = "ok";
    f.options.omitExpiresIn = true;
    expect((await refresh(f.url, rotated.json.refresh_token)).json).not.toHaveProperty("expires_in");
    const other = await postForm(`${f.url}/api/v1/oauth2/token`, {
      grant_type: "refresh_token",
      refresh_token: rotated.json.refresh_token,
      client_id: "other",
    });
    expect(other.status).toBe(401);
  });
});
