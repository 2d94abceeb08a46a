import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { env } from "../../src/actions/env.ts";
import { login } from "../../src/actions/login.ts";
import { logout } from "../../src/actions/logout.ts";
import {
  DEVICE_CODE_GRANT,
  FAKE_CLIENT_ID,
  startOAuthFake,
  type OAuthFake,
  type OAuthFakeOptions,
} from "../fakes/oauth-fake.ts";
import { startGoogleFake } from "../fakes/google.ts";
import { startQwenFake } from "../fakes/qwen.ts";
import { createTestDeps, type TestDeps } from "../helpers/deps.ts";
import { run } from "./_table.ts";

/**
 * The waits of the OAuth flows, on createTestDeps' fake clock against the OAuth fake in this
 * process: the login deadline, the device flow's poll intervals, the revocation timeout. The
 * binary tests waited them out in real seconds (a slow_down storm 8 s, the 5 s default interval,
 * a 10 s revocation timeout); here each is passed in no real time and asserted to the
 * millisecond. The binary keeps one real-clock device login (oauth-errors: 'the device flow
 * succeeds after pending polls and waits the interval between them') and the --timeout flag
 * through the binary (oauth-errors: 'a callback with the wrong state …').
 */
let t: TestDeps | undefined;
let fake: OAuthFake | undefined;
const stops: Array<() => void> = [];
afterEach(() => {
  t?.cleanup();
  fake?.stop();
  for (const stop of stops.splice(0)) stop();
  t = undefined;
  fake = undefined;
});

/** A custom provider `fake` on the OAuth fake; `polls` are the fake-clock times of device-code polls. */
function setup(options: OAuthFakeOptions, testOptions: { followBrowser?: boolean } = {}) {
  const server = startOAuthFake(options);
  fake = server;
  const polls: number[] = [];
  const deps = createTestDeps({
    followBrowser: testOptions.followBrowser,
    fetch: ((input: string | URL | Request, init?: RequestInit) => {
      if (String(init?.body ?? "").includes(encodeURIComponent(DEVICE_CODE_GRANT)))
        polls.push(deps.clock.now());
      return globalThis.fetch(input, init);
    }) as typeof fetch,
  });
  t = deps;
  deps.writeConfig(
    `[providers.fake]\nname = "Fake"\nissuer = "${server.url}"\nclient_id = "${FAKE_CLIENT_ID}"\nscopes = ["openid"]\n`,
  );
  return { fake: server, t: deps, polls, start: deps.clock.now() };
}

/** Real time, bounded: until `ready()` (the action has reached the wait the test drives). */
async function until(ready: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !ready(); waited += 5) {
    if (waited > 15_000) throw new Error(`never reached: ${what}`);
    await Bun.sleep(5);
  }
}

/** The outcome if the action has settled by now (after a real turn for an abort to land), else undefined. */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([promise, Bun.sleep(ms).then(() => undefined)]);
}

describe("the login deadline (5 minutes unless --timeout) is on deps' clock", () => {
  test("a browser that never comes back: still waiting at 4:59.9, at 5:00 exit 1 with the TIMEOUT message, nothing stored", async () => {
    const { t, fake } = setup({});
    const outcome = run(t, () => login(t.context(), { providerId: "fake" }));
    // The authorize URL went to the browser: discovery is done and the callback server listens.
    await until(() => t.browser.urls.length === 1, "the browser opened");
    const callback = new URL(new URL(t.browser.urls[0]!).searchParams.get("redirect_uri")!);
    await t.clock.advance(5 * 60_000 - 100);
    expect(await settledWithin(outcome, 50)).toBeUndefined();
    await t.clock.advance(100);
    const result = await settledWithin(outcome, 10_000);
    expect(result).toBeDefined();
    expect(result!.error?.message).toBe("no answer from the browser within 5 minutes");
    expect(result!.code).toBe(1);
    expect(fake.counts.token).toBe(0);
    expect(existsSync(join(t.home, "credentials.toml"))).toBe(false);
    // The callback server is closed with the login.
    expect(
      await fetch(callback).then(
        () => "answered",
        () => "refused",
      ),
    ).toBe("refused");
  }, 30_000);

  test("timeoutMs (--timeout 90s) ends the wait at 90 s, in seconds", async () => {
    const { t } = setup({});
    const outcome = run(t, () => login(t.context(), { providerId: "fake", timeoutMs: 90_000 }));
    await until(() => t.browser.urls.length === 1, "the browser opened");
    await t.clock.advance(89_900);
    expect(await settledWithin(outcome, 50)).toBeUndefined();
    await t.clock.advance(100);
    const result = await settledWithin(outcome, 10_000);
    expect(result?.error?.message).toBe("no answer from the browser within 90 seconds");
    expect(result?.code).toBe(1);
  }, 30_000);
});

describe("device login polling (RFC 8628 §3.5)", () => {
  test("a slow_down storm adds 5 seconds per answer until the code expires on authctl's clock: exit 4, nothing stored", async () => {
    const { t, polls, start } = setup({ device: "slow_down_storm", deviceExpiresIn: 8, deviceInterval: 1 });
    const result = await run(t, () => login(t.context(), { providerId: "fake", device: true }));
    // Poll after the 1 s interval, slow_down: 6 s; poll at 7 s, slow_down: 11 s, past the 8 s code.
    expect(polls.map((at) => at - start)).toEqual([1_000, 7_000]);
    expect(result.stderr).toContain("poll more slowly");
    expect(result.code).toBe(4);
    expect(existsSync(join(t.home, "credentials.toml"))).toBe(false);
  }, 30_000);

  test("interval 0 means the 5 s default: one poll, 5 s after the code, not a refused login and not a busy loop", async () => {
    const { t, polls, start } = setup({
      pendingPolls: 0,
      deviceAnswer: (answer) => ({ ...answer, interval: 0 }),
    });
    const result = await run(t, () => login(t.context(), { providerId: "fake", device: true }));
    expect(result.code).toBe(0);
    expect(polls.map((at) => at - start)).toEqual([5_000]);
    expect(Object.keys(await t.stored())).toEqual(["fake"]);
  }, 30_000);
});

