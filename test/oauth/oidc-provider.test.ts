/**
 * The request/process pairs against a certified OAuth server (oidc-provider) on 127.0.0.1, to
 * catch a wrong assumption that hand-built Responses would repeat.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as oauth from "../../src/oauth/index.ts";
import { expectAuthctlError, httpOver } from "./_fakes.ts";

/** oidc-provider ships no type declarations; this is the little of it used here. */
type ProviderClass = new (
  issuer: string,
  configuration: Record<string, unknown>,
) => { callback(): (request: IncomingMessage, response: ServerResponse) => void };

let server: Server;
let issuer: string;

const originalWarn = console.warn;

beforeAll(async () => {
  // Its development-mode warnings (in-memory adapter, dev keys, Bun runtime) are expected here.
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).startsWith("oidc-provider WARNING")) originalWarn(...args);
  };
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A non-literal specifier keeps tsc from looking for the missing declarations.
  const specifier = "oidc-provider";
  const { default: Provider } = (await import(specifier)) as { default: ProviderClass };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "authctl-test",
        token_endpoint_auth_method: "none",
        application_type: "native",
        grant_types: ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token", "authorization_code"],
        response_types: ["code"],
        redirect_uris: ["http://127.0.0.1/callback"],
      },
    ],
    features: {
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
    },
    ttl: { DeviceCode: 600 },
  });
  server.on("request", provider.callback());
});

afterAll(() => {
  console.warn = originalWarn;
  server.close();
});

describe("against oidc-provider", () => {
  test("discovery, device authorization, a pending poll, a refused refresh and a revocation", async () => {
    const metadata = await oauth.processDiscoveryResponse(
      await oauth.discoveryRequest(httpOver(fetch), issuer),
      issuer,
    );
    expect(metadata.token_endpoint).toBe(`${issuer}/token`);
    expect(metadata.code_challenge_methods_supported).toEqual(["S256"]);

    const now = Date.now();
    const device = await oauth.processDeviceAuthorizationResponse(
      await oauth.deviceAuthorizationRequest(httpOver(fetch), {
        url: metadata.device_authorization_endpoint!,
        clientId: "authctl-test",
        scopes: ["openid"],
        body: "form",
      }),
      { now },
    );
    expect(device.verification_uri).toBe(`${issuer}/device`);
    expect(device.expires_at).toBe(now + 600_000);

    const poll = await oauth.deviceTokenRequest(httpOver(fetch), {
      tokenUrl: metadata.token_endpoint,
      clientId: "authctl-test",
      deviceCode: device.device_code,
      body: "form",
    });
    expect(await oauth.classifyDeviceTokenResponse(poll, { now })).toEqual({ kind: "pending" });

    const refresh = oauth.refreshTokenGrantRequest(httpOver(fetch), {
      tokenUrl: metadata.token_endpoint,
      clientId: "authctl-test",
      refreshToken: "not-a-real-refresh-token",
      body: "form",
    });
    await expectAuthctlError(
      oauth.processTokenResponse(await refresh, { now }),
      "OAUTH",
      "token endpoint refused: invalid_grant (grant request is invalid)",
    );

    const revoke = oauth.revocationRequest(httpOver(fetch), {
      url: metadata.revocation_endpoint!,
      clientId: "authctl-test",
      token: "not-a-real-token",
      tokenTypeHint: "refresh_token",
    });
    expect(await oauth.processRevocationResponse(await revoke)).toEqual({ status: "revoked" });
  });
});
