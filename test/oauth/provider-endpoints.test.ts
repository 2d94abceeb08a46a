/**
 * The provider endpoints that are not OAuth, as request/process pairs: each process function fed
 * hand-built Responses, malformed ones included, with exact messages (the model is oauth4webapi's
 * test/device_flow.test.ts). The device starts of OpenAI and MiniMax are driven through their
 * provider steps with a manual clock: their requests now carry the client's timeout and the
 * secure-endpoint check.
 */
import { describe, expect, test } from "bun:test";
import type { HttpClient } from "../../src/deps.ts";
import { HttpError, NetworkError, OAuthError } from "../../src/errors.ts";
import { createHttpClient, RETRY_DELAY_MS } from "../../src/io/http.ts";
import { createFakeClock } from "../helpers/deps.ts";
import { DEFAULT_TIMEOUT_MS } from "../../src/oauth/_http.ts";
import { processCreateApiKeyResponse } from "../../src/providers/anthropic-endpoints.ts";
import { codeAssistRequest, processCodeAssistResponse } from "../../src/providers/gemini-endpoints.ts";
import {
  copilotTokenRequest,
  processCopilotTokenResponse,
} from "../../src/providers/github-copilot-token.ts";
import {
  processDeviceCodeResponse,
  processDevicePollResponse,
} from "../../src/providers/minimax-endpoints.ts";
import { MINIMAX_CODING_PLAN } from "../../src/providers/minimax.ts";
import {
  processApiKeyExchangeResponse,
  processDeviceTokenPollResponse,
  processDeviceUserCodeResponse,
} from "../../src/providers/openai-endpoints.ts";
import { OPENAI_CHATGPT } from "../../src/providers/openai.ts";
import { keyExchangeRequest, processKeyExchangeResponse } from "../../src/providers/openrouter-endpoints.ts";
import type { HookDeps, OAuthSettings } from "../../src/providers/types.ts";
import {
  createHangingFetch,
  createRecordingFetch,
  expectAuthctlError,
  htmlResponse,
  jsonResponse,
} from "./_fakes.ts";

/**
 * The fake clock of test/helpers/deps.ts (what createTestDeps uses): `timeoutSignal` fires when
 * the clock passes it, `sleep` moves it on at once. `fire(ms)` waits until a request has armed its
 * timeout, then moves the clock past it.
 */
function createManualClock() {
  const clock = createFakeClock(1_700_000_000_000);
  return {
    sleep: clock.sleep,
    timeoutSignal: clock.timeoutSignal,
    now: clock.now,
    async fire(ms: number) {
      for (let i = 0; i < 200 && clock.pending() === 0; i++) await Bun.sleep(1);
      if (clock.pending() === 0) throw new Error("no request armed a timeout");
      await clock.advance(ms);
    },
  };
}

function client(fetch: typeof globalThis.fetch, clock = createManualClock()): HttpClient {
  return createHttpClient({ fetch, sleep: clock.sleep, timeoutSignal: clock.timeoutSignal });
}

function hookDeps(http: HttpClient, sleep: HookDeps["sleep"] = async () => {}): HookDeps {
  return {
    apiUrl: "https://api.example.com",
    env: {},
    home: "/nonexistent",
    http,
    now: () => 1_700_000_000_000,
    sleep,
    hostname: () => "host",
    randomBytes: (n) => new Uint8Array(n).fill(7),
  };
}

const NOW = 1_700_000_000_000;

