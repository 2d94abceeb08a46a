import type { StoredCredential } from "../store/types.ts";

/** Kept apart from refresh.ts so the hot path can ask "is it due?" without loading HTTP code. */
const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * A token is refreshed when it expires within 5 minutes, or within half its lifetime when that is
 * shorter (a 60-second token is not refreshed on every call), or sooner than `minTtlMs`.
 */
export function needsRefresh(credential: StoredCredential, now: number, minTtlMs = 0): boolean {
  if (credential.type !== "oauth" || credential.expires_at === undefined) return false;
  const lifetime = credential.expires_at - (credential.obtained_at ?? credential.updated_at);
  const margin = Math.max(minTtlMs, Math.min(REFRESH_MARGIN_MS, Math.max(0, lifetime) / 2));
  return credential.expires_at - now <= margin;
}

