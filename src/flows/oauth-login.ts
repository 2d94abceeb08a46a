import type { Context } from "../context.ts";
import type { LoginOptions } from "./login-options.ts";
import { AuthctlError } from "../errors.ts";
import { terminalSafe } from "../format/terminal-text.ts";
import {
  type ClientAuthMethod,
  type ExpectedIssuer,
  type TokenSet,
  decodeIdToken,
  validateIdToken,
  clientAuthFor,
  discover,
} from "../oauth/index.ts";
import type {
  HookDeps,
  LoginResult,
  OAuthMethod,
  OAuthSettings,
  ProviderDefinition,
} from "../providers/types.ts";
import { createHookDeps } from "../providers/hook-deps.ts";
import { maskSecret, registerSecret } from "../redact.ts";
import { accountNote, DEFAULT_ACCOUNT, putAccount } from "../store/accounts.ts";
import type { StoredCredential } from "../store/types.ts";
import { createFlowSignal } from "./_cancel.ts";
import { authorize, exchange, type StepContext } from "./login-steps.ts";

/** Settings with every endpoint known, and the issuer authorization responses must name. */
export type ResolvedSettings = OAuthSettings & {
  expectedIssuer?: ExpectedIssuer;
  clientAuth?: ClientAuthMethod;
};

/**
 * Fills endpoints the provider left to discovery (RFC 8414 / OpenID Connect Discovery). The
 * issuer is what the authorization response's `iss` is checked against (RFC 9207): the metadata's
 * own `issuer` when discovery ran, else the configured one.
 */
export async function resolveEndpoints(
  ctx: Context,
  settings: OAuthSettings,
  signal?: AbortSignal,
): Promise<ResolvedSettings> {
  if (!settings.issuer) return settings;
  if (settings.authorizeUrl && settings.tokenUrl && settings.deviceAuthorizationUrl) {
    return { ...settings, expectedIssuer: { issuer: settings.issuer, required: false } };
  }
  const metadata = await discover(ctx.deps.http, settings.issuer, { signal });
  return {
    ...settings,
    expectedIssuer: {
      issuer: metadata.issuer,
      required: metadata.raw.authorization_response_iss_parameter_supported === true,
    },
    clientAuth: clientAuthFor(metadata),
    authorizeUrl: settings.authorizeUrl ?? metadata.authorization_endpoint,
    tokenUrl: settings.tokenUrl ?? metadata.token_endpoint,
    deviceAuthorizationUrl: settings.deviceAuthorizationUrl ?? metadata.device_authorization_endpoint,
    revocationUrl: settings.revocationUrl ?? metadata.revocation_endpoint,
  };
}

export function hookDeps(ctx: Context, provider: ProviderDefinition, signal?: AbortSignal): HookDeps {
  return createHookDeps(ctx.deps, provider, signal);
}

/**
 * An account login: authorize → exchange → finish (LoginSteps), each the provider's override or
 * the default in login-steps.ts, then the checks every set of tokens gets, then the store.
 */
export async function loginWithOAuth(
  ctx: Context,
  provider: ProviderDefinition,
  method: OAuthMethod,
  options: LoginOptions,
): Promise<void> {
  const { deps } = ctx;
  if (method.notice) deps.ui.warn(method.notice);
  const flowSignal = createFlowSignal(deps, options.timeoutMs);
  try {
    let base = method.oauth;
    if (options.host) {
      if (!method.hooks?.forHost) throw new AuthctlError("USAGE", `${provider.name} has no --host option`);
      base = method.hooks.forHost(options.host, base);
    }
    const settings = await resolveEndpoints(ctx, base, flowSignal.signal);
    const hd = hookDeps(ctx, provider, flowSignal.signal);
    const login: StepContext = {
      ctx,
      provider,
      method,
      settings,
      options,
      signal: flowSignal.signal,
      hookDeps: hd,
      headers: method.hooks?.headers?.(hd),
    };
    const steps = method.steps ?? {};
    const grant = await authorize(login);
    const exchanged = await exchange(login, grant);
    let result = exchanged;
    if (exchanged.kind === "tokens") {
      checkIdToken(
        ctx,
        provider,
        exchanged.tokens,
        settings,
        grant.kind === "code" ? grant.nonce : undefined,
      );
      reportGrant(ctx, provider, settings, exchanged.tokens);
      if (steps.finish) result = await steps.finish(hd, exchanged.tokens, settings);
    }
    await storeLogin(ctx, provider, method, settings, result, options.host, options.account);
  } finally {
    flowSignal.dispose();
  }
}

/**
 * Validates the ID token before anything uses it (OIDC Core §3.1.3.7) when the issuer is known
 * (OpenID providers found by discovery or configured with one): every claim is checked, the nonce
 * included, and a bad token ends the login. Providers without an issuer get `keepIdToken` at
 * storing time instead.
 */
function checkIdToken(
  ctx: Context,
  provider: ProviderDefinition,
  tokens: TokenSet,
  settings: ResolvedSettings,
  nonce?: string,
): void {
  if (!tokens.id_token || !settings.expectedIssuer) return;
  registerSecret(tokens.id_token);
  validateIdToken(tokens.id_token, {
    issuer: settings.expectedIssuer.issuer,
    clientId: settings.clientId,
    nonce,
    now: ctx.deps.now(),
  });
}

