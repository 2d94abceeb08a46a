import { describe, expect, test } from "bun:test";
import { processRevocationResponse, revocationRequest } from "../../src/oauth/revoke.ts";
import { createRecordingFetch, expectAuthctlError, htmlResponse, jsonResponse, httpOver } from "./_fakes.ts";

describe("revocationRequest", () => {
  test("is always form-encoded, with the token type hint and client_id", async () => {
    const { fetch, requests } = createRecordingFetch(new Response(null, { status: 200 }));
    await revocationRequest(httpOver(fetch), {
      url: "https://auth.openai.com/oauth/revoke",
      clientId: "app_test",
      token: "rt-1",
      tokenTypeHint: "refresh_token",
    });
    const [request] = requests;
    expect(request!.method).toBe("POST");
    expect(request!.url).toBe("https://auth.openai.com/oauth/revoke");
    expect(request!.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(request!.body).toBe("token=rt-1&token_type_hint=refresh_token&client_id=app_test");
  });

  test("a plain-http revocation URL on a public host is refused", async () => {
    const { fetch } = createRecordingFetch();
    await expectAuthctlError(
      revocationRequest(httpOver(fetch), { url: "http://auth.example.com/revoke", token: "t" }),
      "USAGE",
      "the revocation endpoint must use https (plain http is allowed only for 127.0.0.1, ::1 and localhost): http://auth.example.com",
    );
  });
});

describe("processRevocationResponse", () => {
  test("200 is revoked, whatever the body", async () => {
    expect(await processRevocationResponse(htmlResponse(200, "<p>ok</p>"))).toEqual({ status: "revoked" });
    expect(await processRevocationResponse(new Response(null, { status: 204 }))).toEqual({
      status: "revoked",
    });
  });

  test("503 is unavailable, with Retry-After when sent", async () => {
    expect(
      await processRevocationResponse(new Response(null, { status: 503, headers: { "Retry-After": "30" } })),
    ).toEqual({
      status: "unavailable",
      retryAfterSeconds: 30,
    });
    expect(await processRevocationResponse(new Response(null, { status: 503 }))).toEqual({
      status: "unavailable",
    });
  });

  test("an OAuth error is OAUTH; anything else is PROTOCOL", async () => {
    await expectAuthctlError(
      processRevocationResponse(jsonResponse(400, { error: "unsupported_token_type" })),
      "OAUTH",
      "revocation endpoint refused: unsupported_token_type",
    );
    await expectAuthctlError(
      processRevocationResponse(htmlResponse(404)),
      "PROTOCOL",
      "revocation endpoint answered HTTP 404 (text/html), not a JSON object",
    );
    await expectAuthctlError(
      processRevocationResponse(jsonResponse(500, { message: "internal" })),
      "PROTOCOL",
      "revocation endpoint answered HTTP 500: internal",
    );
  });
});
