/**
 * A real OAuth 2.0 / OpenID Connect authorization server for end-to-end tests:
 * panva's `oidc-provider` (v9), configured for one public native client
 * ("authctl-test") and one user ("test-user"), listening on 127.0.0.1:<random>.
 *
 *   const server = await startOidcServer();            // autoApprove: login+consent happen without forms
 *   const server = await startOidcServer({ autoApprove: false }); // real HTML login + consent pages
 *
 * Endpoints (oidc-provider defaults, also in `${issuer}/.well-known/openid-configuration`):
 *   authorization /auth, token /token, device authorization /device/auth,
 *   device verification /device, revocation /token/revocation, userinfo /me, jwks /jwks
 *
 * Only the interaction pages (/interaction/:uid[...]) are the fake's own code; every
 * protocol endpoint is oidc-provider's.
 */
import nodeCrypto, { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { UserAgent } from "./browser-follow.ts";

export const TEST_CLIENT_ID = "authctl-test";
export const TEST_USER = {
  accountId: "test-user",
  email: "test-user@example.test",
  name: "Test User",
} as const;

export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

export interface OidcRequestRecord {
  method: string;
  path: string;
  status: number;
  /** `grant_type` of token endpoint requests, as parsed from the form body */
  grantType?: string;
  contentType?: string;
}

export interface OidcServer {
  /** http://127.0.0.1:<port> */
  issuer: string;
  /** "authctl-test": public native client, PKCE S256 required */
  clientId: string;
  /**
   * Requests seen, counted per request at the HTTP (Koa middleware) layer, successful or not:
   *   token      token endpoint, grant_type=authorization_code
   *   refresh    token endpoint, grant_type=refresh_token
   *   device     token endpoint, grant_type=urn:ietf:params:oauth:grant-type:device_code (polls)
   *   revocation revocation endpoint
   * and, beyond the requested interface:
   *   tokenOther          token endpoint requests with another/no grant_type (e.g. JSON bodies, which are rejected)
   *   deviceAuthorization device authorization endpoint (/device/auth)
   *   userinfo            userinfo endpoint (/me)
   */
  counts: {
    token: number;
    refresh: number;
    device: number;
    revocation: number;
    tokenOther: number;
    deviceAuthorization: number;
    userinfo: number;
  };
  /** every request to the server, in order (handy for asserting on what a client sent) */
  requests: OidcRequestRecord[];
  /** Approve a pending device authorization as the test user (HTTP against the real /device pages). */
  approveDevice(userCode: string): Promise<void>;
  /** Deny ("Abort") a pending device authorization; polling then yields access_denied. */
  denyDevice(userCode: string): Promise<void>;
  /** Lifetime in seconds of the access tokens issued from now on (logins and refreshes). */
  setAccessTokenTtl(seconds: number): void;
  stop(): Promise<void>;
}

export interface StartOidcServerOptions {
  /** access token lifetime in seconds (default 3600) */
  accessTokenTtl?: number;
  /**
   * `interval` added to the device authorization answer (seconds). oidc-provider sends none, so
   * a client waits RFC 8628's 5 s default before each poll (that default is tested on a fake
   * clock in test/actions/oauth-clock.test.ts); a test that only needs the login done sets 1.
   */
  deviceInterval?: number;
  /** finish login and consent without any form (default true) */
  autoApprove?: boolean;
  /** rotate refresh tokens on every use (default true; replaying a rotated one revokes the grant) */
  rotateRefreshToken?: boolean;
  /** refresh token lifetime in seconds (default 14 days) */
  refreshTokenTtl?: number;
  /** device code lifetime in seconds (default 600) */
  deviceCodeTtl?: number;
  /**
   * "always" (default): every grant gets a refresh token. "offline_access": oidc-provider's own
   * default, a refresh token only when offline_access was granted, which the authorization
   * endpoint grants only with prompt=consent (OIDC Core §11).
   */
  refreshTokens?: "always" | "offline_access";
}

// ---------------------------------------------------------------------------
// minimal types for the parts of oidc-provider / koa used here (the package ships no .d.ts)

interface KoaContext {
  method: string;
  path: string;
  status: number;
  body: unknown;
  type: string;
  req: IncomingMessage;
  res: ServerResponse;
  get(header: string): string;
  set(header: string, value: string): void;
  redirect(url: string): void;
  /** defined by oidc-provider for its own routes */
  oidc?: { body?: Record<string, unknown> };
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

interface InteractionDetails {
  uid: string;
  grantId?: string;
  prompt: {
    name: string;
    reasons: string[];
    details: {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
  };
  params: Record<string, unknown> & { client_id: string; scope?: string };
  session?: { accountId?: string };
}

interface GrantLike {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(indicator: string, scope: string): void;
  save(): Promise<string>;
}

interface ProviderInstance {
  use(fn: KoaMiddleware): void;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionResult(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    options?: { mergeWithLastSubmission?: boolean },
  ): Promise<string>;
  Grant: {
    new (init: { accountId: string; clientId: string }): GrantLike;
    find(id: string): Promise<GrantLike | undefined>;
  };
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

// ---------------------------------------------------------------------------

let providerModule: Promise<ProviderConstructor> | undefined;

/**
 * oidc-provider prints "oidc-provider WARNING: Unsupported runtime. Use Node.js ..." when it
 * is first imported under Bun. It does work under Bun; hide that one line while importing.
 * (All other notices are avoided by configuration: own jwks, cookie keys, adapter, sources, ttls.)
 */
function loadProvider(): Promise<ProviderConstructor> {
  providerModule ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === "string" && args[0].includes("oidc-provider WARNING: Unsupported runtime"))
        return;
      warn.apply(console, args);
    };
    try {
      const specifier = "oidc-provider"; // untyped package: keep tsc from looking for declarations
      const mod = (await import(specifier)) as { default: ProviderConstructor };
      return mod.default;
    } finally {
      console.warn = warn;
    }
  })();
  silenceTsscmpDeprecation();
  return providerModule;
}