describe("OpenAI's device start (request and timeout)", () => {
  const settings = (usercode: string): OAuthSettings => ({
    ...OPENAI_CHATGPT.oauth,
    deviceAuthorizationUrl: usercode,
    tokenUrl: "https://auth.example.com/oauth/token",
  });
  const start = OPENAI_CHATGPT.steps!.authorize!.startDevice!;

  test("a user-code request that never answers fails after the default 30 s, on deps' clock", async () => {
    const clock = createManualClock();
    const http = client(createHangingFetch(), clock);
    const pending = start(
      hookDeps(http, clock.sleep),
      settings("https://auth.example.com/api/accounts/deviceauth/usercode"),
    );
    const failed = expectAuthctlError(
      pending,
      "NETWORK",
      "the OpenAI device login at auth.example.com:443 did not answer within 30 s",
    );
    await clock.fire(DEFAULT_TIMEOUT_MS);
    const error = await failed;
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).timeoutMs).toBe(30_000);
  });

  test("a plain-http user-code URL off loopback is refused before anything is sent", async () => {
    const { fetch, requests } = createRecordingFetch();
    await expectAuthctlError(
      start(hookDeps(client(fetch)), settings("http://auth.example.com/api/accounts/deviceauth/usercode")),
      "USAGE",
      "the OpenAI device login must use https (plain http is allowed only for 127.0.0.1, ::1 and localhost): http://auth.example.com",
    );
    expect(requests).toHaveLength(0);
  });

  test("the poll goes to …/deviceauth/token with the device_auth_id, as JSON, with a timeout", async () => {
    const { fetch, requests } = createRecordingFetch(
      jsonResponse(200, { device_auth_id: "da-1", user_code: "ABCD-1234", interval: "7" }),
      jsonResponse(200, { authorization_code: "ac-1", code_verifier: "cv-1" }),
    );
    const started = await start(
      hookDeps(client(fetch)),
      settings("https://auth.example.com/api/accounts/deviceauth/usercode"),
    );
    expect(started).toMatchObject({
      userCode: "ABCD-1234",
      verificationUri: "https://auth.example.com/codex/device",
      interval: 7,
    });
    expect(await started.classify(await started.poll())).toMatchObject({
      kind: "token",
      token: { access_token: "ac-1" },
    });
    expect(requests.map((r) => [r.method, r.url, r.body])).toEqual([
      [
        "POST",
        "https://auth.example.com/api/accounts/deviceauth/usercode",
        `{"client_id":"${OPENAI_CHATGPT.oauth.clientId}"}`,
      ],
      [
        "POST",
        "https://auth.example.com/api/accounts/deviceauth/token",
        '{"device_auth_id":"da-1","user_code":"ABCD-1234"}',
      ],
    ]);
    expect(requests.every((r) => r.signal instanceof AbortSignal && r.redirect === "manual")).toBe(true);
  });
});

describe("MiniMax's device start (request and timeout)", () => {
  const settings: OAuthSettings = {
    ...MINIMAX_CODING_PLAN.oauth,
    deviceAuthorizationUrl: "https://account.example.com/oauth2/device/code",
    tokenUrl: "https://account.example.com/oauth2/token",
  };
  const start = MINIMAX_CODING_PLAN.steps!.authorize!.startDevice!;

  test("a device-code request that never answers fails after the default 30 s, on deps' clock", async () => {
    const clock = createManualClock();
    const http = client(createHangingFetch(), clock);
    const pending = start(hookDeps(http, clock.sleep), settings);
    const failed = expectAuthctlError(
      pending,
      "NETWORK",
      "the MiniMax device authorization at account.example.com:443 did not answer within 30 s",
    );
    await clock.fire(DEFAULT_TIMEOUT_MS);
    await failed;
  });

  test("a plain-http device URL off loopback is refused before anything is sent", async () => {
    const { fetch, requests } = createRecordingFetch();
    await expectAuthctlError(
      start(hookDeps(client(fetch)), {
        ...settings,
        deviceAuthorizationUrl: "http://account.example.com/oauth2/device/code",
      }),
      "USAGE",
      "the MiniMax device authorization must use https (plain http is allowed only for 127.0.0.1, ::1 and localhost): http://account.example.com",
    );
    expect(requests).toHaveLength(0);
  });
});

