import { describe, expect, test } from "bun:test";
import { OAuthError } from "../../src/errors.ts";
import {
  authorizationCodeGrantRequest,
  processTokenResponse,
  refreshTokenGrantRequest,
} from "../../src/oauth/token.ts";
import { createRecordingFetch, expectAuthctlError, htmlResponse, jsonResponse, httpOver } from "./_fakes.ts";

const NOW = 1_700_000_000_000;
const processAnswer = (response: Response) => processTokenResponse(response, { now: NOW });

describe("authorizationCodeGrantRequest", () => {
  test("a form body carries the exact bytes, the form Content-Type and Accept: application/json", async () => {
    const { fetch, requests } = createRecordingFetch(
      jsonResponse(200, { access_token: "at", token_type: "Bearer" }),
    );
    await authorizationCodeGrantRequest(httpOver(fetch), {
      tokenUrl: "https://auth.openai.com/oauth/token",
      clientId: "app_test",
      code: "the code",
      redirectUri: "http://localhost:1455/auth/callback",
      codeVerifier: "verifier-1",
      body: "form",
    });
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request!.url).toBe("https://auth.openai.com/oauth/token");
    expect(request!.method).toBe("POST");
    expect(request!.redirect).toBe("manual");
    expect(request!.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(request!.headers.get("accept")).toBe("application/json");
    expect(request!.headers.get("authorization")).toBeNull();
    expect(request!.signal).toBeInstanceOf(AbortSignal);
    expect(request!.body).toBe(
      "grant_type=authorization_code&code=the+code&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback" +
        "&client_id=app_test&code_verifier=verifier-1",
    );
  });

  test("a JSON body carries the exact bytes and Content-Type, with provider extras after the standard fields", async () => {
    const { fetch, requests } = createRecordingFetch(jsonResponse(200, { access_token: "at" }));
    await authorizationCodeGrantRequest(httpOver(fetch), {
      tokenUrl: "https://platform.claude.com/v1/oauth/token",
      clientId: "9d1c250a",
      code: "abc",
      redirectUri: "http://localhost:53692/callback",
      codeVerifier: "ver",
      body: "json",
      extra: { state: "st" },
      headers: { "User-Agent": "authctl-test" },
    });
    const [request] = requests;
    expect(request!.headers.get("content-type")).toBe("application/json");
    expect(request!.headers.get("user-agent")).toBe("authctl-test");
    expect(request!.body).toBe(
      '{"grant_type":"authorization_code","code":"abc","redirect_uri":"http://localhost:53692/callback",' +
        '"client_id":"9d1c250a","code_verifier":"ver","state":"st"}',
    );
  });

  test("an installed-app client secret goes in the body (client_secret_post), never in a header", async () => {
    const { fetch, requests } = createRecordingFetch(jsonResponse(200, { access_token: "at" }));
    await authorizationCodeGrantRequest(httpOver(fetch), {
      tokenUrl: "https://oauth2.googleapis.com/token",
      clientId: "681255809395.apps.googleusercontent.com",
      clientSecret: "GOCSPX-public",
      code: "c",
      redirectUri: "http://127.0.0.1:8085/oauth2callback",
      codeVerifier: "v",
      body: "form",
    });
    const [request] = requests;
    expect(new URLSearchParams(request!.body).get("client_secret")).toBe("GOCSPX-public");
    expect(request!.body).toContain(
      "&client_id=681255809395.apps.googleusercontent.com&client_secret=GOCSPX-public&",
    );
    expect(request!.headers.get("authorization")).toBeNull();
  });

  test("client_id is left out when the provider has none", async () => {
    const { fetch, requests } = createRecordingFetch(jsonResponse(200, { access_token: "at" }));
    await authorizationCodeGrantRequest(httpOver(fetch), {
      tokenUrl: "https://auth.example.com/token",
      code: "c",
      redirectUri: "http://127.0.0.1:3000/callback",
      codeVerifier: "v",
      body: "form",
    });
    expect(requests[0]!.body).toBe(
      "grant_type=authorization_code&code=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fcallback&code_verifier=v",
    );
  });

  test("an extra parameter may not replace a standard one", async () => {
    const { fetch, requests } = createRecordingFetch();
    await expectAuthctlError(
      authorizationCodeGrantRequest(httpOver(fetch), {
        tokenUrl: "https://auth.example.com/token",
        code: "c",
        redirectUri: "r",
        codeVerifier: "v",
        body: "form",
        extra: { code_verifier: "other" },
      }),
      "USAGE",
      'the extra token request parameter "code_verifier" would replace a standard one',
    );
    expect(requests).toHaveLength(0);
  });

  test("a plain-http token URL on a public host is refused before anything is sent", async () => {
    const { fetch, requests } = createRecordingFetch();
    await expectAuthctlError(
      authorizationCodeGrantRequest(httpOver(fetch), {
        tokenUrl: "http://auth.example.com/token",
        code: "c",
        redirectUri: "r",
        codeVerifier: "v",
        body: "form",
      }),
      "USAGE",
      "the token endpoint must use https (plain http is allowed only for 127.0.0.1, ::1 and localhost): http://auth.example.com",
    );
    expect(requests).toHaveLength(0);
  });
});