/**
 * Signed cookies go through koa → cookies → keygrip → tsscmp, which calls the deprecated
 * `crypto.pseudoRandomBytes`. Node only documents that deprecation; Bun prints
 * "[DEP0115] DeprecationWarning" on first use (mid-test). Use it once here with that one
 * warning swallowed: Bun's util.deprecate then considers it reported.
 */
function silenceTsscmpDeprecation(): void {
  const proc = process as unknown as { emitWarning: (...args: unknown[]) => void };
  const emitWarning = proc.emitWarning;
  proc.emitWarning = (warning: unknown, ...rest: unknown[]) => {
    if (rest.includes("DEP0115")) return;
    emitWarning.call(process, warning, ...rest);
  };
  try {
    const legacy = (nodeCrypto as unknown as { pseudoRandomBytes?: (n: number) => Buffer }).pseudoRandomBytes;
    legacy?.(1);
  } catch {
    // not present in this runtime: nothing to silence
  } finally {
    proc.emitWarning = emitWarning;
  }
}

let signingKeys: { keys: Record<string, unknown>[] } | undefined;

/** One RSA (RS256, the default id_token alg) and one EC key, generated once per process with node:crypto. */
function getSigningKeys(): { keys: Record<string, unknown>[] } {
  if (!signingKeys) {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
    signingKeys = {
      keys: [
        { ...rsa, kid: "test-rsa", use: "sig", alg: "RS256" },
        { ...ec, kid: "test-ec", use: "sig", alg: "ES256" },
      ],
    };
  }
  return signingKeys;
}

