import type { Context } from "../actions/context.ts";
import { credentialSecret, type ResolvedCredential } from "../actions/resolve.ts";
import type { StoredCredential } from "../store/types.ts";

/**
 * The real credential behind one proxy route. API keys never change; OAuth access tokens are
 * refreshed by the proxy itself, so the child never holds (or needs) a token at all.
 */
export interface ProxyCredential {
  readonly renewable: boolean;
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

function dueSoon(credential: StoredCredential, now: number): boolean {
  if (credential.expires_at === undefined) return false;
  const lifetime = credential.expires_at - (credential.obtained_at ?? credential.updated_at);
  return credential.expires_at - now <= Math.min(PROXY_MARGIN_MS, Math.max(0, lifetime) / 10);
}

export function createProxyCredential(ctx: Context, resolved: ResolvedCredential): ProxyCredential {
  const stored = resolved.credential;
  if (stored?.type !== "oauth") {
    const secret = resolved.secret;
    return { renewable: false, current: async () => secret, renew: async () => undefined };
  }
  let credential: StoredCredential = stored;
  // Single flight inside this process; refreshCredential adds the store lock across processes.
  let inflight: Promise<StoredCredential> | undefined;

  function refresh(minTtlMs: number): Promise<StoredCredential> {
    inflight ??= (async () => {
      try {
        const { refreshCredential } = await import("../actions/refresh.ts");
        credential = await refreshCredential(ctx, resolved.provider, minTtlMs);
        return credential;
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  return {
    renewable: true,
    async current() {
      // A failed forced renewal is that request's business; this one still gets a fresh token.
      if (inflight) await inflight.catch(() => undefined);
      if (dueSoon(credential, ctx.deps.now())) await refresh(0);
      return credentialSecret(credential)!;
    },
    async renew(rejected) {
      try {
        if (inflight) await inflight.catch(() => undefined);
        if (credentialSecret(credential) !== rejected) return credentialSecret(credential);
        if (credential.expires_at === undefined) return undefined;
        // refreshCredential refreshes only what needsRefresh(); asking for one millisecond more
        // than the rejected token has left forces a new token, unless the store already holds a
        // newer one (another process refreshed), which is then used without a token request.
        const next = await refresh(Math.max(1, credential.expires_at - ctx.deps.now() + 1));
        const secret = credentialSecret(next);
        return secret && secret !== rejected ? secret : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