describe("refreshTokenGrantRequest", () => {
  test("a form refresh sends grant_type, refresh_token, client_id and the scope when given", async () => {
    const { fetch, requests } = createRecordingFetch(jsonResponse(200, { access_token: "at" }));
    await refreshTokenGrantRequest(httpOver(fetch), {
      tokenUrl: "https://auth.kimi.com/api/oauth/token",
      clientId: "17e5f671",
      refreshToken: "rt-1",
      scope: "openid profile",
      body: "form",
    });
    expect(requests[0]!.body).toBe(
      "grant_type=refresh_token&refresh_token=rt-1&client_id=17e5f671&scope=openid+profile",
    );
  });

  test("a JSON refresh leaves out the scope when none is given", async () => {
    const { fetch, requests } = createRecordingFetch(jsonResponse(200, { access_token: "at" }));
    await refreshTokenGrantRequest(httpOver(fetch), {
      tokenUrl: "https://platform.claude.com/v1/oauth/token",
      clientId: "9d1c250a",
      refreshToken: "rt-1",
      body: "json",
    });
    expect(requests[0]!.body).toBe(
      '{"grant_type":"refresh_token","refresh_token":"rt-1","client_id":"9d1c250a"}',
    );
    expect(requests[0]!.headers.get("content-type")).toBe("application/json");
  });
});

