/**
 * MiniMax's answer shapes, read by both its provider file (the refresh answer) and its device-flow
 * requests (minimax-endpoints.ts, loaded only for a login): a file of its own so neither imports
 * the other (the import cycle test/unit/layers.test.ts listed).
 */
import { parseTokenSet, type TokenSet } from "../oauth/token.ts";

/**
 * MiniMax's `expired_in` is an absolute deadline in ms (opencode stores it as is). openclaw
 * (extensions/minimax/oauth.ts) also meets epoch seconds and relative seconds; the magnitudes
 * tell them apart, as there.
 */
export function minimaxDeadline(value: unknown, now: number): number | undefined {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0) return undefined;
  if (n >= 1e12) return Math.round(n);
  if (n >= 1e9) return Math.round(n * 1000);
  return now + Math.round(n * 1000);
}

export type Envelope = { kind: "success" } | { kind: "pending" } | { kind: "error"; message: string };

/** `status` when present, else base_resp.status_code (0 = success). */
export function readEnvelope(body: Record<string, unknown>): Envelope {
  if (body.status === "success") return { kind: "success" };
  if (body.status === "pending") return { kind: "pending" };
  const base = body.base_resp as { status_code?: unknown; status_msg?: unknown } | undefined;
  if (body.status === undefined && base && typeof base.status_code === "number") {
    if (base.status_code === 0) return { kind: "success" };
    return {
      kind: "error",
      message: `${typeof base.status_msg === "string" ? base.status_msg : "error"} (base_resp ${base.status_code})`,
    };
  }
  const error =
    typeof body.error === "string" ? body.error : typeof body.status === "string" ? body.status : "no status";
  return { kind: "error", message: error };
}

/** A success answer → tokens, with the millisecond deadline as the expiry. */
export function tokensFrom(body: Record<string, unknown>, now: number): TokenSet {
  const { expired_in: deadline, status: _status, base_resp: _base, ...rest } = body;
  const tokens = parseTokenSet(rest, now, "MiniMax's token endpoint");
  const expiresAt = minimaxDeadline(deadline, now);
  return expiresAt === undefined ? tokens : { ...tokens, expires_at: expiresAt };
}
