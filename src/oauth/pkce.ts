/**
 * PKCE (RFC 7636) and the `state` value. Both are 32 random bytes, base64url without padding:
 * a 43-character verifier, inside RFC 7636 §4.1's 43–128 range. `state` is drawn separately and
 * never equals the verifier: state travels in the authorize URL (browser history, logs), while
 * the verifier must stay secret until the token request.
 */
import { AuthctlError } from "../errors.ts";

export type RandomBytes = (length: number) => Uint8Array;

export interface Pkce {
  verifier: string;
  challenge: string;
  method: "S256";
}

const RANDOM_LENGTH = 32;

/** base64url without padding (RFC 4648 §5, as RFC 7636 Appendix A requires). */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The S256 challenge: base64url(SHA-256(ASCII(verifier))) (RFC 7636 §4.2). */
export function computeS256Challenge(verifier: string): string {
  // node:crypto on first use: providers/minimax.ts imports this module, and the registry (loaded
  // by `env`) imports minimax; node:crypto costs a compiled binary about 4 MB of memory.
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  return base64url(new Uint8Array(createHash("sha256").update(verifier, "ascii").digest()));
}

export function createPkce(randomBytes: RandomBytes): Pkce {
  const verifier = base64url(draw(randomBytes));
  return { verifier, challenge: computeS256Challenge(verifier), method: "S256" };
}

export function createState(randomBytes: RandomBytes): string {
  return base64url(draw(randomBytes));
}

function draw(randomBytes: RandomBytes): Uint8Array {
  const bytes = randomBytes(RANDOM_LENGTH);
  // A short read would silently weaken the verifier and state; refuse it.
  if (bytes.length !== RANDOM_LENGTH) {
    throw new AuthctlError(
      "INTERNAL",
      `the random source returned ${bytes.length} bytes instead of ${RANDOM_LENGTH}`,
    );
  }
  return bytes;
}
