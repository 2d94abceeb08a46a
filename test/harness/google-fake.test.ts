/**
 * Proves test/fakes/google.ts behaves as providers.md §7 documents, with plain fetch and no
 * authctl code: the installed-app loopback flow with a client_secret, offline refresh tokens,
 * refresh without rotation, and loadCodeAssist.
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";

import {
  GOOGLE_CLIENT_ID,
  GOOGLE_CLIENT_SECRET,
  GOOGLE_INELIGIBLE_MESSAGE,
  GOOGLE_SCOPES,
  startGoogleFake,
  type GoogleFake,
  type GoogleFakeOptions,
} from "../fakes/google.ts";
import { cleanupAfterEach, pkce as pkcePair, postForm, postJson, sendJson } from "./_helpers.ts";

const REDIRECT = "http://127.0.0.1:45289/oauth2callback";

const { started } = cleanupAfterEach();
const fake = (options: GoogleFakeOptions = {}): GoogleFake => started(startGoogleFake(options));

function authUrl(f: GoogleFake, params: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    client_id: GOOGLE_CLIENT_ID,
    redirect_uri: REDIRECT,
    response_type: "code",
    access_type: "offline",
    scope: GOOGLE_SCOPES.join(" "),
    state: "s".repeat(64),
    ...params,
  });
  for (const [k, v] of Object.entries(params)) if (v === "") query.delete(k);
  return `${f.url}/o/oauth2/v2/auth?${query}`;
}

async function authorize(f: GoogleFake, params: Record<string, string> = {}) {
  const res = await fetch(authUrl(f, params), { redirect: "manual" });
  const location = res.headers.get("location");
  return {
    status: res.status,
    location: location === null ? null : new URL(location),
    text: await res.text(),
  };
}

const exchange = (f: GoogleFake, code: string, extra: Record<string, string> = {}) =>
  postForm(`${f.url}/token`, {
    grant_type: "authorization_code",
    code,
    redirect_uri: REDIRECT,
    client_id: GOOGLE_CLIENT_ID,
    client_secret: GOOGLE_CLIENT_SECRET,
    ...extra,
  });
const refresh = (f: GoogleFake, refreshToken: string, extra: Record<string, string> = {}) =>
  postForm(`${f.url}/token`, {
    grant_type: "refresh_token",
    refresh_token: refreshToken,
    client_id: GOOGLE_CLIENT_ID,
    client_secret: GOOGLE_CLIENT_SECRET,
    ...extra,
  });

const loadCodeAssist = (f: GoogleFake, accessToken: string | undefined, body: unknown = defaultLoadBody) =>
  postJson(
    `${f.url}/v1internal:loadCodeAssist`,
    body,
    accessToken ? { authorization: `Bearer ${accessToken}` } : {},
  );
const defaultLoadBody = {
  metadata: { ideType: "IDE_UNSPECIFIED", platform: "PLATFORM_UNSPECIFIED", pluginType: "GEMINI" },
};

describe("Google fake: authorize", () => {
  test("a valid request redirects to the loopback callback with code and state", async () => {
    const f = fake();
    const answer = await authorize(f);
    expect(answer.status).toBe(302);
    expect(answer.location!.origin + answer.location!.pathname).toBe(REDIRECT);
    expect(answer.location!.searchParams.get("code")).toBeTruthy();
    expect(answer.location!.searchParams.get("state")).toBe("s".repeat(64));
    // any port, and localhost too
    expect((await authorize(f, { redirect_uri: "http://localhost:8085/oauth2callback" })).status).toBe(302);
    expect(f.counts.authorize).toBe(2);
  });

  test("bad client, redirect, scopes or response_type get a 400 page, never a redirect", async () => {
    const f = fake();
    const bad: Array<Record<string, string>> = [
      { client_id: "other.apps.googleusercontent.com" },
      { redirect_uri: "https://127.0.0.1:45289/oauth2callback" },
      { redirect_uri: "http://example.com:45289/oauth2callback" },
      { redirect_uri: "http://127.0.0.1:45289/callback" },
      { scope: GOOGLE_SCOPES.slice(0, 2).join(" ") },
      { response_type: "token" },
      { code_challenge: "x".repeat(43), code_challenge_method: "S512" },
    ];
    for (const params of bad) {
      const answer = await authorize(f, params);
      expect(answer.status).toBe(400);
      expect(answer.location).toBeNull();
    }
  });

  test("deny redirects with error=access_denied and the state", async () => {
    const f = fake({ authorize: "deny" });
    const answer = await authorize(f);
    expect(answer.location!.searchParams.get("error")).toBe("access_denied");
    expect(answer.location!.searchParams.get("state")).toBe("s".repeat(64));
    expect(answer.location!.searchParams.has("code")).toBe(false);
  });
});

describe("Google fake: token endpoint", () => {
  test("exchange needs the client_secret; offline gives a refresh token; codes are single-use", async () => {
    const f = fake();
    const code = (await authorize(f)).location!.searchParams.get("code")!;
    expect(await exchange(f, code, { client_secret: "wrong" })).toEqual({
      status: 401,
      json: expect.objectContaining({ error: "invalid_client" }),
    });
    const { client_secret: _, ...noSecret } = {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT,
      client_id: GOOGLE_CLIENT_ID,
      client_secret: "",
    };
    expect((await postForm(`${f.url}/token`, noSecret)).status).toBe(401);
    expect((await exchange(f, code, { redirect_uri: "http://127.0.0.1:1/oauth2callback" })).json.error).toBe(
      "redirect_uri_mismatch",
    );
    const answer = await exchange(f, code);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      access_token: f.issued.accessTokens[0],
      expires_in: 3599,
      refresh_token: f.issued.refreshTokens[0],
      scope: GOOGLE_SCOPES.join(" "),
      token_type: "Bearer",
    });
    expect((await exchange(f, code)).json.error).toBe("invalid_grant");
  });

  test("HTTP Basic client authentication works; a JSON body does not", async () => {
    const f = fake();
    const code = (await authorize(f)).location!.searchParams.get("code")!;
    const json = await sendJson(`${f.url}/token`, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT,
    });
    expect(json.status).toBe(400);
    const basic = Buffer.from(`${GOOGLE_CLIENT_ID}:${GOOGLE_CLIENT_SECRET}`).toString("base64");
    const answer = await postForm(
      `${f.url}/token`,
      { grant_type: "authorization_code", code, redirect_uri: REDIRECT },
      { authorization: `Basic ${basic}` },
    );
    expect(answer.status).toBe(200);
  });

  test("refresh tokens: online never; offline once without prompt=consent, always with it", async () => {
    const f = fake();
    const codeFor = async (params: Record<string, string>) =>
      (await authorize(f, params)).location!.searchParams.get("code")!;
    expect((await exchange(f, await codeFor({ access_type: "online" }))).json).not.toHaveProperty(
      "refresh_token",
    );
    expect((await exchange(f, await codeFor({ access_type: "" }))).json).not.toHaveProperty("refresh_token");
    expect((await exchange(f, await codeFor({}))).json).toHaveProperty("refresh_token"); // first consent
    expect((await exchange(f, await codeFor({}))).json).not.toHaveProperty("refresh_token"); // consent remembered
    expect((await exchange(f, await codeFor({ prompt: "consent" }))).json).toHaveProperty("refresh_token");

    const returning = fake({ previouslyConsented: true });
    const code = (await authorize(returning)).location!.searchParams.get("code")!;
    expect((await exchange(returning, code)).json).not.toHaveProperty("refresh_token");
  });

  test("PKCE is optional, but checked when a challenge was sent", async () => {
    const f = fake();
    const { verifier, challenge } = pkcePair();
    const pkce = { code_challenge: challenge, code_challenge_method: "S256" };
    const code = (await authorize(f, pkce)).location!.searchParams.get("code")!;
    expect((await exchange(f, code)).json.error).toBe("invalid_grant");
    expect(
      (await exchange(f, code, { code_verifier: randomBytes(32).toString("base64url") })).json.error,
    ).toBe("invalid_grant");
    expect((await exchange(f, code, { code_verifier: verifier })).status).toBe(200);
  });

  test("refresh omits refresh_token and does not rotate; a revoked one gets invalid_grant", async () => {
    const f = fake();
    const code = (await authorize(f, { prompt: "consent" })).location!.searchParams.get("code")!;
    const tokens = (await exchange(f, code)).json;
    for (let i = 0; i < 2; i++) {
      const answer = await refresh(f, tokens.refresh_token);
      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({
        access_token: expect.any(String),
        expires_in: 3599,
        scope: GOOGLE_SCOPES.join(" "),
        token_type: "Bearer",
      });
    }
    expect((await refresh(f, tokens.refresh_token, { client_secret: "nope" })).status).toBe(401);
    f.revoke(tokens.refresh_token);
    expect(await refresh(f, tokens.refresh_token)).toEqual({
      status: 400,
      json: { error: "invalid_grant", error_description: "Token has been expired or revoked." },
    });
    expect(f.counts).toEqual({
      authorize: 1,
      token: 1,
      refresh: 4,
      loadCodeAssist: 0,
      onboardUser: 0,
      operation: 0,
    });
  });
});

describe("Google fake: loadCodeAssist", () => {
  async function accessToken(f: GoogleFake): Promise<string> {
    const code = (await authorize(f)).location!.searchParams.get("code")!;
    return (await exchange(f, code)).json.access_token as string;
  }

  test("answers the project and tier for a valid Bearer token", async () => {
    const f = fake();
    const token = await accessToken(f);
    expect(await loadCodeAssist(f, token)).toEqual({
      status: 200,
      json: { cloudaicompanionProject: "proj-123", currentTier: { id: "standard-tier" } },
    });
    expect(f.requests.at(-1)!.headers.authorization).toBe(`Bearer ${token}`);
  });

  test("401 without or with an unknown token; 400 without metadata", async () => {
    const f = fake();
    expect((await loadCodeAssist(f, undefined)).json.error.status).toBe("UNAUTHENTICATED");
    expect((await loadCodeAssist(f, "ya29.unknown")).status).toBe(401);
    const token = await accessToken(f);
    expect((await loadCodeAssist(f, token, {})).status).toBe(400);
  });

  test("a new account: no tier, onboardUser as gemini-cli setup.ts (free tier without a project), then the operation", async () => {
    const f = fake({ onboarded: false, onboardPending: true, project: "managed-1" });
    const token = await accessToken(f);
    const load = await loadCodeAssist(f, token);
    expect(load.json.currentTier).toBeUndefined();
    expect(load.json.allowedTiers.find((t: { isDefault?: boolean }) => t.isDefault).id).toBe("free-tier");
    const auth = { authorization: `Bearer ${token}` };
    const metadata = { ideType: "IDE_UNSPECIFIED", platform: "PLATFORM_UNSPECIFIED", pluginType: "GEMINI" };
    const refused = await postJson(
      `${f.url}/v1internal:onboardUser`,
      { tierId: "free-tier", cloudaicompanionProject: "mine", metadata },
      auth,
    );
    expect(refused.json.error.status).toBe("FAILED_PRECONDITION");
    const op = await postJson(`${f.url}/v1internal:onboardUser`, { tierId: "free-tier", metadata }, auth);
    expect(op.json).toEqual({ name: expect.stringMatching(/^operations\//), done: false });
    const done = await fetch(`${f.url}/v1internal/${op.json.name}`, { headers: auth }).then((r) => r.json());
    expect(done).toEqual({
      name: op.json.name,
      done: true,
      response: { cloudaicompanionProject: { id: "managed-1", name: "managed-1" } },
    });
    expect((await loadCodeAssist(f, token)).json).toMatchObject({
      cloudaicompanionProject: "managed-1",
      currentTier: { id: "standard-tier" },
    });
  });

  test("ineligible: 403 with an IneligibleTierError body", async () => {
    const f = fake({ ineligible: true });
    const answer = await loadCodeAssist(f, await accessToken(f));
    expect(answer.status).toBe(403);
    expect(answer.json).toEqual({
      error: {
        code: 403,
        status: "PERMISSION_DENIED",
        message: GOOGLE_INELIGIBLE_MESSAGE,
        details: [expect.objectContaining({ reason: "IneligibleTierError" })],
      },
    });
  });
});