describe("processKeyExchangeResponse (OpenRouter)", () => {
  test("200 with a key and a user id", async () => {
    expect(
      await processKeyExchangeResponse(jsonResponse(200, { key: "sk-or-v1-abc", user_id: "user_1" })),
    ).toEqual({
      key: "sk-or-v1-abc",
      userId: "user_1",
    });
  });

  test("a user id that is not a string only labels nothing", async () => {
    expect(await processKeyExchangeResponse(jsonResponse(200, { key: "sk-or-v1-abc", user_id: 7 }))).toEqual({
      key: "sk-or-v1-abc",
      userId: undefined,
    });
  });

  const refused: Array<[string, Response, string]> = [
    [
      "403 in OpenRouter's words",
      jsonResponse(403, { error: { message: "Invalid code or code_verifier", code: 403 } }),
      "OpenRouter refused the key exchange (HTTP 403: Invalid code or code_verifier)",
    ],
    [
      "400 with a string error",
      jsonResponse(400, { error: "method mismatch" }),
      "OpenRouter refused the key exchange (HTTP 400: method mismatch)",
    ],
    [
      "a 502 HTML page, by status only",
      htmlResponse(502),
      "OpenRouter refused the key exchange (HTTP 502: HTTP 502)",
    ],
  ];
  for (const [name, response, message] of refused) {
    test(`refuses ${name}`, async () => {
      const error = await expectAuthctlError(processKeyExchangeResponse(response), "AUTH_FAILED", message);
      expect(error).toBeInstanceOf(HttpError);
      expect((error as HttpError).status).toBe(response.status);
    });
  }

  const broken: Array<[string, Response]> = [
    ["200 without a key", jsonResponse(200, { user_id: "u" })],
    ["200 with an empty key", jsonResponse(200, { key: "" })],
    ["200 with a numeric key", jsonResponse(200, { key: 42 })],
    ["200 with HTML", htmlResponse(200)],
    ["200 with a JSON array", jsonResponse(200, [{ key: "k" }])],
  ];
  for (const [name, response] of broken) {
    test(`${name} is a protocol error`, async () => {
      await expectAuthctlError(
        processKeyExchangeResponse(response),
        "PROTOCOL",
        "OpenRouter's key exchange answered HTTP 200 without a key",
      );
    });
  }

  test("the request is the documented JSON body, once, with a timeout and no redirects", async () => {
    const { fetch, requests } = createRecordingFetch(jsonResponse(500, {}));
    const response = await keyExchangeRequest(client(fetch), {
      url: "https://openrouter.ai/api/v1/auth/keys",
      code: "c-1",
      verifier: "v-1",
    });
    expect(response.status).toBe(500);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.body).toBe('{"code":"c-1","code_verifier":"v-1","code_challenge_method":"S256"}');
    expect(requests[0]!.headers.get("content-type")).toBe("application/json");
    expect(requests[0]!.redirect).toBe("manual");
  });
});

describe("processCreateApiKeyResponse (Anthropic)", () => {
  test("200 with raw_key", async () => {
    expect(await processCreateApiKeyResponse(jsonResponse(200, { raw_key: "sk-ant-api03-x" }))).toBe(
      "sk-ant-api03-x",
    );
  });

  const refused: Array<[string, Response, string]> = [
    [
      "403 with Anthropic's message",
      jsonResponse(403, { error: { type: "permission_error", message: "no permission" } }),
      "Anthropic did not create an API key (no permission)",
    ],
    [
      "200 without raw_key",
      jsonResponse(200, { key: "x" }),
      "Anthropic did not create an API key (HTTP 200)",
    ],
    [
      "200 with an empty raw_key",
      jsonResponse(200, { raw_key: "" }),
      "Anthropic did not create an API key (HTTP 200)",
    ],
    ["a 503 HTML page", htmlResponse(503), "Anthropic did not create an API key (HTTP 503)"],
  ];
  for (const [name, response, message] of refused) {
    test(`refuses ${name}`, async () => {
      const error = await expectAuthctlError(processCreateApiKeyResponse(response), "AUTH_FAILED", message);
      expect(error.hint).toBe(
        "your account may lack permission to create keys; use 'authctl login anthropic --method key'",
      );
    });
  }
});

describe("processDeviceUserCodeResponse (OpenAI)", () => {
  test("user_code or the older usercode; interval as a string; 5 s when absent", async () => {
    expect(
      await processDeviceUserCodeResponse(jsonResponse(200, { device_auth_id: "d", usercode: "U-1" })),
    ).toEqual({
      deviceAuthId: "d",
      userCode: "U-1",
      interval: 5,
    });
  });

  test("404: device login is off for this account", async () => {
    await expectAuthctlError(
      processDeviceUserCodeResponse(jsonResponse(404, {})),
      "AUTH_FAILED",
      "device-code login is not enabled for this ChatGPT account",
    );
  });

  const broken: Array<[string, Response, number]> = [
    ["200 without device_auth_id", jsonResponse(200, { user_code: "U" }), 200],
    ["200 with a numeric user_code", jsonResponse(200, { device_auth_id: "d", user_code: 5 }), 200],
    ["200 with HTML", htmlResponse(200), 200],
    ["500 carrying a user code", jsonResponse(500, { device_auth_id: "d", user_code: "U" }), 500],
  ];
  for (const [name, response, status] of broken) {
    test(`${name} is a protocol error`, async () => {
      await expectAuthctlError(
        processDeviceUserCodeResponse(response),
        "PROTOCOL",
        `OpenAI's device login answered HTTP ${status} without a user code`,
      );
    });
  }
});

