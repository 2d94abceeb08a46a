import { describe, expect, test } from "bun:test";
import { NetworkError } from "../../src/errors.ts";
import { DEFAULT_TIMEOUT_MS } from "../../src/oauth/_http.ts";
import { deviceAuthorizationRequest } from "../../src/oauth/device.ts";
import { discoveryRequest } from "../../src/oauth/discovery.ts";
import { refreshTokenGrantRequest } from "../../src/oauth/token.ts";
import {
  createHangingFetch,
  createRecordingFetch,
  expectAuthctlError,
  refusedPort,
  httpOver,
} from "./_fakes.ts";

describe("network failures", () => {
  test("a refused port is a NETWORK error naming host and port, never the body", async () => {
    const port = await refusedPort();
    const error = await expectAuthctlError(
      refreshTokenGrantRequest(httpOver(fetch), {
        tokenUrl: `http://127.0.0.1:${port}/oauth/token`,
        clientId: "client",
        refreshToken: "rt-secret-value",
        body: "form",
      }),
      "NETWORK",
      `could not reach the token endpoint at 127.0.0.1:${port} (connection refused)`,
    );
    expect(error.message).not.toContain("rt-secret-value");
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ host: `127.0.0.1:${port}`, timeoutMs: undefined });
  });

  test("a refused port during discovery is a NETWORK error too", async () => {
    const port = await refusedPort();
    await expectAuthctlError(
      discoveryRequest(httpOver(fetch), `http://127.0.0.1:${port}`),
      "NETWORK",
      `could not reach the discovery endpoint at 127.0.0.1:${port} (connection refused)`,
    );
  });

  test("a server that never answers is a NETWORK error after the timeout", async () => {
    await expectAuthctlError(
      refreshTokenGrantRequest(httpOver(createHangingFetch()), {
        tokenUrl: "https://auth.example.com/oauth/token",
        refreshToken: "rt",
        body: "form",
        timeoutMs: 20,
      }),
      "NETWORK",
      "the token endpoint at auth.example.com:443 did not answer within 0.02 s",
    );
  });

  test("every request carries a timeout signal, 30 s by default", async () => {
    const { fetch: fake, requests } = createRecordingFetch(new Response("{}"));
    await deviceAuthorizationRequest(httpOver(fake), {
      url: "https://github.com/login/device/code",
      clientId: "c",
      body: "form",
    });
    expect(DEFAULT_TIMEOUT_MS).toBe(30_000);
    expect(requests[0]!.signal).toBeInstanceOf(AbortSignal);
    expect(requests[0]!.signal?.aborted).toBe(false);
  });

  test("aborting the caller's signal is CANCELLED, not NETWORK", async () => {
    const controller = new AbortController();
    const pending = refreshTokenGrantRequest(httpOver(createHangingFetch()), {
      tokenUrl: "https://auth.example.com/oauth/token",
      refreshToken: "rt",
      body: "form",
      signal: controller.signal,
    });
    controller.abort();
    await expectAuthctlError(pending, "CANCELLED", "the request to the token endpoint was cancelled");
  });

  test("an already-aborted signal sends nothing", async () => {
    const { fetch: fake, requests } = createRecordingFetch();
    await expectAuthctlError(
      refreshTokenGrantRequest(httpOver(fake), {
        tokenUrl: "https://auth.example.com/oauth/token",
        refreshToken: "rt",
        body: "form",
        signal: AbortSignal.abort(),
      }),
      "CANCELLED",
      "the request to the token endpoint was cancelled",
    );
    expect(requests).toHaveLength(0);
  });
});
