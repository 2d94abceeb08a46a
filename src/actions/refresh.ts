import { AuthctlError, isAuthctlError } from "../errors.ts";
import { idTokenAfterRefresh, processTokenResponse, refreshTokenGrantRequest } from "../oauth/index.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import { registerSecret } from "../redact.ts";
import type { StoredCredential } from "../store/types.ts";
import type { Context } from "./context.ts";
import { needsRefresh } from "./expiry.ts";

/** Below the store's stale-lock age by a wide margin: a refresh never outlives its lock. */
const REFRESH_TIMEOUT_MS = 20_000;
/** Server answers that mean the refresh token itself is dead (RFC 6749 §5.2, Codex's variants). */
const DEAD_GRANT = new Set(["invalid_grant", "refresh_token_reused", "refresh_token_expired", "refresh_token_invalidated", "invalid_token"]);

function tokenUrlFor(ctx: Context, provider: ProviderDefinition, credential: StoredCredential): string | undefined {
  const method = provider.methods.find((m) => m.id === credential.method);
  const configured = method?.kind === "oauth" ? method.oauth.tokenUrl : undefined;
  return configured ?? credential.extra?.token_url;
}

/**
 * Single-flight refresh across processes: inside the store's lock the store is read again, and
 * if another process already refreshed, its result is used and the token endpoint is not called.
 * The rotated refresh token is on disk before the new access token is handed out. A network
 * failure leaves the credential untouched and is not retried: the server may have rotated already,
 * and replaying the old token would revoke the whole grant. No failure blanks a credential.
 */
export async function refreshCredential(ctx: Context, provider: ProviderDefinition, minTtlMs = 0): Promise<StoredCredential> {
  const { deps } = ctx;
  type Outcome = { kind: "ok"; credential: StoredCredential } | { kind: "rejected"; error: AuthctlError } | { kind: "gone" };
  const outcome = await ctx.store.update(async (credentials): Promise<Outcome> => {
    const current = credentials[provider.id];
    if (!current) return { kind: "gone" };
    if (!needsRefresh(current, deps.now(), minTtlMs)) return { kind: "ok", credential: current };
    if (!current.refresh_token) {
      return {
        kind: "rejected",
        error: new AuthctlError("NOT_LOGGED_IN", `the ${provider.name} access token has expired and there is no refresh token`, {
          hint: `run 'authctl login ${provider.id}'`,
        }),
      };
    }
    const tokenUrl = tokenUrlFor(ctx, provider, current);
    if (!tokenUrl) throw new AuthctlError("CONFIG_INVALID", `${provider.name} has no token_url to refresh with`, { hint: `run 'authctl login ${provider.id}' again` });
    const method = provider.methods.find((m) => m.id === current.method);
    const settings = method?.kind === "oauth" ? method.oauth : undefined;
    const used = current.refresh_token;
    // MiniMax answers refreshes in its own shape (a millisecond `expired_in`): without its reader
    // the expiry is lost after the first refresh and the token is never refreshed again.
    const processAnswer = method?.kind === "oauth" ? method.hooks?.processTokenAnswer : undefined;
    try {
      const answer = await refreshTokenGrantRequest(deps.fetch, {
          tokenUrl,
          clientId: settings?.clientId,
          clientSecret: settings?.clientSecret,
          refreshToken: used,
          body: settings?.tokenBody ?? "form",
          timeoutMs: REFRESH_TIMEOUT_MS,
          headers: method?.kind === "oauth" ? method.hooks?.headers?.({ apiUrl: provider.apiUrl, env: deps.env, home: deps.home, fetch: deps.fetch, now: deps.now, hostname: deps.hostname, randomBytes: deps.randomBytes }) : undefined,
        });
      const tokens = processAnswer ? await processAnswer(answer, deps.now()) : await processTokenResponse(answer, { now: deps.now() });
      registerSecret(tokens.access_token);
      registerSecret(tokens.refresh_token);
      const now = deps.now();
      const next: StoredCredential = {
        ...current,
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token ?? used,
        id_token: idTokenAfterRefresh(tokens.id_token, current.id_token, now),
        scope: tokens.scope ?? current.scope,
        expires_at: tokens.expires_at,
        obtained_at: now,
        updated_at: now,
      };
      delete next.needs_login;
      if (next.id_token === undefined) delete next.id_token;
      if (next.expires_at === undefined) delete next.expires_at;
      credentials[provider.id] = next;
      return { kind: "ok", credential: next };
    } catch (error) {
      const oauthError = isAuthctlError(error) && error.code === "OAUTH" ? String(error.detail?.error ?? "") : "";
      if (!DEAD_GRANT.has(oauthError)) throw error;
      // Another writer outside this lock (an older authctl, a restored backup) may have stored a
      // newer grant meanwhile: prefer it over declaring the login dead.
      const onDisk = ctx.store.read().credentials[provider.id];
      if (onDisk?.refresh_token && onDisk.refresh_token !== used && !needsRefresh(onDisk, deps.now(), minTtlMs)) {
        credentials[provider.id] = onDisk;
        return { kind: "ok", credential: onDisk };
      }
      // Keep every secret: the user may still want to inspect or revoke it. Only mark it.
      credentials[provider.id] = { ...current, needs_login: true, updated_at: deps.now() };
      return {
        kind: "rejected",
        error: new AuthctlError("NOT_LOGGED_IN", `${provider.name} refused to refresh the login (${(error as AuthctlError).message})`, {
          hint: `run 'authctl login ${provider.id}'`,
          cause: error,
        }),
      };
    }
  });
  if (outcome.kind === "gone") throw new AuthctlError("NOT_LOGGED_IN", `${provider.id} was logged out meanwhile`, { hint: `run 'authctl login ${provider.id}'` });
  if (outcome.kind === "rejected") throw outcome.error;
  if (minTtlMs && outcome.credential.expires_at !== undefined && outcome.credential.expires_at - deps.now() < minTtlMs) {
    throw new AuthctlError("AUTH_FAILED", `${provider.name} issues tokens that live less than the requested --min-ttl`, {
      hint: "ask for a shorter --min-ttl",
    });
  }
  return outcome.credential;
}
