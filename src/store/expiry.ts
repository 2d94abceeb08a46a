import type { StoredCredential } from "./types.ts";

/**
 * Kept apart from actions/refresh.ts so the hot path can ask "is it due?" without loading HTTP code,
 * and below actions/ so the proxy (which refreshes through a callback from exec) reads the same rules.
 */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * A token is refreshed when it expires within 5 minutes, or within half its lifetime when that is
 * shorter (a 60-second token is not refreshed on every call), or sooner than `minTtlMs`.
 * A token whose lifetime the server never told (no `expires_in`) is used as it is, but it cannot
 * be shown to live `minTtlMs` more: asking for a minimum lifetime refreshes it.
 */
export function needsRefresh(credential: StoredCredential, now: number, minTtlMs = 0): boolean {
  if (credential.type !== "oauth") return false;
  if (credential.expires_at === undefined) return minTtlMs > 0 && credential.refresh_token !== undefined;
  const lifetime = credential.expires_at - (credential.obtained_at ?? credential.updated_at);
  const margin = Math.max(minTtlMs, Math.min(REFRESH_MARGIN_MS, Math.max(0, lifetime) / 2));
  return credential.expires_at - now <= margin;
}

/**
 * True when the token can be handed out as it is for a caller that needs it to live `minTtlMs`
 * more (0: simply unexpired). An unknown lifetime satisfies only "unexpired, as far as we know".
 */
export function stillSatisfies(credential: StoredCredential, now: number, minTtlMs = 0): boolean {
  if (credential.expires_at === undefined) return minTtlMs <= 0;
  return credential.expires_at - now > Math.max(0, minTtlMs);
}
