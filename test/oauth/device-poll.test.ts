import { describe, expect, test } from "bun:test";
import { AuthctlError } from "../../src/errors.ts";
import {
  classifyDeviceTokenResponse,
  type DevicePollEvent,
  type DevicePollOutcome,
  pollDeviceToken,
  type PollDeviceTokenOptions,
} from "../../src/oauth/device.ts";
import { parseTokenSet } from "../../src/oauth/token.ts";
import { expectAuthctlError, jsonResponse } from "./_fakes.ts";

const PENDING = () => jsonResponse(400, { error: "authorization_pending" });
const SLOW_DOWN = (interval?: number) =>
  jsonResponse(400, interval === undefined ? { error: "slow_down" } : { error: "slow_down", interval });
const SUCCESS = () =>
  jsonResponse(200, { access_token: "gho_token", token_type: "bearer", expires_in: 28800 });

/**
 * A fake clock and a scripted token endpoint. Every sleep and poll is logged with the time it
 * started; each poll takes `requestMs`, so the log shows whether waits start after answers.
 */
function createHarness(
  answers: (() => Response)[],
  options: { requestMs?: number; expiresAt?: number } = {},
) {
  let time = 0;
  const log: string[] = [];
  const waits: number[] = [];
  const events: DevicePollEvent[] = [];
  const queue = [...answers];
  const base: PollDeviceTokenOptions = {
    interval: 5,
    expiresAt: options.expiresAt ?? 900_000,
    now: () => time,
    sleep: async (ms) => {
      log.push(`sleep ${ms} at ${time}`);
      waits.push(ms);
      time += ms;
    },
    request: async () => {
      log.push(`poll at ${time}`);
      time += options.requestMs ?? 0;
      const answer = queue.shift();
      if (!answer) throw new Error("polled more often than scripted");
      return answer();
    },
    onPoll: (event) => events.push(event),
  };
  return {
    base,
    log,
    waits,
    events,
    polls: () => log.filter((line) => line.startsWith("poll")).length,
    time: () => time,
  };
}

