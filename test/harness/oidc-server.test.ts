/**
 * Proves the e2e harness (test/fakes/*) works on its own, without any authctl code:
 * a real oidc-provider on 127.0.0.1, driven by hand-written OAuth requests, the
 * browser-follow BROWSER script, and (when installed) a real headless Chromium.
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { chromiumAvailable, openInChromium } from "../fakes/chromium.ts";
import { DEVICE_CODE_GRANT, startOidcServer, type OidcServer } from "../fakes/oidc-server.ts";
import {
  cleanupAfterEach,
  pkce,
  postForm as postFormJson,
  sendForm,
  sendJson,
  withQuery,
  type Json,
} from "./_helpers.ts";

const BROWSER_FOLLOW = resolve(import.meta.dir, "../fakes/browser-follow.ts");
const SCOPE = "openid offline_access";

// --------------------------------------------------------------------------- helpers

const { defer, started } = cleanupAfterEach();

const server = async (options?: Parameters<typeof startOidcServer>[0]): Promise<OidcServer> =>
  started(await startOidcServer(options));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "authctl-harness-"));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The loopback "callback" an authctl login would listen on. */
function callbackServer(host = "127.0.0.1") {
  let hit!: (url: URL) => void;
  const received = new Promise<URL>((r) => (hit = r));
  const srv = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname !== "/callback") return new Response("not found", { status: 404 });
      hit(url);
      return new Response("<!DOCTYPE html><title>done</title><p>You can close this window.</p>", {
        headers: { "content-type": "text/html" },
      });
    },
  });
  defer(() => srv.stop(true));
  return { redirectUri: `http://${host}:${srv.port}/callback`, received };
}

