import type { Context, ResolvedCredential } from "../context.ts";
import { AuthctlError } from "../errors.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import { stillSatisfies } from "../store/expiry.ts";
import type { StoredCredential } from "../store/types.ts";

/**
 * How the proxy refreshes a token: actions/exec.ts hands it actions/refresh.ts behind this
 * interface, so the proxy (below actions/) never imports an action (test/unit/layers.test.ts).
 */
export interface Refresher {
  /** refreshCredential: `held` is the token in use, `force` after the provider rejected it, `key` the account. */
  refresh(
    provider: ProviderDefinition,
    options: { held?: string; force?: boolean; key?: string },
  ): Promise<StoredCredential>;
  /** A refresh that failed for a reason not the grant's (a RefreshOutage): the token may still be used. */
  isOutage(error: unknown): Promise<boolean>;
}

/**
 * The real credential behind one proxy route. API keys never change; OAuth access tokens are
 * refreshed by the proxy itself, so the child never holds (or needs) a token at all.
 */
export interface ProxyCredential {
  readonly renewable: boolean;
  /** The secret when it can be sent as it is (no refresh due or running), without a promise: the proxy's fast path. */
  ready(): string | undefined;
  /** The secret to send now; refreshes first when the token is about to expire. */
  current(): Promise<string>;
  /** After the provider rejected `rejected`: a newer token, or undefined when there is none. */
  renew(rejected: string): Promise<string | undefined>;
}

/**
 * The proxy puts the token on the request itself, so it only has to outlive the request's trip
 * upstream, not a whole program run as with `exec`: a tenth of its lifetime, at most a minute.
 * (A 2-second test token is refreshed every ~1.8 s, a 1-hour token 1 minute before expiry.)
 */
const PROXY_MARGIN_MS = 60_000;

/** How long the proxy waits before trying again after a refresh failed for a reason not the grant's. */
const OUTAGE_RETRY_MS = 15_000;

function dueSoon(credential: StoredCredential, now: number): boolean {
  if (credential.expires_at === undefined) return false;
  const lifetime = credential.expires_at - (credential.obtained_at ?? credential.updated_at);
  return credential.expires_at - now <= Math.min(PROXY_MARGIN_MS, Math.max(0, lifetime) / 10);
}

/**
 * The secret goes into the head of every request the proxy forwards (`authorization: Bearer …`),
 * so it must be a value an HTTP field can carry (RFC 9110 §5.5: no CR, LF, NUL or other control
 * character). Server answers are checked when they arrive (oauth/_response.ts isTokenText); this
 * covers what the store holds whatever wrote it (an older authctl, a teammate's tool on the team
 * store, a hand edit): a CR LF in it would add header lines, or a whole request, upstream.
 */
function checkFieldValue(secret: string | undefined, provider: ProviderDefinition): void {
  if (secret !== undefined && /[\x00-\x08\x0a-\x1f\x7f]/.test(secret))
    throw new AuthctlError(
      "CONFIG_INVALID",
      `the stored ${provider.name} credential holds a control character (a line break?), which no HTTP header can carry; nothing was run`,
      { hint: `log in again: authctl login ${provider.id}` },
    );
}

export function createProxyCredential(
  ctx: Context,
  resolved: ResolvedCredential,
  refresher: Refresher,
): ProxyCredential {
  const stored = resolved.credential;
  checkFieldValue(resolved.secret, resolved.provider);
  if (stored?.type !== "oauth") {
    const secret = resolved.secret;
    return {
      renewable: false,
      ready: () => secret,
      current: async () => secret,
      renew: async () => undefined,
    };
  }
  let credential: StoredCredential = stored;
  // Single flight inside this process; refreshCredential adds the store lock across processes.
  let inflight: Promise<StoredCredential> | undefined;
  // After a refresh that failed for a reason not the grant's: when to try again, and one warning.
  let retryAt = 0;
  let warned = false;

  function refresh(options: { held?: string; force?: boolean }): Promise<StoredCredential> {
    inflight ??= (async () => {
      try {
        const next = await refresher.refresh(resolved.provider, { ...options, key: resolved.key });
        checkFieldValue(secretOf(next), resolved.provider);
        credential = next;
        return credential;
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  return {
    renewable: true,
    ready() {
      const now = ctx.deps.now();
      if (inflight || (dueSoon(credential, now) && now >= retryAt)) return undefined;
      return secretOf(credential);
    },
    async current() {
      // A failed forced renewal is that request's business; this one still gets a fresh token.
      if (inflight) await inflight.catch(() => undefined);
      const now = ctx.deps.now();
      if (dueSoon(credential, now) && now >= retryAt) {
        try {
          await refresh({ held: secretOf(credential) });
        } catch (error) {
          // The identity provider is down or the store is read-only: the token still works until
          // it expires, so requests keep flowing, and the refresh is tried again a little later
          // rather than making every request wait for a token endpoint that does not answer.
          if (!(await refresher.isOutage(error)) || !stillSatisfies(credential, ctx.deps.now())) throw error;
          retryAt = ctx.deps.now() + OUTAGE_RETRY_MS;
          if (!warned)
            ctx.deps.ui.warn(`proxy: ${(error as Error).message}; using the current token until it expires`);
          warned = true;
        }
      }
      return secretOf(credential)!;
    },
    async renew(rejected) {
      try {
        if (inflight) await inflight.catch(() => undefined);
        if (secretOf(credential) !== rejected) return secretOf(credential);
        // The provider's 401 is the proof that this token is no good, whatever its expiry says
        // (or does not say): refresh without comparing lifetimes, unless the store already holds
        // a newer token (another process refreshed), which is then used without a token request.
        const next = await refresh({ held: rejected, force: true });
        const secret = secretOf(next);
        return secret && secret !== rejected ? secret : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** The token the proxy sends: only OAuth credentials get here (a key is never renewed). */
function secretOf(credential: StoredCredential): string | undefined {
  return credential.access_token;
}