/** In-memory storage adapter (oidc-provider's own one prints a "development-only" warning). */
function createMemoryAdapter() {
  type Payload = Record<string, unknown> & {
    grantId?: string;
    userCode?: string;
    uid?: string;
    consumed?: number;
  };
  // Keep entries a little past their expiry: the models check `exp` themselves (and need the
  // expired record to tell "expired" from "not found", e.g. for device codes).
  const GRACE_MS = 60_000;
  const store = new Map<string, { payload: Payload; expiresAt: number }>();
  const byGrant = new Map<string, Set<string>>();
  const byUserCode = new Map<string, string>();
  const byUid = new Map<string, string>();

  const get = (key: string | undefined): Payload | undefined => {
    if (!key) return undefined;
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  return (model: string) => {
    const keyOf = (id: string) => `${model}:${id}`;
    return {
      async upsert(id: string, payload: Payload, expiresIn?: number) {
        const key = keyOf(id);
        store.set(key, {
          payload,
          expiresAt: typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 + GRACE_MS : Infinity,
        });
        if (payload.grantId) {
          let set = byGrant.get(payload.grantId);
          if (!set) byGrant.set(payload.grantId, (set = new Set()));
          set.add(key);
        }
        if (payload.userCode) byUserCode.set(payload.userCode, key);
        if (model === "Session" && payload.uid) byUid.set(payload.uid, key);
      },
      async find(id: string) {
        return get(keyOf(id));
      },
      async findByUserCode(userCode: string) {
        return get(byUserCode.get(userCode));
      },
      async findByUid(uid: string) {
        return get(byUid.get(uid));
      },
      async consume(id: string) {
        const entry = store.get(keyOf(id));
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id: string) {
        store.delete(keyOf(id));
      },
      async revokeByGrantId(grantId: string) {
        const set = byGrant.get(grantId);
        if (!set) return;
        for (const key of [...set]) {
          if (key.startsWith(`${model}:`)) {
            store.delete(key);
            set.delete(key);
          }
        }
        if (set.size === 0) byGrant.delete(grantId);
      },
    };
  };
}

// ---------------------------------------------------------------------------
// HTML (the fake's own pages, plus oidc-provider's device-flow "sources" — the defaults
// print notices and @import Google Fonts, which a sandboxed browser cannot reach)

function esc(s: unknown): string {
  return String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body>
<h1>${esc(title)}</h1>
${body}
</body>
</html>`;
}

function loginPage(uid: string, clientId: string, error?: string): string {
  return page(
    "Sign in",
    `<p>Sign in to continue to <strong>${esc(clientId)}</strong>.</p>
${error ? `<p id="error" role="alert">${esc(error)}</p>` : ""}
<form id="login" method="post" action="/interaction/${esc(uid)}/login">
  <label>Username <input type="text" name="username" autocomplete="username" autofocus></label>
  <button type="submit" id="sign-in">Sign in</button>
</form>`,
  );
}

function consentPage(uid: string, details: InteractionDetails): string {
  const scopes = details.prompt.details.missingOIDCScope ?? [];
  return page(
    "Authorize",
    `<p><strong>${esc(details.params.client_id)}</strong> wants access to your account.</p>
<ul id="scopes">${scopes.map((s) => `<li>${esc(s)}</li>`).join("")}</ul>
<form id="consent" method="post" action="/interaction/${esc(uid)}/confirm">
  <button type="submit" name="decision" value="allow" id="allow">Allow</button>
  <button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>`,
  );
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error("form body too large");
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

// ---------------------------------------------------------------------------

export async function startOidcServer(options: StartOidcServerOptions = {}): Promise<OidcServer> {
  let accessTokenTtl = options.accessTokenTtl ?? 3600;
  const autoApprove = options.autoApprove ?? true;
  const rotate = options.rotateRefreshToken ?? true;
  const refreshTokenTtl = options.refreshTokenTtl ?? 14 * 24 * 3600;
  const deviceCodeTtl = options.deviceCodeTtl ?? 600;

  const Provider = await loadProvider();

  // The issuer must contain the port, so listen first and plug the provider in afterwards.
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (handler) handler(req, res);
    else {
      res.statusCode = 503;
      res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const findAccount = async (_ctx: unknown, sub: string) => {
    if (sub !== TEST_USER.accountId) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, email: TEST_USER.email, email_verified: true, name: TEST_USER.name };
      },
    };
  };

  const configuration: Record<string, unknown> = {
    clients: [
      {
        client_id: TEST_CLIENT_ID,
        client_name: "authctl (test)",
        application_type: "native",
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token", DEVICE_CODE_GRANT],
        response_types: ["code"],
        redirect_uris: ["http://127.0.0.1/callback", "http://localhost/callback"],
      },
    ],
    findAccount,
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name"],
    },
    scopes: ["openid", "offline_access"],
    responseTypes: ["code"],
    jwks: getSigningKeys(),
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    adapter: createMemoryAdapter(),
    // Default is 15 s, which makes opaque access tokens usable at userinfo for 15 s past `exp`.
    clockTolerance: 0,
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        async userCodeInputSource(
          ctx: KoaContext,
          form: string,
          _out: unknown,
          err?: { name?: string; userCode?: string },
        ) {
          let msg = "Enter the code displayed on your device";
          if (err?.name === "AbortedError") msg = "The Sign-in request was interrupted";
          else if (err && (err.userCode || err.name === "NoCodeError"))
            msg = "The code you entered is incorrect. Try again";
          else if (err) msg = "There was an error processing your request";
          const marker = err ? `id="device-error" data-error="${esc(err.name)}"` : `id="device-input"`;
          ctx.body = page(
            "Device sign-in",
            `<p ${marker}>${esc(msg)}</p>${form}<button type="submit" form="op.deviceInputForm">Continue</button>`,
          );
        },
        async userCodeConfirmSource(
          ctx: KoaContext,
          form: string,
          _client: unknown,
          _info: unknown,
          userCode: string,
        ) {
          ctx.body = page(
            "Confirm device",
            `<p>Code <code id="user-code">${esc(userCode)}</code> should be displayed on your device.</p>${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>`,
          );
        },
        async successSource(ctx: KoaContext) {
          ctx.body = page(
            "Sign-in success",
            `<p id="device-success">Your device sign-in was successful, you can close this page.</p>`,
          );
        },
      },
      revocation: {
        enabled: true,
        // same policy as the default, minus its "you SHOULD change it" notice
        async allowedPolicy(_ctx: unknown, client: { clientId: string }, token: { clientId: string }) {
          return token.clientId === client.clientId;
        },
      },
      userinfo: { enabled: true },
    },
    pkce: { required: () => true },
    // Refresh tokens for this client always. By default only with offline_access, and the
    // authorization endpoint drops offline_access unless the request says prompt=consent
    // (the device authorization endpoint keeps it).
    async issueRefreshToken(
      _ctx: unknown,
      client: { grantTypeAllowed(t: string): boolean },
      code: { scopes: Set<string> },
    ) {
      if (options.refreshTokens === "offline_access")
        return client.grantTypeAllowed("refresh_token") && code.scopes.has("offline_access");
      return client.grantTypeAllowed("refresh_token");
    },
    // Refresh tokens issued without offline_access would otherwise die with the (browser) session.
    expiresWithSession: async () => false,
    rotateRefreshToken: () => rotate,
    ttl: {
      // Read at every issue, so a test can log in with a short-lived token and refresh to a long one.
      AccessToken: () => accessTokenTtl,
      AuthorizationCode: 60,
      ClientCredentials: 600,
      DeviceCode: deviceCodeTtl,
      IdToken: 3600,
      RefreshToken: refreshTokenTtl,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    clientBasedCORS: () => false,
    async renderError(ctx: KoaContext, out: Record<string, unknown>) {
      ctx.type = "html";
      ctx.body = page(
        "Error",
        Object.entries(out)
          .map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span class="${esc(k)}">${esc(v)}</span></p>`)
          .join("\n"),
      );
    },
  };

  let provider: ProviderInstance;
  try {
    provider = new Provider(issuer, configuration);
  } catch (err) {
    server.close();
    throw err;
  }

  const counts: OidcServer["counts"] = {
    token: 0,
    refresh: 0,
    device: 0,
    revocation: 0,
    tokenOther: 0,
    deviceAuthorization: 0,
    userinfo: 0,
  };
  const requests: OidcRequestRecord[] = [];

  // 1. request accounting. oidc-provider parses POST bodies itself (and refuses to work with a
  //    pre-consumed stream without a warning), so read `grant_type` from what it parsed, after
  //    it handled the request; the record is made whatever the outcome (also on errors).
  provider.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      const record: OidcRequestRecord = { method: ctx.method, path: ctx.path, status: ctx.status };
      const contentType = ctx.get("content-type");
      if (contentType) record.contentType = contentType;
      if (ctx.method === "POST" && ctx.path === "/token") {
        const grantType = ctx.oidc?.body?.grant_type;
        if (typeof grantType === "string") record.grantType = grantType;
        if (grantType === "authorization_code") counts.token++;
        else if (grantType === "refresh_token") counts.refresh++;
        else if (grantType === DEVICE_CODE_GRANT) counts.device++;
        else counts.tokenOther++;
      } else if (ctx.method === "POST" && ctx.path === "/token/revocation") {
        counts.revocation++;
      } else if (ctx.method === "POST" && ctx.path === "/device/auth") {
        counts.deviceAuthorization++;
      } else if (ctx.path === "/me" && ctx.method !== "OPTIONS") {
        counts.userinfo++;
      }
      requests.push(record);
    }
  });

  if (options.deviceInterval !== undefined) {
    const interval = options.deviceInterval;
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.method === "POST" && ctx.path === "/device/auth" && ctx.status === 200)
        ctx.body = { ...(ctx.body as Record<string, unknown>), interval };
    });
  }

  // 2. interactions (login + consent), the part an OpenID Provider deployment writes itself
  const finish = async (ctx: KoaContext, result: Record<string, unknown>, merge: boolean) => {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: merge,
    });
    ctx.set("cache-control", "no-store");
    ctx.redirect(returnTo);
    ctx.status = 303;
  };
  const consentResult = async (details: InteractionDetails) => {
    const accountId = details.session?.accountId ?? TEST_USER.accountId;
    const grant =
      (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ??
      new provider.Grant({ accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope?.length) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(" "));
    }
    return { consent: { grantId: await grant.save() } };
  };

  provider.use(async (ctx, next) => {
    const m = /^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/.exec(ctx.path);
    if (!m) return next();
    const [, uid, action] = m;
    ctx.set("cache-control", "no-store");
    try {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== uid) throw new Error("interaction uid mismatch");
      const prompt = details.prompt.name;

      if (ctx.method === "GET" && !action) {
        if (autoApprove) {
          if (prompt === "login")
            return await finish(ctx, { login: { accountId: TEST_USER.accountId } }, false);
          if (prompt === "consent") return await finish(ctx, await consentResult(details), true);
        }
        ctx.type = "html";
        if (prompt === "login") ctx.body = loginPage(uid!, details.params.client_id);
        else if (prompt === "consent") ctx.body = consentPage(uid!, details);
        else {
          ctx.status = 501;
          ctx.body = page("Not implemented", `<p>prompt ${esc(prompt)}</p>`);
        }
        return;
      }

      if (ctx.method === "POST" && action === "login" && prompt === "login") {
        const form = await readForm(ctx.req);
        const username = form.get("username")?.trim();
        if (username !== TEST_USER.accountId) {
          ctx.status = 200;
          ctx.type = "html";
          ctx.body = loginPage(uid!, details.params.client_id, `Unknown user ${username ?? ""}`);
          return;
        }
        return await finish(ctx, { login: { accountId: username } }, false);
      }

      if (ctx.method === "POST" && action === "confirm" && prompt === "consent") {
        const form = await readForm(ctx.req);
        if (form.get("decision") === "deny") {
          return await finish(
            ctx,
            { error: "access_denied", error_description: "End-User denied the request" },
            false,
          );
        }
        return await finish(ctx, await consentResult(details), true);
      }

      if (action === "abort") {
        return await finish(
          ctx,
          { error: "access_denied", error_description: "End-User aborted interaction" },
          false,
        );
      }

      ctx.status = 400;
      ctx.type = "html";
      ctx.body = page(
        "Bad interaction request",
        `<p>${esc(ctx.method)} ${esc(action ?? "")} during ${esc(prompt)}</p>`,
      );
    } catch (err) {
      ctx.status = 400;
      ctx.type = "html";
      ctx.body = page(
        "Interaction error",
        `<p id="interaction-error">${esc(err instanceof Error ? err.message : err)}</p>`,
      );
    }
  });

  // Errors oidc-provider itself considers bugs (500s); client errors are answered, not logged.
  provider.on("server_error", (_ctx: unknown, err: unknown) => {
    console.error("[fake oidc-provider] server_error:", err);
  });

  handler = provider.callback();

  const runDevice = async (userCode: string, decision: "allow" | "deny") => {
    const ua = new UserAgent();
    const steps: string[] = [];
    const start = new URL("/device", issuer);
    start.searchParams.set("user_code", userCode);
    const result = await ua.follow(start, {
      submitForms: true,
      decision,
      username: TEST_USER.accountId,
      isCallback: () => false,
      timeoutMs: 10_000,
      log: (l) => steps.push(l),
    });
    const body = result.finalBody;
    const expected = decision === "allow" ? 'id="device-success"' : 'data-error="AbortedError"';
    if (!body.includes(expected)) {
      throw new Error(
        `device ${decision} for ${userCode} did not complete (ended at ${result.finalUrl} ${result.finalStatus}):\n` +
          `${steps.join("\n")}\n${body
            .replace(/<[^>]+>/g, " ")
            .replace(/\s+/g, " ")
            .trim()
            .slice(0, 500)}`,
      );
    }
  };

  let stopped = false;
  return {
    issuer,
    clientId: TEST_CLIENT_ID,
    counts,
    requests,
    approveDevice: (userCode) => runDevice(userCode, "allow"),
    denyDevice: (userCode) => runDevice(userCode, "deny"),
    setAccessTokenTtl(seconds) {
      accessTokenTtl = seconds;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
}
