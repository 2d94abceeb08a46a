/**
 * Proves test/fakes/github.ts behaves as providers.md §5 documents, with plain fetch and no
 * authctl code: the device flow (Accept decides JSON or form, HTTP 200 with `error` while
 * polling, slow_down, expiry, denial) and the Copilot token exchange. Intervals are 1 s here.
 */
import { describe, expect, test } from "bun:test";

import {
  DEVICE_CODE_GRANT,
  GITHUB_COPILOT_CLIENT_ID,
  GITHUB_USER_CODE,
  startGitHubFake,
  type GitHubFake,
  type GitHubFakeOptions,
} from "../fakes/github.ts";
import { cleanupAfterEach, getJson, sendForm, sendJson, type Json } from "./_helpers.ts";

const { started } = cleanupAfterEach();
const fake = (options: GitHubFakeOptions = {}): GitHubFake =>
  started(startGitHubFake({ interval: 1, ...options }));

const JSON_ACCEPT = { accept: "application/json" };

async function postForm(
  url: string,
  params: Record<string, string>,
  headers: Record<string, string> = JSON_ACCEPT,
) {
  const res = await sendForm(url, params, { headers });
  return { status: res.status, contentType: res.headers.get("content-type"), text: await res.text() };
}

async function startDevice(
  f: GitHubFake,
): Promise<{ device_code: string; user_code: string; interval: number }> {
  const params = { client_id: GITHUB_COPILOT_CLIENT_ID, scope: "read:user" };
  const answer = await postForm(`${f.url}/login/device/code`, params);
  expect(answer.status).toBe(200);
  return JSON.parse(answer.text);
}

async function poll(f: GitHubFake, deviceCode: string, params: Record<string, string> = {}): Promise<Json> {
  const answer = await postForm(`${f.url}/login/oauth/access_token`, {
    client_id: GITHUB_COPILOT_CLIENT_ID,
    device_code: deviceCode,
    grant_type: DEVICE_CODE_GRANT,
    ...params,
  });
  expect(answer.status).toBe(200); // GitHub answers 200 even with an error
  expect(answer.contentType).toStartWith("application/json");
  return JSON.parse(answer.text) as Json;
}

/** A device code whose GitHub token was issued (respecting the 1 s interval). */
async function githubToken(f: GitHubFake): Promise<string> {
  const device = await startDevice(f);
  f.approve(device.user_code);
  const answer = await poll(f, device.device_code);
  return answer.access_token as string;
}

const get = (url: string, authorization?: string) => getJson(url, authorization ? { authorization } : {});