function authorizeUrl(s: OidcServer, redirectUri: string, challenge: string, state: string): string {
  return withQuery(s.issuer, "/auth", {
    client_id: s.clientId,
    response_type: "code",
    redirect_uri: redirectUri,
    scope: SCOPE,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
}

async function postForm(
  url: string,
  params: Record<string, string>,
): Promise<{ status: number; body: Json }> {
  const { status, json } = await postFormJson(url, params);
  return { status, body: json };
}

const tokenRequest = (s: OidcServer, params: Record<string, string>) =>
  postForm(`${s.issuer}/token`, { client_id: s.clientId, ...params });

async function userinfo(s: OidcServer, accessToken: string) {
  const res = await fetch(`${s.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: res.status, wwwAuthenticate: res.headers.get("www-authenticate"), body: await res.text() };
}

/** Runs browser-follow.ts the way authctl would run $BROWSER: through a /bin/sh wrapper. */
async function runBrowserFollow(url: string, env: Record<string, string> = {}) {
  const dir = tempDir();
  const wrapper = join(dir, "browser");
  writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${BROWSER_FOLLOW}" "$1"\n`);
  chmodSync(wrapper, 0o755);
  const log = join(dir, "browser.log");
  const started = performance.now();
  const proc = Bun.spawn([wrapper, url], {
    env: { ...process.env, BROWSER_LOG: log, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const exitCode = await proc.exited;
  const ms = performance.now() - started;
  let logText = "";
  try {
    logText = readFileSync(log, "utf8");
  } catch {}
  return { exitCode, ms, log: logText, stderr: await new Response(proc.stderr).text() };
}

async function codeFlowTokens(s: OidcServer, cb: URL, state: string, redirectUri: string, verifier: string) {
  expect(cb.searchParams.get("state")).toBe(state);
  expect(cb.searchParams.get("iss")).toBe(s.issuer);
  const code = cb.searchParams.get("code");
  expect(code).toBeString();
  const res = await tokenRequest(s, {
    grant_type: "authorization_code",
    code: code!,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
  expect(res.status).toBe(200);
  expect(res.body.token_type).toBe("Bearer");
  expect(res.body.access_token).toBeString();
  expect(res.body.refresh_token).toBeString();
  expect(res.body.id_token).toBeString();
  return res.body as { access_token: string; refresh_token: string; expires_in: number; scope: string };
}

/** Refresh, rotate, replay: the checks shared by the browser-based tests. */
async function checkRefreshRotation(s: OidcServer, tokens: { access_token: string; refresh_token: string }) {
  const first = await tokenRequest(s, { grant_type: "refresh_token", refresh_token: tokens.refresh_token });
  expect(first).toMatchObject({ status: 200 });
  const rotated = first.body.refresh_token as string;
  expect(rotated).toBeString();
  expect(rotated).not.toBe(tokens.refresh_token);
  expect((await userinfo(s, first.body.access_token as string)).status).toBe(200);

  // replaying the old refresh token fails ... and revokes the whole grant
  const replay = await tokenRequest(s, { grant_type: "refresh_token", refresh_token: tokens.refresh_token });
  expect(replay.status).toBe(400);
  expect(replay.body.error).toBe("invalid_grant");
  const afterReplay = await tokenRequest(s, { grant_type: "refresh_token", refresh_token: rotated });
  expect(afterReplay.body.error).toBe("invalid_grant");
  expect((await userinfo(s, first.body.access_token as string)).status).toBe(401);
}

// --------------------------------------------------------------------------- tests

describe("fake OIDC server (oidc-provider)", () => {
  test("(a) authorization code + PKCE via browser-follow, refresh rotation and replay", async () => {
    const s = await server();
    const discovery = (await (await fetch(`${s.issuer}/.well-known/openid-configuration`)).json()) as Json;
    expect(discovery.issuer).toBe(s.issuer);
    expect(discovery.code_challenge_methods_supported).toEqual(["S256"]);
    expect(discovery.device_authorization_endpoint).toBe(`${s.issuer}/device/auth`);
    expect(discovery.revocation_endpoint).toBe(`${s.issuer}/token/revocation`);

    const cb = callbackServer();
    const { verifier, challenge } = pkce();
    const state = randomBytes(16).toString("base64url");

    const browser = await runBrowserFollow(authorizeUrl(s, cb.redirectUri, challenge, state));
    expect({ exitCode: browser.exitCode, stderr: browser.stderr }).toEqual({ exitCode: 0, stderr: "" });
    expect(browser.log).toContain("callback reached");
    const callback = await cb.received;

    const tokens = await codeFlowTokens(s, callback, state, cb.redirectUri, verifier);
    expect(tokens.expires_in).toBe(3600);
    // oidc-provider drops offline_access from authorization requests without prompt=consent;
    // the fake issues the refresh token anyway (issueRefreshToken), so only the scope shows it.
    expect(tokens.scope).toBe("openid");
    const me = await userinfo(s, tokens.access_token);
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({ sub: "test-user" });

    await checkRefreshRotation(s, tokens);

    // the code is single-use (a replayed code also revokes the grant, so this comes last)
    const again = await tokenRequest(s, {
      grant_type: "authorization_code",
      code: callback.searchParams.get("code")!,
      redirect_uri: cb.redirectUri,
      code_verifier: verifier,
    });
    expect(again.body.error).toBe("invalid_grant");

    // JSON bodies are refused by the token endpoint (and counted as tokenOther)
    const json = await sendJson(`${s.issuer}/token`, {
      grant_type: "refresh_token",
      refresh_token: "x",
      client_id: s.clientId,
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as Json).error).toBe("invalid_request");

    expect(s.counts).toMatchObject({ token: 2, refresh: 3, device: 0, revocation: 0, tokenOther: 1 });
  }, 20_000);

  test("(a') http://localhost/callback on any port; unregistered redirect rejected", async () => {
    const s = await server();
    const cb = callbackServer("localhost");
    const { verifier, challenge } = pkce();
    const browser = await runBrowserFollow(authorizeUrl(s, cb.redirectUri, challenge, "st"));
    expect(browser.exitCode).toBe(0);
    await codeFlowTokens(s, await cb.received, "st", cb.redirectUri, verifier);

    // with prompt=consent the offline_access scope is kept
    const cb2 = callbackServer();
    const p2 = pkce();
    const withConsent = new URL(authorizeUrl(s, cb2.redirectUri, p2.challenge, "st2"));
    withConsent.searchParams.set("prompt", "consent");
    expect((await runBrowserFollow(withConsent.href)).exitCode).toBe(0);
    const t2 = await codeFlowTokens(s, await cb2.received, "st2", cb2.redirectUri, p2.verifier);
    expect(t2.scope).toBe(SCOPE);

    const bad = await fetch(authorizeUrl(s, "http://127.0.0.1:9/elsewhere", challenge, "st"), {
      redirect: "manual",
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("redirect_uri did not match");
  }, 20_000);

  test("(b) device authorization grant with approveDevice", async () => {
    const s = await server();
    const auth = await postForm(`${s.issuer}/device/auth`, { client_id: s.clientId, scope: SCOPE });
    expect(auth.status).toBe(200);
    const { device_code, user_code, verification_uri, verification_uri_complete } = auth.body as Record<
      string,
      string
    >;
    expect(verification_uri).toBe(`${s.issuer}/device`);
    expect(verification_uri_complete).toContain("user_code=");
    expect(auth.body.interval).toBeUndefined(); // oidc-provider sends none: clients default to 5 s

    const poll = () => tokenRequest(s, { grant_type: DEVICE_CODE_GRANT, device_code: device_code! });
    const pending = await poll();
    expect(pending.body.error).toBe("authorization_pending");

    await s.approveDevice(user_code!);
    const done = await poll();
    expect(done.status).toBe(200);
    expect(done.body.refresh_token).toBeString();
    expect((await userinfo(s, done.body.access_token as string)).status).toBe(200);

    const reused = await poll(); // device codes are single-use
    expect(reused.body.error).toBe("invalid_grant");
    expect(s.counts).toMatchObject({ token: 0, refresh: 0, device: 3, deviceAuthorization: 1 });
  }, 20_000);

  test("(b') device flow with the form-based pages, and denyDevice", async () => {
    const s = await server({ autoApprove: false });
    const start = async () =>
      (await postForm(`${s.issuer}/device/auth`, { client_id: s.clientId, scope: SCOPE })).body as Record<
        string,
        string
      >;

    const ok = await start();
    await s.approveDevice(ok.user_code!);
    const granted = await tokenRequest(s, { grant_type: DEVICE_CODE_GRANT, device_code: ok.device_code! });
    expect(granted.status).toBe(200);
    // approveDevice went through the real login form and consent page
    expect(s.requests.some((r) => r.method === "POST" && /^\/interaction\/[^/]+\/login$/.test(r.path))).toBe(
      true,
    );
    expect(
      s.requests.some((r) => r.method === "POST" && /^\/interaction\/[^/]+\/confirm$/.test(r.path)),
    ).toBe(true);

    const denied = await start();
    await s.denyDevice(denied.user_code!);
    const refused = await tokenRequest(s, {
      grant_type: DEVICE_CODE_GRANT,
      device_code: denied.device_code!,
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe("access_denied");

    await expect(s.approveDevice("BCDF-GHJK")).rejects.toThrow(/did not complete/);
  }, 20_000);

  test("(c) an expired access token is rejected by userinfo", async () => {
    const s = await server({ accessTokenTtl: 2 });
    const auth = (await postForm(`${s.issuer}/device/auth`, { client_id: s.clientId, scope: SCOPE }))
      .body as Record<string, string>;
    await s.approveDevice(auth.user_code!);
    const tokens = await tokenRequest(s, { grant_type: DEVICE_CODE_GRANT, device_code: auth.device_code! });
    expect(tokens.body.expires_in).toBe(2);
    const accessToken = tokens.body.access_token as string;
    expect((await userinfo(s, accessToken)).status).toBe(200);

    await Bun.sleep(3_000);
    const expired = await userinfo(s, accessToken);
    expect(expired.status).toBe(401);
    expect(expired.wwwAuthenticate).toContain('error="invalid_token"');

    // the refresh token still works and yields a fresh access token
    const refreshed = await tokenRequest(s, {
      grant_type: "refresh_token",
      refresh_token: tokens.body.refresh_token as string,
    });
    expect(refreshed.status).toBe(200);
    expect((await userinfo(s, refreshed.body.access_token as string)).status).toBe(200);
    expect(s.counts).toMatchObject({ device: 1, refresh: 1, userinfo: 3 });
  }, 20_000);

  test("revocation endpoint, and rotateRefreshToken: false", async () => {
    const s = await server({ rotateRefreshToken: false });
    const auth = (await postForm(`${s.issuer}/device/auth`, { client_id: s.clientId, scope: SCOPE }))
      .body as Record<string, string>;
    await s.approveDevice(auth.user_code!);
    const tokens = (await tokenRequest(s, { grant_type: DEVICE_CODE_GRANT, device_code: auth.device_code! }))
      .body;
    const rt = tokens.refresh_token as string;

    for (let i = 0; i < 2; i++) {
      const r = await tokenRequest(s, { grant_type: "refresh_token", refresh_token: rt });
      expect(r.status).toBe(200);
      expect(r.body.refresh_token).toBe(rt); // not rotated
    }

    const revoke = await sendForm(`${s.issuer}/token/revocation`, {
      client_id: s.clientId,
      token: rt,
      token_type_hint: "refresh_token",
    });
    expect(revoke.status).toBe(200);
    const after = await tokenRequest(s, { grant_type: "refresh_token", refresh_token: rt });
    expect(after.body.error).toBe("invalid_grant");
    expect(s.counts).toMatchObject({ device: 1, refresh: 3, revocation: 1 });
  }, 20_000);

  test("browser-follow through the real login/consent forms (BROWSER_SUBMIT_FORMS), allow and deny", async () => {
    const s = await server({ autoApprove: false });

    // without form submission it stops on the login page and exits 1
    const stuck = callbackServer();
    const p0 = pkce();
    const noForms = await runBrowserFollow(authorizeUrl(s, stuck.redirectUri, p0.challenge, "s0"));
    expect(noForms.exitCode).toBe(1);
    expect(noForms.log).toContain("without reaching the callback");

    const cb = callbackServer();
    const { verifier, challenge } = pkce();
    const allowed = await runBrowserFollow(authorizeUrl(s, cb.redirectUri, challenge, "s1"), {
      BROWSER_SUBMIT_FORMS: "1",
    });
    expect(allowed.exitCode).toBe(0);
    expect(allowed.log).toContain('via "Sign in"');
    expect(allowed.log).toContain('via "Allow"');
    await codeFlowTokens(s, await cb.received, "s1", cb.redirectUri, verifier);

    const cb2 = callbackServer();
    const p2 = pkce();
    const denied = await runBrowserFollow(authorizeUrl(s, cb2.redirectUri, p2.challenge, "s2"), {
      BROWSER_SUBMIT_FORMS: "1",
      BROWSER_DECISION: "deny",
    });
    expect(denied.exitCode).toBe(0);
    const deniedCb = await cb2.received;
    expect(deniedCb.searchParams.get("error")).toBe("access_denied");
    expect(deniedCb.searchParams.get("state")).toBe("s2");
  }, 20_000);

  test.skipIf(!chromiumAvailable())(
    "(d) real Chromium clicks through the login and consent pages",
    async () => {
      const s = await server({ autoApprove: false });
      const cb = callbackServer();
      const { verifier, challenge } = pkce();
      const state = randomBytes(16).toString("base64url");

      const result = await openInChromium(authorizeUrl(s, cb.redirectUri, challenge, state), {
        approve: true,
      });
      expect(new URL(result.callbackUrl).origin).toBe(new URL(cb.redirectUri).origin);
      expect(result.visited.some((u) => u.includes("/interaction/"))).toBe(true);

      const tokens = await codeFlowTokens(s, await cb.received, state, cb.redirectUri, verifier);
      await checkRefreshRotation(s, tokens);
      expect(s.requests.some((r) => r.method === "POST" && /\/login$/.test(r.path))).toBe(true);
      expect(s.requests.some((r) => r.method === "POST" && /\/confirm$/.test(r.path))).toBe(true);
      expect(s.counts).toMatchObject({ token: 1, refresh: 3 });
    },
    // Chromium's start and two page loads took 17 s at load average 25 (fresh-clone CI run 1 of
    // session 4), failing a 15 s bound that timed a browser, not the OAuth server under test.
    90_000,
  );
});