describe("processDeviceTokenPollResponse (OpenAI)", () => {
  const outcomes: Array<[string, Response, unknown]> = [
    ["403 while the user has not approved", jsonResponse(403, {}), { kind: "pending" }],
    ["404 likewise", new Response("", { status: 404 }), { kind: "pending" }],
    [
      "deviceauth_authorization_pending",
      jsonResponse(400, { error: "deviceauth_authorization_pending" }),
      { kind: "pending" },
    ],
    ["slow_down", jsonResponse(400, { error: "slow_down" }), { kind: "slow_down" }],
  ];
  for (const [name, response, outcome] of outcomes) {
    test(`${name}`, async () => {
      expect(await processDeviceTokenPollResponse(response)).toEqual(outcome as never);
    });
  }

  test("an approved answer without code_verifier is an error naming the status", async () => {
    const outcome = await processDeviceTokenPollResponse(jsonResponse(200, { authorization_code: "ac" }));
    expect(outcome.kind).toBe("error");
    expect((outcome as { error: Error }).error.message).toBe("OpenAI's device login answered HTTP 200");
  });
});

describe("processApiKeyExchangeResponse (OpenAI)", () => {
  test("200 with an access_token is the API key", async () => {
    expect(await processApiKeyExchangeResponse(jsonResponse(200, { access_token: "sk-proj-1" }))).toBe(
      "sk-proj-1",
    );
  });

  test("an OAuth error is an OAuthError with its fields", async () => {
    const error = await expectAuthctlError(
      processApiKeyExchangeResponse(
        jsonResponse(401, { error: "invalid_grant", error_description: "no org" }),
      ),
      "OAUTH",
      "OpenAI API key exchange refused: invalid_grant (no org)",
    );
    expect(error).toMatchObject({ error: "invalid_grant", description: "no org", status: 401 });
  });

  test("a 500 without an OAuth error, and a 200 without access_token", async () => {
    await expectAuthctlError(
      processApiKeyExchangeResponse(jsonResponse(500, {})),
      "PROTOCOL",
      "OpenAI API key exchange answered HTTP 500",
    );
    await expectAuthctlError(
      processApiKeyExchangeResponse(jsonResponse(200, {})),
      "PROTOCOL",
      'OpenAI API key exchange answered without "access_token"',
    );
  });
});

describe("processDeviceCodeResponse (MiniMax)", () => {
  const expected = { state: "st-1", now: NOW };
  const good = {
    user_code: "MM-1",
    verification_uri: "https://account.minimax.io/device?user_code=MM-1",
    expired_in: NOW + 600_000,
    interval: 2000,
    state: "st-1",
  };

  test("the deadline in ms and the interval in ms become epoch ms and seconds", async () => {
    expect(await processDeviceCodeResponse(jsonResponse(200, good), expected)).toEqual({
      userCode: "MM-1",
      verificationUri: good.verification_uri,
      expiresAt: NOW + 600_000,
      interval: 2,
    });
  });

  test("without a deadline or an interval: 10 minutes and 5 s", async () => {
    const { expired_in: _e, interval: _i, ...rest } = good;
    expect(await processDeviceCodeResponse(jsonResponse(200, rest), expected)).toMatchObject({
      expiresAt: NOW + 600_000,
      interval: 5,
    });
  });

  test("another state: the answer belongs to another login", async () => {
    await expectAuthctlError(
      processDeviceCodeResponse(jsonResponse(200, { ...good, state: "other" }), expected),
      "AUTH_FAILED",
      "MiniMax echoed a different state: this answer does not belong to this login",
    );
  });

  test("a plain-http verification_uri off loopback is refused", async () => {
    await expectAuthctlError(
      processDeviceCodeResponse(
        jsonResponse(200, { ...good, verification_uri: "http://evil.example/device" }),
        expected,
      ),
      "PROTOCOL",
      'MiniMax\'s device authorization answered an invalid "verification_uri" (expected an https URL)',
    );
  });

  const broken: Array<[string, Response, number]> = [
    ["200 without user_code", jsonResponse(200, { ...good, user_code: undefined }), 200],
    ["200 without verification_uri", jsonResponse(200, { ...good, verification_uri: undefined }), 200],
    ["429 carrying a user code", jsonResponse(429, good), 429],
    ["200 with HTML", htmlResponse(200), 200],
  ];
  for (const [name, response, status] of broken) {
    test(`${name} is a protocol error`, async () => {
      await expectAuthctlError(
        processDeviceCodeResponse(response, expected),
        "PROTOCOL",
        `MiniMax's device authorization answered HTTP ${status} without a user code`,
      );
    });
  }
});

