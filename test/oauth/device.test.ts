import { describe, expect, test } from "bun:test";
import {
  classifyDeviceTokenResponse,
  deviceAuthorizationRequest,
  deviceTokenRequest,
  processDeviceAuthorizationResponse,
} from "../../src/oauth/device.ts";
import { createRecordingFetch, expectAuthctlError, htmlResponse, jsonResponse, httpOver } from "./_fakes.ts";

const NOW = 1_700_000_000_000;
const processAuth = (response: Response) => processDeviceAuthorizationResponse(response, { now: NOW });

const GITHUB_ANSWER = {
  device_code: "3584d83530557fdd1f46af8289938c8ef79f9dc5",
  user_code: "WDJB-MJHT",
  verification_uri: "https://github.com/login/device",
  expires_in: 899,
  interval: 5,
};

describe("deviceAuthorizationRequest", () => {
  test("a form request sends client_id and the scopes", async () => {
    const { fetch, requests } = createRecordingFetch(jsonResponse(200, GITHUB_ANSWER));
    await deviceAuthorizationRequest(httpOver(fetch), {
      url: "https://github.com/login/device/code",
      clientId: "Iv1.b507a08c87ecfe98",
      scopes: ["read:user"],
      body: "form",
    });
    const [request] = requests;
    expect(request!.method).toBe("POST");
    expect(request!.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(request!.headers.get("accept")).toBe("application/json");
    expect(request!.body).toBe("client_id=Iv1.b507a08c87ecfe98&scope=read%3Auser");
  });

  test("PKCE and extras are sent when given, in JSON too", async () => {
    const { fetch, requests } = createRecordingFetch(jsonResponse(200, GITHUB_ANSWER));
    await deviceAuthorizationRequest(httpOver(fetch), {
      url: "https://chat.qwen.ai/api/v1/oauth2/device/code",
      clientId: "f0304373",
      scopes: ["openid", "profile"],
      pkce: { challenge: "chal", method: "S256" },
      body: "json",
      extra: { audience: "x" },
      headers: { "x-request-id": "req-1" },
    });
    const [request] = requests;
    expect(request!.headers.get("content-type")).toBe("application/json");
    expect(request!.headers.get("x-request-id")).toBe("req-1");
    expect(request!.body).toBe(
      '{"client_id":"f0304373","scope":"openid profile","code_challenge":"chal","code_challenge_method":"S256","audience":"x"}',
    );
  });
});

describe("processDeviceAuthorizationResponse", () => {
  test("GitHub's answer gives the codes, the interval and the deadline", async () => {
    expect(await processAuth(jsonResponse(200, GITHUB_ANSWER))).toEqual({
      ...GITHUB_ANSWER,
      expires_at: NOW + 899_000,
      raw: GITHUB_ANSWER,
    });
  });

  test("verification_url (Google's spelling) and verification_uri_complete are accepted; interval defaults to 5 s", async () => {
    const body = {
      device_code: "dc",
      user_code: "ABCD",
      verification_url: "https://www.google.com/device",
      verification_uri_complete: "https://www.google.com/device?user_code=ABCD",
      expires_in: "1800",
    };
    const result = await processAuth(jsonResponse(200, body));
    expect(result.verification_uri).toBe("https://www.google.com/device");
    expect(result.verification_uri_complete).toBe("https://www.google.com/device?user_code=ABCD");
    expect(result.interval).toBe(5);
    expect(result.expires_in).toBe(1800);
  });

  test("an OAuth error is an OAUTH error", async () => {
    await expectAuthctlError(
      processAuth(jsonResponse(400, { error: "invalid_client", error_description: "unknown client" })),
      "OAUTH",
      "device authorization endpoint refused: invalid_client (unknown client)",
    );
  });

  test("an HTML page is a PROTOCOL error", async () => {
    await expectAuthctlError(
      processAuth(htmlResponse(404)),
      "PROTOCOL",
      "device authorization endpoint answered HTTP 404 (text/html), not a JSON object",
    );
  });

  const malformed: [string, Record<string, unknown>, string][] = [
    [
      "no device_code",
      { ...GITHUB_ANSWER, device_code: undefined },
      'device authorization endpoint answered without "device_code"',
    ],
    [
      "no user_code",
      { ...GITHUB_ANSWER, user_code: undefined },
      'device authorization endpoint answered without "user_code"',
    ],
    [
      "no verification URI",
      { ...GITHUB_ANSWER, verification_uri: undefined },
      'device authorization endpoint answered without "verification_uri"',
    ],
    [
      "a plain-http verification URI",
      { ...GITHUB_ANSWER, verification_uri: "http://evil.example/device" },
      'device authorization endpoint answered an invalid "verification_uri" (expected an https URL)',
    ],
    [
      "no expires_in",
      { ...GITHUB_ANSWER, expires_in: undefined },
      'device authorization endpoint answered without "expires_in"',
    ],
    [
      "a negative interval",
      { ...GITHUB_ANSWER, interval: -1 },
      'device authorization endpoint answered an invalid "interval" (expected a positive number of seconds)',
    ],
  ];
  for (const [name, body, message] of malformed) {
    test(`${name} is a PROTOCOL error`, async () => {
      await expectAuthctlError(processAuth(jsonResponse(200, body)), "PROTOCOL", message);
    });
  }
});

test("a zero interval is taken as absent: the RFC 8628 §3.2 default of 5 s", async () => {
  expect((await processAuth(jsonResponse(200, { ...GITHUB_ANSWER, interval: 0 }))).interval).toBe(5);
});

describe("deviceTokenRequest", () => {
  test("sends the device_code grant with the verifier when PKCE was used", async () => {
    const { fetch, requests } = createRecordingFetch(jsonResponse(200, { access_token: "at" }));
    await deviceTokenRequest(httpOver(fetch), {
      tokenUrl: "https://chat.qwen.ai/api/v1/oauth2/token",
      clientId: "f0304373",
      deviceCode: "dc-1",
      codeVerifier: "ver",
      body: "form",
    });
    expect(requests[0]!.body).toBe(
      "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=dc-1&client_id=f0304373&code_verifier=ver",
    );
  });
});

describe("classifyDeviceTokenResponse", () => {
  const classify = (response: Response) => classifyDeviceTokenResponse(response, { now: NOW });

  test("pending, slow_down (with and without an interval), expired and denied, with HTTP 200 or 400", async () => {
    expect(await classify(jsonResponse(200, { error: "authorization_pending" }))).toEqual({
      kind: "pending",
    });
    expect(await classify(jsonResponse(400, { error: "authorization_pending" }))).toEqual({
      kind: "pending",
    });
    expect(await classify(jsonResponse(400, { error: "slow_down" }))).toEqual({ kind: "slow_down" });
    expect(await classify(jsonResponse(200, { error: "slow_down", interval: 10 }))).toEqual({
      kind: "slow_down",
      interval: 10,
    });
    expect(await classify(jsonResponse(200, { error: "slow_down", interval: "soon" }))).toEqual({
      kind: "slow_down",
    });
    expect(await classify(jsonResponse(400, { error: "expired_token" }))).toEqual({ kind: "expired" });
    expect(await classify(jsonResponse(200, { error: "access_denied" }))).toEqual({ kind: "denied" });
  });

  test("another OAuth error is returned as an OAUTH error", async () => {
    const outcome = await classify(
      jsonResponse(200, { error: "incorrect_device_code", error_description: "bad code" }),
    );
    expect(outcome.kind).toBe("error");
    if (outcome.kind !== "error") throw new Error("unreachable");
    expect(outcome.error.message).toBe("token endpoint refused: incorrect_device_code (bad code)");
  });

  test("a token answer is checked like any token answer", async () => {
    const outcome = await classify(
      jsonResponse(200, { access_token: "gho_x", token_type: "bearer", scope: "read:user" }),
    );
    expect(outcome).toEqual({
      kind: "token",
      token: {
        access_token: "gho_x",
        token_type: "Bearer",
        scope: "read:user",
        raw: { access_token: "gho_x", token_type: "bearer", scope: "read:user" },
      },
    });
    await expectAuthctlError(
      classify(jsonResponse(200, { token_type: "bearer" })),
      "PROTOCOL",
      'token endpoint answered without "access_token"',
    );
  });

  test("an HTML page while polling is a PROTOCOL error", async () => {
    await expectAuthctlError(
      classify(htmlResponse(502)),
      "PROTOCOL",
      "token endpoint answered HTTP 502 (text/html), not a JSON object",
    );
  });
});