describe("logout when the revocation endpoint never answers (14.9)", () => {
  test("still waiting at 9.9 s; at 10 s the login is kept, exit 1 names the retry, and the retry revokes it", async () => {
    const { t, fake } = setup({}, { followBrowser: true });
    expect((await run(t, () => login(t.context(), { providerId: "fake" }))).code).toBe(0);
    const refreshToken = (await t.stored()).fake!.refresh_token;
    expect(refreshToken).toBeDefined();
    fake.options.revoke = "hang";
    const start = t.clock.now();
    const outcome = run(t, () => logout(t.context(), { providerIds: ["fake"], all: false }));
    await until(() => fake.counts.revoke === 1, "the revocation request reached the fake");
    await t.clock.advance(9_900);
    expect(await settledWithin(outcome, 50)).toBeUndefined();
    await t.clock.advance(100);
    const failed = await settledWithin(outcome, 10_000);
    expect(failed).toBeDefined();
    expect(t.clock.now() - start).toBe(10_000);
    expect(failed!.stderr).toContain(
      `could not revoke the Fake grant (the revocation endpoint at ${new URL(fake.url).host} did not answer within 10 s)`,
    );
    expect(failed!.error?.message).toBe(
      "fake could not be revoked at the provider right now, so it is still stored here",
    );
    expect((failed!.error as { hint?: string }).hint).toBe("run 'authctl logout fake' again to retry");
    expect(failed!.code).toBe(1);
    expect((await t.stored()).fake!.refresh_token).toBe(refreshToken);

    fake.options.revoke = "ok";
    const retried = await run(t, () => logout(t.context(), { providerIds: ["fake"], all: false }));
    expect(retried.code).toBe(0);
    expect(retried.stderr).toContain("revoked the Fake grant at the provider");
    expect(await t.stored()).toEqual({});
    expect(fake.counts.revoke).toBe(2);
  }, 30_000);
});

describe("providers' own waits", () => {
  test("gemini: an onboarding that is not done at once is polled 5 s later (gemini-cli's interval) until its operation carries the project", async () => {
    const google = startGoogleFake({ onboarded: false, onboardPending: true, project: "managed-proj-8" });
    stops.push(() => google.stop());
    const operations: number[] = [];
    const deps: TestDeps = createTestDeps({
      followBrowser: true,
      env: { CODE_ASSIST_ENDPOINT: google.url },
      fetch: ((input: string | URL | Request, init?: RequestInit) => {
        if (String(input).includes("/v1internal/operations/")) operations.push(deps.clock.now());
        return globalThis.fetch(input, init);
      }) as typeof fetch,
    });
    t = deps;
    deps.writeConfig(
      `[providers.gemini]\nauthorize_url = "${google.url}/o/oauth2/v2/auth"\ntoken_url = "${google.url}/token"\n`,
    );
    const start = deps.clock.now();
    const result = await run(deps, () =>
      login(deps.context(), { providerId: "gemini", method: "code-assist" }),
    );
    expect(result.code).toBe(0);
    expect(google.counts.onboardUser).toBe(1);
    expect(google.counts.operation).toBe(1);
    expect(operations.map((at) => at - start)).toEqual([5_000]);
    expect((await deps.stored()).gemini!.extra).toMatchObject({ project: "managed-proj-8" });
  }, 30_000);

  test("qwen: no interval in the answer means the 5 s default; PKCE, resource_url kept, exported, and the legacy notice", async () => {
    const qwen = startQwenFake({ minPollIntervalMs: 0 });
    stops.push(() => qwen.stop());
    const polls: number[] = [];
    const deps: TestDeps = createTestDeps({
      fetch: (async (input: string | URL | Request, init?: RequestInit) => {
        if (String(init?.body ?? "").includes(encodeURIComponent(DEVICE_CODE_GRANT)))
          polls.push(deps.clock.now());
        const response = await globalThis.fetch(input, init);
        // The person approves as soon as the code is shown.
        if (String(input).endsWith("/device/code") && response.ok)
          qwen.approve(((await response.clone().json()) as { user_code: string }).user_code);
        return response;
      }) as typeof fetch,
    });
    t = deps;
    deps.writeConfig(
      `[providers.qwen]\ndevice_authorization_url = "${qwen.url}/api/v1/oauth2/device/code"\ntoken_url = "${qwen.url}/api/v1/oauth2/token"\n`,
    );
    const start = deps.clock.now();
    const result = await run(deps, () => login(deps.context(), { providerId: "qwen" }));
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("legacy");
    expect(polls.map((at) => at - start)).toEqual([5_000]);
    expect(qwen.requests.find((r) => r.path.endsWith("/device/code"))!.body.code_challenge_method).toBe(
      "S256",
    );
    const cred = (await deps.stored()).qwen!;
    expect((cred.extra as Record<string, string>).resource_url).toBeDefined();
    await env(deps.context(), { providerIds: ["qwen"], format: "sh" });
    expect(deps.stdout()).toContain(`export QWEN_ACCESS_TOKEN='${cred.access_token}'`);
    expect(deps.stdout()).toContain("export QWEN_RESOURCE_URL=");
  }, 30_000);
});
