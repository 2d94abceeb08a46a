import { afterAll, describe, expect, test } from "bun:test";
import { NetworkError } from "../../src/errors.ts";
import { refreshTokenGrantRequest } from "../../src/oauth/index.ts";
import { createTestDeps } from "../helpers/deps.ts";

/**
 * The OAuth requests' default timeout (src/oauth/_http.ts DEFAULT_TIMEOUT_MS, 30 s), on the fake
 * clock of createTestDeps: a token endpoint that takes the request and never answers. Nothing
 * here waits 30 real seconds; the numbers are written out so that a changed default fails.
 */
const silent = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Promise<Response>(() => {}) });
afterAll(() => silent.stop(true));

/** Real milliseconds until the request armed its timeout on the fake clock (it has reached fetch). */
async function armed(pending: () => number): Promise<void> {
  for (let waited = 0; pending() === 0; waited += 5) {
    if (waited > 10_000) throw new Error("the request never armed a timeout on deps' clock");
    await Bun.sleep(5);
  }
}

describe("a request with no timeout of its own", () => {
  test("still waits at 29.9 s and fails at 30 s with the timeout error", async () => {
    const t = createTestDeps();
    try {
      let settled = false;
      // As a token request goes out when no caller passes `timeoutMs`.
      const request = refreshTokenGrantRequest(t.deps.http, {
        tokenUrl: `http://127.0.0.1:${silent.port}/token`,
        clientId: "client",
        refreshToken: "a-refresh-token",
        body: "form",
      });
      const outcome = request.then(
        () => ({ ok: true as const }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      void outcome.then(() => (settled = true));
      await armed(t.clock.pending);
      await t.clock.advance(29_900);
      await Bun.sleep(50); // a real turn for an abort that should not have happened
      expect(settled).toBe(false);
      await t.clock.advance(100);
      // The abort is immediate once the clock passes 30 s; a generous real bound turns a timeout
      // that did not fire into a failed expectation rather than a hung test.
      const result = await Promise.race([outcome, Bun.sleep(10_000).then(() => "still waiting" as const)]);
      expect(result).not.toBe("still waiting");
      expect((result as { ok: boolean }).ok).toBe(false);
      const error = (result as { error: unknown }).error;
      expect(error).toBeInstanceOf(NetworkError);
      expect((error as NetworkError).timeoutMs).toBe(30_000);
      expect((error as Error).message).toBe(
        `the token endpoint at 127.0.0.1:${silent.port} did not answer within 30 s`,
      );
    } finally {
      t.cleanup();
    }
  }, 30_000);
});