describe("processDevicePollResponse (MiniMax)", () => {
  test("pending, success with tokens, expired, denied", async () => {
    expect(await processDevicePollResponse(jsonResponse(200, { status: "pending" }), NOW)).toEqual({
      kind: "pending",
    });
    expect(await processDevicePollResponse(jsonResponse(400, { error: "expired_token" }), NOW)).toEqual({
      kind: "expired",
    });
    expect(await processDevicePollResponse(jsonResponse(400, { error: "access_denied" }), NOW)).toEqual({
      kind: "denied",
    });
    const ok = await processDevicePollResponse(
      jsonResponse(200, {
        status: "success",
        access_token: "mm-at",
        refresh_token: "mm-rt",
        expired_in: NOW + 5000,
      }),
      NOW,
    );
    expect(ok).toMatchObject({ kind: "token", token: { access_token: "mm-at", expires_at: NOW + 5000 } });
  });

  test("a base_resp error and a 500 are OAuth errors with MiniMax's words", async () => {
    const envelope = await processDevicePollResponse(
      jsonResponse(200, { base_resp: { status_code: 1004, status_msg: "login fail" } }),
      NOW,
    );
    expect(envelope.kind).toBe("error");
    const error = (envelope as { error: Error }).error;
    expect(error).toBeInstanceOf(OAuthError);
    expect(error.message).toBe("MiniMax refused the login: login fail (base_resp 1004)");
    const server = await processDevicePollResponse(htmlResponse(500), NOW);
    expect((server as { error: Error }).error.message).toBe("MiniMax refused the login: HTTP 500");
    expect(((server as { error: Error }).error as OAuthError).status).toBe(500);
  });
});

describe("processCodeAssistResponse (Gemini)", () => {
  test("a 200 JSON object", async () => {
    expect(
      await processCodeAssistResponse(jsonResponse(200, { currentTier: { id: "standard-tier" } })),
    ).toEqual({
      currentTier: { id: "standard-tier" },
    });
  });

  test("a 403 quotes Google's message; HTML is refused", async () => {
    const error = await expectAuthctlError(
      processCodeAssistResponse(jsonResponse(403, { error: { code: 403, message: "Precondition Failed" } })),
      "PROTOCOL",
      "Code Assist API answered HTTP 403: Precondition Failed",
    );
    expect((error as HttpError).status).toBe(403);
    await expectAuthctlError(
      processCodeAssistResponse(htmlResponse(200)),
      "PROTOCOL",
      "Code Assist API answered HTTP 200 (text/html), not a JSON object",
    );
  });

  test("the operation GET is retried once after a 503, the pause on deps' clock; a POST is not", async () => {
    const clock = createManualClock();
    const { fetch, requests } = createRecordingFetch(
      jsonResponse(503, {}),
      jsonResponse(200, { done: true }),
      jsonResponse(503, {}),
    );
    const http = client(fetch, clock);
    const start = clock.now();
    const get = await codeAssistRequest(http, {
      url: "https://cloudcode-pa.googleapis.com/v1internal/operations/1",
      accessToken: "t",
    });
    expect(get.status).toBe(200);
    expect(clock.now() - start).toBe(RETRY_DELAY_MS);
    const post = await codeAssistRequest(http, {
      url: "https://cloudcode-pa.googleapis.com/v1internal:onboardUser",
      accessToken: "t",
      body: { tierId: "free-tier" },
    });
    expect(post.status).toBe(503);
    expect(requests.map((r) => r.method)).toEqual(["GET", "GET", "POST"]);
  });
});