describe("processTokenResponse", () => {
  test("a full answer becomes a TokenSet with the server's real expiry", async () => {
    const body = {
      access_token: "at-1",
      token_type: "bearer",
      refresh_token: "rt-1",
      id_token: "id-1",
      scope: "openid profile",
      expires_in: 3600,
      resource_url: "portal.qwen.ai",
    };
    expect(await processAnswer(jsonResponse(200, body))).toEqual({
      access_token: "at-1",
      token_type: "Bearer",
      refresh_token: "rt-1",
      id_token: "id-1",
      scope: "openid profile",
      expires_in: 3600,
      expires_at: NOW + 3_600_000,
      raw: body,
    });
  });

  test("a minimal answer without token_type or expiry is accepted as a Bearer token", async () => {
    expect(await processAnswer(jsonResponse(200, { access_token: "at" }))).toEqual({
      access_token: "at",
      token_type: "Bearer",
      raw: { access_token: "at" },
    });
  });

  test("an access or refresh token that is not printable ASCII is refused, without quoting it (RFC 6749 A.12, A.17)", async () => {
    // test/e2e/token-charset.test.ts checks the access token through the binary; the refresh token
    // is stored and sent back on the next refresh, so it is held to the same rule.
    for (const [field, value, appendix] of [
      ["access_token", "at\r\nx-injected: yes", "A.12"],
      ["access_token", "at-\u001b]0;owned\u0007", "A.12"],
      ["refresh_token", "rt\r\nx-injected: yes", "A.17"],
      ["refresh_token", "rt-\u001b]0;owned\u0007", "A.17"],
    ] as const) {
      const error = await expectAuthctlError(
        processAnswer(jsonResponse(200, { access_token: "at", refresh_token: "rt", [field]: value })),
        "PROTOCOL",
        `token endpoint answered an invalid "${field}" (expected printable ASCII, RFC 6749 Appendix ${appendix})`,
      );
      expect(error.message).not.toContain(value);
    }
  });

  test("201 is tolerated", async () => {
    expect((await processAnswer(jsonResponse(201, { access_token: "at" }))).access_token).toBe("at");
  });

  test("expires_in as a numeric string is accepted", async () => {
    const tokens = await processAnswer(jsonResponse(200, { access_token: "at", expires_in: "7200" }));
    expect(tokens.expires_in).toBe(7200);
    expect(tokens.expires_at).toBe(NOW + 7_200_000);
  });

  test("null optional fields count as absent, and a scope array is joined", async () => {
    const tokens = await processAnswer(
      jsonResponse(200, {
        access_token: "at",
        refresh_token: null,
        id_token: null,
        expires_in: null,
        scope: ["a", "b"],
      }),
    );
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.expires_at).toBeUndefined();
    expect(tokens.scope).toBe("a b");
  });

  test("400 invalid_grant with a description is an OAUTH error showing both verbatim", async () => {
    const error = await expectAuthctlError(
      processAnswer(
        jsonResponse(400, { error: "invalid_grant", error_description: "grant request is invalid" }),
      ),
      "OAUTH",
      "token endpoint refused: invalid_grant (grant request is invalid)",
    );
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({
      error: "invalid_grant",
      description: "grant request is invalid",
      status: 400,
    });
  });

  test("401 invalid_client without a description", async () => {
    await expectAuthctlError(
      processAnswer(jsonResponse(401, { error: "invalid_client" })),
      "OAUTH",
      "token endpoint refused: invalid_client",
    );
  });

  test("an error sent with HTTP 200 is still an OAUTH error", async () => {
    const error = await expectAuthctlError(
      processAnswer(
        jsonResponse(200, {
          error: "bad_verification_code",
          error_description: "The code passed is incorrect or expired.",
        }),
      ),
      "OAUTH",
      "token endpoint refused: bad_verification_code (The code passed is incorrect or expired.)",
    );
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).status).toBe(200);
  });

  test("a multi-line error description is folded to one line", async () => {
    await expectAuthctlError(
      processAnswer(
        jsonResponse(400, { error: "invalid_request", error_description: "line one\n\tline two\r\n" }),
      ),
      "OAUTH",
      "token endpoint refused: invalid_request (line one line two)",
    );
  });

  test("an HTML 500 page is a PROTOCOL error naming the status and content type", async () => {
    await expectAuthctlError(
      processAnswer(htmlResponse(500)),
      "PROTOCOL",
      "token endpoint answered HTTP 500 (text/html), not a JSON object",
    );
  });

  test("a body that is not JSON, with no content type, names both", async () => {
    await expectAuthctlError(
      processAnswer(new Response("upstream connect error", { status: 503, headers: { "Content-Type": "" } })),
      "PROTOCOL",
      "token endpoint answered HTTP 503 (no content type), not a JSON object",
    );
  });

  test("JSON labelled text/plain is parsed (some servers mislabel it)", async () => {
    const response = new Response('{"access_token":"at"}', {
      status: 200,
      headers: { "Content-Type": "text/plain" },
    });
    expect((await processAnswer(response)).access_token).toBe("at");
  });

  test("a JSON array is not a token answer", async () => {
    await expectAuthctlError(
      processAnswer(jsonResponse(200, [])),
      "PROTOCOL",
      "token endpoint answered HTTP 200 (application/json), not a JSON object",
    );
  });

  test("a non-success status without an OAuth error is a PROTOCOL error quoting the server's message", async () => {
    await expectAuthctlError(
      processAnswer(jsonResponse(403, { error: { code: 403, message: "Invalid code or code_verifier" } })),
      "PROTOCOL",
      "token endpoint answered HTTP 403: Invalid code or code_verifier",
    );
    await expectAuthctlError(
      processAnswer(jsonResponse(502, {})),
      "PROTOCOL",
      "token endpoint answered HTTP 502 without an OAuth error",
    );
  });

  const malformed: [string, Record<string, unknown>, string][] = [
    ["a missing access_token", { token_type: "Bearer" }, 'token endpoint answered without "access_token"'],
    [
      "an empty access_token",
      { access_token: "" },
      'token endpoint answered an invalid "access_token" (expected a non-empty string)',
    ],
    [
      "a numeric access_token",
      { access_token: 12345 },
      'token endpoint answered an invalid "access_token" (expected a non-empty string)',
    ],
    [
      "a non-string token_type",
      { access_token: "secret-at", token_type: 1 },
      'token endpoint answered an invalid "token_type" (expected a string)',
    ],
    [
      "a DPoP token",
      { access_token: "secret-at", token_type: "DPoP" },
      'token endpoint issued a token of type "DPoP"; authctl uses only bearer tokens',
    ],
    [
      "a negative expires_in",
      { access_token: "secret-at", expires_in: -1 },
      'token endpoint answered an invalid "expires_in" (expected a positive number of seconds)',
    ],
    [
      "a zero expires_in",
      { access_token: "secret-at", expires_in: 0 },
      'token endpoint answered an invalid "expires_in" (expected a positive number of seconds)',
    ],
    [
      "a word as expires_in",
      { access_token: "secret-at", expires_in: "soon" },
      'token endpoint answered an invalid "expires_in" (expected a positive number of seconds)',
    ],
    [
      "a numeric refresh_token",
      { access_token: "secret-at", refresh_token: 42 },
      'token endpoint answered an invalid "refresh_token" (expected a string)',
    ],
    [
      "an object id_token",
      { access_token: "secret-at", id_token: {} },
      'token endpoint answered an invalid "id_token" (expected a string)',
    ],
    [
      "a numeric scope",
      { access_token: "secret-at", scope: 7 },
      'token endpoint answered an invalid "scope" (expected a string)',
    ],
  ];
  for (const [name, body, message] of malformed) {
    test(`${name} is a PROTOCOL error that does not quote the token`, async () => {
      const error = await expectAuthctlError(processAnswer(jsonResponse(200, body)), "PROTOCOL", message);
      expect(error.message).not.toContain("secret-at");
    });
  }
});
