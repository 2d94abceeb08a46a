import { describe, expect, test } from "bun:test";
import { discoveryRequest, discoveryUrls, processDiscoveryResponse } from "../../src/oauth/discovery.ts";
import { createRecordingFetch, expectAuthctlError, htmlResponse, jsonResponse, httpOver } from "./_fakes.ts";

const METADATA = {
  issuer: "https://auth.example.com",
  authorization_endpoint: "https://auth.example.com/oauth/authorize",
  token_endpoint: "https://auth.example.com/oauth/token",
  device_authorization_endpoint: "https://auth.example.com/oauth/device/code",
  revocation_endpoint: "https://auth.example.com/oauth/revoke",
  code_challenge_methods_supported: ["S256"],
  jwks_uri: "https://auth.example.com/jwks",
};

describe("discoveryUrls", () => {
  test("an issuer without a path", () => {
    expect(discoveryUrls("https://auth.example.com").map(String)).toEqual([
      "https://auth.example.com/.well-known/openid-configuration",
      "https://auth.example.com/.well-known/oauth-authorization-server",
    ]);
  });

  test("an issuer with a path: OIDC appends, RFC 8414 inserts between host and path", () => {
    expect(discoveryUrls("https://auth.example.com/tenant/one/").map(String)).toEqual([
      "https://auth.example.com/tenant/one/.well-known/openid-configuration",
      "https://auth.example.com/.well-known/oauth-authorization-server/tenant/one",
    ]);
  });

  test("a plain-http issuer on a public host is refused; loopback is allowed", async () => {
    await expectAuthctlError(
      () => discoveryUrls("http://auth.example.com"),
      "USAGE",
      "the issuer must use https (plain http is allowed only for 127.0.0.1, ::1 and localhost): http://auth.example.com",
    );
    expect(String(discoveryUrls("http://127.0.0.1:4000")[0])).toBe(
      "http://127.0.0.1:4000/.well-known/openid-configuration",
    );
  });

  test("an issuer with a query is refused", async () => {
    await expectAuthctlError(
      () => discoveryUrls("https://auth.example.com/?tenant=1"),
      "USAGE",
      "the issuer must not have a query or fragment (RFC 8414 §2)",
    );
  });
});

describe("discoveryRequest", () => {
  test("the OIDC document is used when it exists", async () => {
    const { fetch, requests } = createRecordingFetch(jsonResponse(200, METADATA));
    const response = await discoveryRequest(httpOver(fetch), "https://auth.example.com");
    expect(requests.map((r) => [r.method, r.url, r.headers.get("accept")])).toEqual([
      ["GET", "https://auth.example.com/.well-known/openid-configuration", "application/json"],
    ]);
    expect((await processDiscoveryResponse(response, "https://auth.example.com")).token_endpoint).toBe(
      "https://auth.example.com/oauth/token",
    );
  });

  test("a 404 for the OIDC document falls back to the RFC 8414 document", async () => {
    const issuer = "https://auth.example.com/tenant";
    const { fetch, requests } = createRecordingFetch(
      jsonResponse(404, { error: "not_found" }),
      jsonResponse(200, { ...METADATA, issuer }),
    );
    const response = await discoveryRequest(httpOver(fetch), issuer);
    expect(requests.map((r) => r.url)).toEqual([
      "https://auth.example.com/tenant/.well-known/openid-configuration",
      "https://auth.example.com/.well-known/oauth-authorization-server/tenant",
    ]);
    expect((await processDiscoveryResponse(response, issuer)).issuer).toBe(issuer);
  });

  test("a catch-all HTML page with HTTP 200 also falls back", async () => {
    const { fetch, requests } = createRecordingFetch(
      htmlResponse(200, "<html>app</html>"),
      jsonResponse(200, METADATA),
    );
    await discoveryRequest(httpOver(fetch), "https://auth.example.com");
    expect(requests).toHaveLength(2);
  });
});

describe("processDiscoveryResponse", () => {
  test("returns the endpoints", async () => {
    expect(await processDiscoveryResponse(jsonResponse(200, METADATA), "https://auth.example.com")).toEqual({
      issuer: "https://auth.example.com",
      authorization_endpoint: "https://auth.example.com/oauth/authorize",
      token_endpoint: "https://auth.example.com/oauth/token",
      device_authorization_endpoint: "https://auth.example.com/oauth/device/code",
      revocation_endpoint: "https://auth.example.com/oauth/revoke",
      code_challenge_methods_supported: ["S256"],
      raw: METADATA,
    });
  });

  test("a trailing slash on a bare host is the same issuer", async () => {
    const result = await processDiscoveryResponse(jsonResponse(200, METADATA), "https://auth.example.com/");
    expect(result.issuer).toBe("https://auth.example.com");
  });

  test("another issuer is refused", async () => {
    await expectAuthctlError(
      processDiscoveryResponse(
        jsonResponse(200, { ...METADATA, issuer: "https://evil.example.com" }),
        "https://auth.example.com",
      ),
      "PROTOCOL",
      'the discovery document names issuer "https://evil.example.com" instead of "https://auth.example.com/"',
    );
  });

  test("a different path is another issuer", async () => {
    await expectAuthctlError(
      processDiscoveryResponse(
        jsonResponse(200, { ...METADATA, issuer: "https://auth.example.com/other" }),
        "https://auth.example.com/tenant",
      ),
      "PROTOCOL",
      'the discovery document names issuer "https://auth.example.com/other" instead of "https://auth.example.com/tenant"',
    );
  });

  test("a plain-http endpoint in the metadata is refused", async () => {
    await expectAuthctlError(
      processDiscoveryResponse(
        jsonResponse(200, { ...METADATA, token_endpoint: "http://auth.example.com/oauth/token" }),
        "https://auth.example.com",
      ),
      "PROTOCOL",
      'discovery endpoint answered an invalid "token_endpoint" (expected an https URL)',
    );
  });

  test("missing endpoints and malformed fields are refused", async () => {
    await expectAuthctlError(
      processDiscoveryResponse(
        jsonResponse(200, { ...METADATA, token_endpoint: undefined }),
        "https://auth.example.com",
      ),
      "PROTOCOL",
      'discovery endpoint answered without "token_endpoint"',
    );
    await expectAuthctlError(
      processDiscoveryResponse(
        jsonResponse(200, { ...METADATA, code_challenge_methods_supported: "S256" }),
        "https://auth.example.com",
      ),
      "PROTOCOL",
      'discovery endpoint answered an invalid "code_challenge_methods_supported" (expected an array of strings)',
    );
    await expectAuthctlError(
      processDiscoveryResponse(
        jsonResponse(200, { ...METADATA, issuer: undefined }),
        "https://auth.example.com",
      ),
      "PROTOCOL",
      'discovery endpoint answered without "issuer"',
    );
  });

  test("a 404 after both URLs is a PROTOCOL error", async () => {
    await expectAuthctlError(
      processDiscoveryResponse(htmlResponse(404), "https://auth.example.com"),
      "PROTOCOL",
      "discovery endpoint answered HTTP 404 (text/html), not a JSON object",
    );
    await expectAuthctlError(
      processDiscoveryResponse(jsonResponse(404, {}), "https://auth.example.com"),
      "PROTOCOL",
      "discovery endpoint answered HTTP 404 without an OAuth error",
    );
  });
});
