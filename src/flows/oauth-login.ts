import type { Context } from "../actions/context.ts";
import type { LoginOptions } from "../actions/login.ts";
import { AuthctlError } from "../errors.ts";
import { terminalSafe } from "../format/terminal-text.ts";
import { canOpenBrowser } from "../io/browser.ts";
import {
  type ClientAuthMethod,
  type ExpectedIssuer,
  type TokenSet,
  authorizationCodeGrantRequest,
  decodeIdToken,
  validateIdToken,
  clientAuthFor,
  discover,
  processTokenResponse,
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
import type { StoredCredential } from "../store/types.ts";
import { createFlowSignal } from "./_cancel.ts";
import { runCustomDeviceFlow, runDeviceFlow, trustedHosts } from "./device.ts";
import { obtainAuthorizationCode } from "./loopback.ts";

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
  const metadata = await discover(ctx.deps.fetch, settings.issuer, { signal });
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

export async function loginWithOAuth(
  ctx: Context,
  provider: ProviderDefinition,
  method: OAuthMethod,
  options: LoginOptions,
): Promise<void> {
  const { deps } = ctx;
  const hooks = method.hooks ?? {};
  if (hooks.notice) deps.ui.warn(hooks.notice);
  const flowSignal = createFlowSignal(deps, options.timeoutMs);
  try {
    const hd = hookDeps(ctx, provider, flowSignal.signal);
    let base = method.oauth;
    if (options.host) {
      if (!hooks.forHost) throw new AuthctlError("USAGE", `${provider.name} has no --host option`);
      base = hooks.forHost(options.host, base);
    }
    const settings = await resolveEndpoints(ctx, base, flowSignal.signal);
    const headers = hooks.headers?.(hd);
    const deviceAvailable =
      method.flows.includes("device") && Boolean(settings.deviceAuthorizationUrl || hooks.customDevice);
    // Over SSH or without a display no browser can come back to a loopback port here: a device
    // code, approved on any machine, is the login that works (gh does the same). --no-browser
    // still asks for the paste flow; providers without a device flow keep it too (issue 15.8).
    const headless =
      !options.device && !options.noBrowser && deviceAvailable && !canOpenBrowser(deps.env, deps.platform);
    if (headless && method.flows.includes("loopback")) {
      deps.ui.info(
        `no browser here (SSH or no display): logging in with a device code (--no-browser pastes a redirect URL instead)`,
      );
    }
    const useDevice = options.device || headless || !method.flows.includes("loopback");
    let result: LoginResult;
    if (useDevice) {
      if (!deviceAvailable) {
        throw new AuthctlError("USAGE", `${provider.name} has no device-code login`, {
          hint: `run 'authctl login ${provider.id}' (add --no-browser to paste the code instead)`,
        });
      }
      if (hooks.customDevice) {
        const started = await hooks.customDevice(hd, settings);
        const tokens = await runCustomDeviceFlow(ctx, provider, started, {
          signal: flowSignal.signal,
          noBrowser: Boolean(options.noBrowser),
          trustedHosts: trustedHosts(settings),
        });
        result = started.finish ? await started.finish(tokens) : { kind: "tokens", tokens };
        await storeLogin(ctx, provider, method, settings, result, options.host);
        return;
      }
      if (!settings.tokenUrl) throw missing(provider, "token_url");
      const classify = hooks.device?.classify;
      const tokens = await runDeviceFlow(
        ctx,
        provider,
        {
          ...settings,
          deviceAuthorizationUrl: settings.deviceAuthorizationUrl!,
          tokenUrl: settings.tokenUrl,
        },
        {
          signal: flowSignal.signal,
          noBrowser: Boolean(options.noBrowser),
          pkce: hooks.device?.pkce,
          classify: classify ? (response) => classify(response, deps.now()) : undefined,
          headers,
        },
      );
      checkIdToken(ctx, provider, tokens, settings);
      reportGrant(ctx, provider, settings, tokens);
      result = hooks.afterTokens ? await hooks.afterTokens(hd, tokens, settings) : { kind: "tokens", tokens };
    } else {
      if (!settings.authorizeUrl) throw missing(provider, "authorize_url");
      const grant = await obtainAuthorizationCode(
        ctx,
        provider,
        { ...settings, authorizeUrl: settings.authorizeUrl },
        {
          explainError: hooks.explainError,
          noBrowser: Boolean(options.noBrowser),
          deviceAvailable,
          signal: flowSignal.signal,
          authorize: hooks.authorize,
          expectedIssuer: settings.expectedIssuer,
          alternativeHint: provider.methods.some((m) => m.kind === "api_key")
            ? `use 'authctl login ${provider.id} --with-key' with the key on stdin${deviceAvailable ? `, or --device` : ""}`
            : undefined,
        },
      );
      const input = {
        code: grant.code,
        state: grant.state,
        verifier: grant.verifier,
        redirectUri: grant.redirectUri,
        settings,
      };
      if (hooks.exchangeCode) {
        result = await hooks.exchangeCode(hd, input);
      } else {
        if (!settings.tokenUrl) throw missing(provider, "token_url");
        const tokens = await processTokenResponse(
          await authorizationCodeGrantRequest(deps.fetch, {
            tokenUrl: settings.tokenUrl,
            clientId: settings.clientId,
            clientSecret: settings.clientSecret,
            clientAuth: settings.clientAuth,
            code: grant.code,
            redirectUri: grant.redirectUri,
            codeVerifier: grant.verifier,
            body: settings.tokenBody,
            extra: hooks.exchangeExtra?.(input),
            headers,
            signal: flowSignal.signal,
          }),
          { now: deps.now() },
        );
        checkIdToken(ctx, provider, tokens, settings, grant.nonce);
        reportGrant(ctx, provider, settings, tokens);
        result = hooks.afterTokens
          ? await hooks.afterTokens(hd, tokens, settings)
          : { kind: "tokens", tokens };
      }
    }
    await storeLogin(ctx, provider, method, settings, result, options.host);
  } finally {
    flowSignal.dispose();
  }
}

function missing(provider: ProviderDefinition, key: string): AuthctlError {
  return new AuthctlError(
    "CONFIG_INVALID",
    `${provider.name} has no ${key} (and discovery did not supply one)`,
    {
      hint: `set ${key} or issuer under [providers.${provider.id}] in config.toml`,
    },
  );
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
    credentials[provider.id] = credential;
  });
  const who = credential.account ? ` as ${credential.account}` : "";
  if (credential.type === "api_key") {
    deps.ui.success(
      `logged in to ${provider.name}${who}: stored key ${maskSecret(credential.key!)}${credential.label ? ` (${credential.label})` : ""}`,
    );
    return;
  }
  const expiry = credential.expires_at
    ? `, access token valid until ${new Date(credential.expires_at).toISOString()}`
    : "";
  deps.ui.success(
    `logged in to ${provider.name}${who} (token ${maskSecret(credential.access_token!)}${expiry}${credential.refresh_token ? ", refreshable" : ""})`,
  );
}