/**
 * Says what the server granted less than asked (RFC 6749 §3.3: it may narrow the scope, and then
 * must say so in `scope`): missing scopes, and a missing refresh token when offline_access was
 * asked for — the login then ends when the access token does.
 */
function reportGrant(
  ctx: Context,
  provider: ProviderDefinition,
  settings: OAuthSettings,
  tokens: TokenSet,
): void {
  if (tokens.scope !== undefined) {
    const granted = new Set(tokens.scope.split(" ").filter(Boolean));
    const missing = settings.scopes.filter((scope) => !granted.has(scope));
    if (missing.length > 0)
      ctx.deps.ui.warn(
        `${provider.name} did not grant ${missing.length > 1 ? "these scopes" : "the scope"}: ${terminalSafe(missing.join(" "))}`,
      );
  }
  if (!tokens.refresh_token && settings.scopes.includes("offline_access")) {
    const until = tokens.expires_at
      ? ` (the access token lasts until ${new Date(tokens.expires_at).toISOString()})`
      : "";
    ctx.deps.ui.warn(
      `${provider.name} sent no refresh token although offline_access was asked for: log in again when the access token expires${until}`,
    );
  }
}

/**
 * Before an ID token is stored, shown ("as X") or exported: for built-in providers whose requests
 * authctl did not bind to an issuer, the checks that hold for any ID token still run (signed,
 * current, complete). One that fails them is dropped with a warning rather than failing a login
 * whose access token may be fine. (Provider hooks may have read it already: they only send it
 * back to the provider that issued it.)
 */
function keepIdToken(
  ctx: Context,
  provider: ProviderDefinition,
  idToken: string | undefined,
): string | undefined {
  if (!idToken) return undefined;
  try {
    validateIdToken(idToken, { now: ctx.deps.now() });
    return idToken;
  } catch (error) {
    ctx.deps.ui.warn(`${provider.name}: ${(error as Error).message}; it is not kept`);
    return undefined;
  }
}

/** `email`, `preferred_username` or `sub` from a validated ID token, for display and `status`. */
function accountFromIdToken(idToken: string | undefined): string | undefined {
  if (!idToken) return undefined;
  try {
    const { claims } = decodeIdToken(idToken);
    const account = claims.email ?? claims.preferred_username ?? claims.sub;
    return typeof account === "string" ? account : undefined;
  } catch {
    return undefined;
  }
}

/** Server-chosen text shown as "logged in as X" and by `status`: no terminal escapes (issue 13.8). */
function safeAccount(account: string | undefined): string | undefined {
  if (account === undefined) return undefined;
  const safe = terminalSafe(account).trim().slice(0, 200);
  return safe === "" ? undefined : safe;
}

export async function storeLogin(
  ctx: Context,
  provider: ProviderDefinition,
  method: OAuthMethod,
  settings: OAuthSettings,
  result: LoginResult,
  host?: string,
  /** The account it is stored as (store/accounts.ts); `default` when absent. */
  account?: string,
): Promise<void> {
  const { deps } = ctx;
  const now = deps.now();
  const extra: Record<string, string> = { ...(result.extra ?? {}) };
  if (host) extra.host = host;
  let credential: StoredCredential;
  if (result.kind === "key") {
    registerSecret(result.key);
    credential = {
      method: method.id,
      type: "api_key",
      key: result.key,
      account: safeAccount(result.account),
      label: result.label,
      extra,
      created_at: now,
      updated_at: now,
    };
  } else {
    const { tokens } = result;
    registerSecret(tokens.access_token);
    registerSecret(tokens.refresh_token);
    registerSecret(tokens.id_token);
    const idToken = keepIdToken(ctx, provider, tokens.id_token);
    // Discovery ran at login; keeping the endpoints spares every later refresh a discovery round trip.
    if (settings.tokenUrl) extra.token_url = settings.tokenUrl;
    if (settings.revocationUrl) extra.revocation_url = settings.revocationUrl;
    credential = {
      method: method.id,
      type: "oauth",
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      id_token: idToken,
      token_type: tokens.token_type,
      scope: tokens.scope,
      expires_at: tokens.expires_at,
      obtained_at: now,
      account: safeAccount(result.account ?? accountFromIdToken(idToken)),
      extra,
      created_at: now,
      updated_at: now,
    };
  }
  if (Object.keys(extra).length === 0) delete credential.extra;
  for (const key of Object.keys(credential) as Array<keyof StoredCredential>)
    if (credential[key] === undefined) delete credential[key];
  await ctx.store.update((credentials) => {
    putAccount(credentials, provider.id, account ?? DEFAULT_ACCOUNT, credential);
  });
  const who = credential.account ? ` as ${credential.account}` : "";
  if (credential.type === "api_key") {
    deps.ui.success(
      `logged in to ${provider.name}${accountNote(account ?? DEFAULT_ACCOUNT)}${who}: stored key ${maskSecret(credential.key!)}${credential.label ? ` (${credential.label})` : ""}`,
    );
    return;
  }
  const expiry = credential.expires_at
    ? `, access token valid until ${new Date(credential.expires_at).toISOString()}`
    : "";
  deps.ui.success(
    `logged in to ${provider.name}${accountNote(account ?? DEFAULT_ACCOUNT)}${who} (token ${maskSecret(credential.access_token!)}${expiry}${credential.refresh_token ? ", refreshable" : ""})`,
  );
}