describe("pollDeviceToken", () => {
  test("pending three times, then the token: the full interval is waited before every poll", async () => {
    const h = createHarness([PENDING, PENDING, PENDING, SUCCESS], { requestMs: 300 });
    const tokens = await pollDeviceToken(h.base);
    expect(tokens.access_token).toBe("gho_token");
    // The token arrived at 21 200 ms (four waits and four 300 ms polls): expiry counts from then.
    expect(tokens.expires_at).toBe(21_200 + 28_800_000);
    expect(h.waits).toEqual([5000, 5000, 5000, 5000]);
    expect(h.log).toEqual([
      "sleep 5000 at 0",
      "poll at 5000",
      "sleep 5000 at 5300",
      "poll at 10300",
      "sleep 5000 at 10600",
      "poll at 15600",
      "sleep 5000 at 15900",
      "poll at 20900",
    ]);
    expect(h.events).toEqual([
      { attempt: 1, outcome: "pending", interval: 5 },
      { attempt: 2, outcome: "pending", interval: 5 },
      { attempt: 3, outcome: "pending", interval: 5 },
      { attempt: 4, outcome: "token", interval: 5 },
    ]);
  });

  test("each slow_down raises the interval by 5 s for every later poll (RFC 8628 §3.5)", async () => {
    const h = createHarness([() => SLOW_DOWN(), PENDING, () => SLOW_DOWN(), PENDING, SUCCESS]);
    await pollDeviceToken(h.base);
    expect(h.waits).toEqual([5000, 10000, 10000, 15000, 15000]);
    expect(h.events.map((e) => [e.outcome, e.interval])).toEqual([
      ["slow_down", 10],
      ["pending", 10],
      ["slow_down", 15],
      ["pending", 15],
      ["token", 15],
    ]);
  });

  test("a server-sent interval on slow_down is honoured (GitHub sends one)", async () => {
    const h = createHarness([() => SLOW_DOWN(20), PENDING, SUCCESS]);
    await pollDeviceToken(h.base);
    expect(h.waits).toEqual([5000, 20000, 20000]);
  });

  test("a server-sent interval below the +5 s rule does not speed polling up", async () => {
    const h = createHarness([() => SLOW_DOWN(2), SUCCESS]);
    await pollDeviceToken(h.base);
    expect(h.waits).toEqual([5000, 10000]);
  });

  test("expired_token ends the login as AUTH_FAILED", async () => {
    const h = createHarness([PENDING, () => jsonResponse(400, { error: "expired_token" })]);
    await expectAuthctlError(
      pollDeviceToken(h.base),
      "AUTH_FAILED",
      "the device code expired before it was approved; run the login again",
    );
    expect(h.polls()).toBe(2);
  });

  test("access_denied ends the login as AUTH_FAILED, also when sent with HTTP 200", async () => {
    const h = createHarness([
      () => jsonResponse(200, { error: "access_denied", error_description: "denied" }),
    ]);
    await expectAuthctlError(pollDeviceToken(h.base), "AUTH_FAILED", "the login was denied in the browser");
  });

  test("another OAuth error ends the login as OAUTH", async () => {
    const h = createHarness([() => jsonResponse(400, { error: "invalid_client" })]);
    await expectAuthctlError(pollDeviceToken(h.base), "OAUTH", "token endpoint refused: invalid_client");
  });

  test("nothing is polled past the device code's deadline, and the last wait ends at it", async () => {
    const h = createHarness([PENDING, PENDING, PENDING], { expiresAt: 12_000 });
    await expectAuthctlError(
      pollDeviceToken(h.base),
      "AUTH_FAILED",
      "the login was not approved before the device code expired; run the login again",
    );
    expect(h.log).toEqual([
      "sleep 5000 at 0",
      "poll at 5000",
      "sleep 5000 at 5000",
      "poll at 10000",
      "sleep 2000 at 10000",
    ]);
  });

  test("a deadline already past polls nothing", async () => {
    const h = createHarness([], { expiresAt: 0 });
    await expectAuthctlError(
      pollDeviceToken(h.base),
      "AUTH_FAILED",
      "the login was not approved before the device code expired; run the login again",
    );
    expect(h.log).toEqual([]);
  });

  test("aborting during a wait is CANCELLED and stops polling", async () => {
    const controller = new AbortController();
    const h = createHarness([PENDING, PENDING]);
    let sleeps = 0;
    const sleep = async (ms: number, signal?: AbortSignal) => {
      await h.base.sleep(ms, signal);
      if (++sleeps === 2) {
        controller.abort();
        throw new DOMException("The operation was aborted.", "AbortError");
      }
    };
    await expectAuthctlError(
      pollDeviceToken({ ...h.base, sleep, signal: controller.signal }),
      "CANCELLED",
      "the login was cancelled",
    );
    expect(h.polls()).toBe(1);
  });

  test("an already-aborted signal polls nothing", async () => {
    const h = createHarness([SUCCESS]);
    await expectAuthctlError(
      pollDeviceToken({ ...h.base, signal: AbortSignal.abort() }),
      "CANCELLED",
      "the login was cancelled",
    );
    expect(h.log).toEqual([]);
  });

  test("the signal is handed to each request", async () => {
    const controller = new AbortController();
    const seen: (AbortSignal | undefined)[] = [];
    const h = createHarness([SUCCESS]);
    await pollDeviceToken({
      ...h.base,
      signal: controller.signal,
      request: (signal) => {
        seen.push(signal);
        return h.base.request(signal);
      },
    });
    expect(seen).toEqual([controller.signal]);
  });

  test("a request failure (NETWORK) ends polling; nothing is retried", async () => {
    const h = createHarness([]);
    const failure = new AuthctlError(
      "NETWORK",
      "could not reach the token endpoint at github.com:443 (connection refused)",
    );
    await expectAuthctlError(
      pollDeviceToken({ ...h.base, request: async () => Promise.reject(failure) }),
      "NETWORK",
      "could not reach the token endpoint at github.com:443 (connection refused)",
    );
  });

  test("a classify hook maps Qwen's HTTP 429 to slow_down", async () => {
    const h = createHarness([
      () => jsonResponse(429, { error: "slow_down", error_description: "too many requests" }),
      () => new Response("Too Many Requests", { status: 429 }),
      SUCCESS,
    ]);
    const classify = async (response: Response): Promise<DevicePollOutcome> =>
      response.status === 429
        ? { kind: "slow_down" }
        : classifyDeviceTokenResponse(response, { now: h.time() });
    await pollDeviceToken({ ...h.base, classify });
    expect(h.waits).toEqual([5000, 10000, 15000]);
  });

  test("a classify hook maps MiniMax's status field", async () => {
    const h = createHarness([
      () => jsonResponse(200, { status: "pending" }),
      () =>
        jsonResponse(200, { status: "success", access_token: "mm", refresh_token: "mr", expired_in: 123 }),
    ]);
    const classify = async (response: Response): Promise<DevicePollOutcome> => {
      const json = (await response.json()) as Record<string, unknown>;
      if (json.status === "pending") return { kind: "pending" };
      return { kind: "token", token: parseTokenSet(json, h.time()) };
    };
    const tokens = await pollDeviceToken({ ...h.base, classify });
    expect(tokens.refresh_token).toBe("mr");
    expect(h.polls()).toBe(2);
  });
});

describe("pollDeviceToken cancellation during a request", () => {
  test("aborting while a poll is in flight is the same CANCELLED error", async () => {
    const controller = new AbortController();
    let time = 0;
    await expectAuthctlError(
      pollDeviceToken({
        interval: 5,
        expiresAt: 900_000,
        now: () => time,
        sleep: async (ms) => {
          time += ms;
        },
        signal: controller.signal,
        request: async () => {
          controller.abort();
          throw new AuthctlError("CANCELLED", "the request to the token endpoint was cancelled");
        },
      }),
      "CANCELLED",
      "the login was cancelled",
    );
  });
});