describe("GitHub fake: device flow", () => {
  test("the Accept header decides between a JSON and a form-encoded answer", async () => {
    const f = fake({ interval: 5 });
    const request = { client_id: GITHUB_COPILOT_CLIENT_ID, scope: "read:user" };
    const json = await postForm(`${f.url}/login/device/code`, request);
    expect(json.contentType).toStartWith("application/json");
    expect(JSON.parse(json.text)).toEqual({
      device_code: expect.stringMatching(/^[0-9a-f]{40}$/),
      user_code: GITHUB_USER_CODE,
      verification_uri: `${f.url}/login/device`,
      expires_in: 899,
      interval: 5,
    });

    const form = await postForm(`${f.url}/login/device/code`, { client_id: GITHUB_COPILOT_CLIENT_ID }, {});
    expect(form.contentType).toStartWith("application/x-www-form-urlencoded");
    const params = new URLSearchParams(form.text);
    expect(params.get("user_code")).toBe(GITHUB_USER_CODE);
    expect(params.get("interval")).toBe("5");

    const pending = await postForm(
      `${f.url}/login/oauth/access_token`,
      {
        client_id: GITHUB_COPILOT_CLIENT_ID,
        device_code: params.get("device_code")!,
        grant_type: DEVICE_CODE_GRANT,
      },
      {},
    );
    expect(pending.status).toBe(200);
    expect(new URLSearchParams(pending.text).get("error")).toBe("authorization_pending");
  });

  test("a JSON request body is accepted too", async () => {
    const f = fake();
    const res = await sendJson(
      `${f.url}/login/device/code`,
      { client_id: GITHUB_COPILOT_CLIENT_ID, scope: "read:user" },
      JSON_ACCEPT,
    );
    expect(((await res.json()) as Json).user_code).toBe(GITHUB_USER_CODE);
  });

  test("pending until approved, then a gho_ token once; polls respect the interval", async () => {
    const f = fake();
    const device = await startDevice(f);
    expect(device.interval).toBe(1);
    expect(await poll(f, device.device_code)).toMatchObject({ error: "authorization_pending" });
    await Bun.sleep(1000);
    expect(await poll(f, device.device_code)).toMatchObject({ error: "authorization_pending" });
    f.approve(device.user_code);
    await Bun.sleep(1000);
    const token = await poll(f, device.device_code);
    expect(token).toEqual({
      access_token: expect.stringMatching(/^gho_[A-Za-z0-9]+$/),
      token_type: "bearer",
      scope: "read:user",
    });
    await Bun.sleep(1000);
    expect(await poll(f, device.device_code)).toMatchObject({ error: "incorrect_device_code" });
    expect(f.counts).toMatchObject({ device: 1, poll: 4 });
  });

  test("polling sooner than the interval gets slow_down with interval + 5, which then applies", async () => {
    const f = fake();
    const device = await startDevice(f);
    expect(await poll(f, device.device_code)).toMatchObject({ error: "authorization_pending" });
    expect(await poll(f, device.device_code)).toMatchObject({ error: "slow_down", interval: 6 });
    await Bun.sleep(1000); // enough for the old interval, not for the new one
    expect(await poll(f, device.device_code)).toMatchObject({ error: "slow_down", interval: 11 });
  });

  test("the device code expires after expires_in", async () => {
    const f = fake({ expiresIn: 1 });
    const device = await startDevice(f);
    expect(await poll(f, device.device_code)).toMatchObject({ error: "authorization_pending" });
    await Bun.sleep(1100);
    expect(await poll(f, device.device_code)).toMatchObject({ error: "expired_token" });
  });

  test("a denied request gets access_denied", async () => {
    const f = fake();
    const device = await startDevice(f);
    f.deny(device.user_code);
    expect(await poll(f, device.device_code)).toMatchObject({ error: "access_denied" });
  });

  test("approving a user code nobody asked for throws", () => {
    const f = fake();
    expect(() => f.approve("XXXX-XXXX")).toThrow("no pending device code");
  });

  const badPolls: Array<{ name: string; params: Record<string, string>; error: string }> = [
    { name: "an unknown device code", params: { device_code: "nope" }, error: "incorrect_device_code" },
    {
      name: "another grant_type",
      params: { grant_type: "authorization_code" },
      error: "unsupported_grant_type",
    },
    {
      name: "another client_id",
      params: { client_id: "Ov23li8tweQw6odWQebz" },
      error: "incorrect_client_credentials",
    },
  ];
  for (const { name, params, error } of badPolls) {
    test(`a poll with ${name} gets HTTP 200 ${error}`, async () => {
      const f = fake();
      const device = await startDevice(f);
      expect(await poll(f, device.device_code, params)).toMatchObject({ error });
    });
  }

  test("the expected client_id is configurable, and checked by /login/device/code too", async () => {
    const f = fake({ clientId: "Ov23li8tweQw6odWQebz" });
    const answer = await postForm(`${f.url}/login/device/code`, { client_id: GITHUB_COPILOT_CLIENT_ID });
    expect(JSON.parse(answer.text)).toMatchObject({ error: "incorrect_client_credentials" });
  });
});

describe("GitHub fake: Copilot token exchange and /user", () => {
  test("the GitHub token (Bearer or token) buys a Copilot token with expires_at and refresh_in", async () => {
    const f = fake({ copilotTokenTtl: 600 });
    const gho = await githubToken(f);
    for (const authorization of [`Bearer ${gho}`, `token ${gho}`]) {
      const before = Math.floor(Date.now() / 1000);
      const answer = await get(`${f.apiUrl}/copilot_internal/v2/token`, authorization);
      expect(answer.status).toBe(200);
      const { token, expires_at, refresh_in } = answer.json as {
        token: string;
        expires_at: number;
        refresh_in: number;
      };
      expect(expires_at - before).toBeGreaterThanOrEqual(600);
      expect(expires_at - before).toBeLessThanOrEqual(601);
      expect(refresh_in).toBe(300);
      expect(token).toStartWith(`tid=`);
      expect(token).toContain(`;exp=${expires_at};`);
      expect(token).toContain(";proxy-ep=proxy.individual.githubcopilot.com;");
    }
    expect(f.counts.copilot).toBe(2);
    expect(f.issued.copilotTokens).toHaveLength(2);
  });

  test("an account without a seat gets 404 Not Found", async () => {
    const f = fake({ seat: false });
    const gho = await githubToken(f);
    expect(await get(`${f.apiUrl}/copilot_internal/v2/token`, `Bearer ${gho}`)).toEqual({
      status: 404,
      json: { message: "Not Found" },
    });
  });

  test("an unknown GitHub token, or none, gets 401 Bad credentials", async () => {
    const f = fake();
    for (const authorization of ["Bearer gho_unknown", undefined]) {
      expect(await get(`${f.apiUrl}/copilot_internal/v2/token`, authorization)).toEqual({
        status: 401,
        json: { message: "Bad credentials" },
      });
    }
    expect(f.counts.copilot).toBe(2);
  });

  test("GET /api/user with the GitHub token names the user", async () => {
    const f = fake();
    const gho = await githubToken(f);
    expect(await get(`${f.apiUrl}/user`, `Bearer ${gho}`)).toEqual({
      status: 200,
      json: { login: "octocat" },
    });
    expect((await get(`${f.apiUrl}/user`, "Bearer gho_unknown")).status).toBe(401);
  });
});