describe("processCopilotTokenResponse (GitHub Copilot)", () => {
  test("200 with token and expires_at in seconds", async () => {
    expect(
      await processCopilotTokenResponse(
        jsonResponse(200, { token: "tid=1;exp=2", expires_at: 1_700_000_600 }),
      ),
    ).toEqual({
      token: "tid=1;exp=2",
      expiresAt: 1_700_000_600_000,
    });
  });

  const refused: Array<[string, Response, string, string]> = [
    [
      "401",
      jsonResponse(401, { message: "Bad credentials" }),
      "AUTH_FAILED",
      "GitHub rejected the stored token (HTTP 401: Bad credentials)",
    ],
    ["403", jsonResponse(403, {}), "AUTH_FAILED", "this GitHub account has no Copilot access (HTTP 403)"],
    ["404", jsonResponse(404, {}), "AUTH_FAILED", "this GitHub account has no Copilot access (HTTP 404)"],
    [
      "200 with HTML",
      htmlResponse(200),
      "PROTOCOL",
      "the Copilot token exchange answered HTTP 200 with no JSON",
    ],
    [
      "200 without a token",
      jsonResponse(200, { expires_at: 1 }),
      "PROTOCOL",
      "the Copilot token exchange answered HTTP 200 without a token",
    ],
    [
      "200 with expires_at as a string",
      jsonResponse(200, { token: "t", expires_at: "1" }),
      "PROTOCOL",
      "the Copilot token exchange answered HTTP 200 without a token",
    ],
    [
      "502 with JSON",
      jsonResponse(502, { token: "t", expires_at: 1 }),
      "PROTOCOL",
      "the Copilot token exchange answered HTTP 502 without a token",
    ],
  ];
  for (const [name, response, code, message] of refused) {
    test(`refuses ${name}`, async () => {
      await expectAuthctlError(processCopilotTokenResponse(response), code as never, message);
    });
  }

  test("a plain-http exchange URL off loopback is refused", async () => {
    const { fetch, requests } = createRecordingFetch();
    await expectAuthctlError(
      copilotTokenRequest(client(fetch), {
        url: "http://ghe.example.com/api/v3/copilot_internal/v2/token",
        githubToken: "gho_x",
      }),
      "USAGE",
      "the Copilot token exchange must use https (plain http is allowed only for 127.0.0.1, ::1 and localhost): http://ghe.example.com",
    );
    expect(requests).toHaveLength(0);
  });
});

describe("a key or token from a provider's server is printable ASCII (RFC 6749 Appendix A.12)", () => {
  // CR LF would add a header line where exec --proxy sends it; ESC would drive the terminal `token` prints to.
  const HOSTILE = "sk-abc\r\nx-injected: yes";
  test("each exchange refuses one that is not, without quoting it", async () => {
    await expectAuthctlError(
      processKeyExchangeResponse(jsonResponse(200, { key: HOSTILE })),
      "PROTOCOL",
      "OpenRouter's key exchange answered a key that is not printable ASCII; nothing was stored",
    );
    await expectAuthctlError(
      processCreateApiKeyResponse(jsonResponse(200, { raw_key: "sk-ant-\u001b]0;x\u0007" })),
      "PROTOCOL",
      "Anthropic created an API key that is not printable ASCII; it was not stored",
    );
    await expectAuthctlError(
      processApiKeyExchangeResponse(jsonResponse(200, { access_token: HOSTILE })),
      "PROTOCOL",
      'OpenAI API key exchange answered an invalid "access_token" (expected printable ASCII, RFC 6749 Appendix A.12)',
    );
    await expectAuthctlError(
      processCopilotTokenResponse(jsonResponse(200, { token: HOSTILE, expires_at: 2_000_000_000 })),
      "PROTOCOL",
      "the Copilot token exchange answered HTTP 200 without a token",
    );
  });
});
