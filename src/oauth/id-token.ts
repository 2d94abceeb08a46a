/**
 * ID token claim validation (OpenID Connect Core §3.1.3.7, the checks oauth4webapi's
 * `validateIdTokenClaims` makes). The signature is not verified: an id_token that comes straight
 * from the token endpoint over TLS may be trusted on the strength of the TLS server validation
 * instead (§3.1.3.7 item 6), which is also what oauth4webapi does for the code flow. What is
 * checked is who it is from, for whom, for which request, and whether it is still current.
 */
import { AuthctlError } from "../errors.ts";
import { oneLine } from "./_response.ts";

/** Clock skew tolerated on `exp` (oauth4webapi's default clockTolerance). */
const CLOCK_TOLERANCE_S = 30;

export interface IdTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nonce?: string;
  azp?: string;
  [claim: string]: unknown;
}

export interface IdTokenExpectations {
  /** The issuer of this login (the metadata's `issuer`); unknown for providers without one. */
  issuer?: string;
  clientId?: string;
  /** The nonce sent in the authorization request; required in the token when given. */
  nonce?: string;
  /** Epoch ms. */
  now: number;
}

function refuse(reason: string): AuthctlError {
  return new AuthctlError("PROTOCOL", `the provider's ID token is not valid: ${reason}`, {
    hint: "log in again; if this repeats, the provider (or something posing as it) is sending forged ID tokens",
  });
}

function decodeSegment(segment: string | undefined, what: string): Record<string, unknown> {
  if (!segment) throw refuse(`it is not a JWT (no ${what})`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
  } catch {
    throw refuse(`its ${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw refuse(`its ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** The header and claims, unchecked. */
export function decodeIdToken(token: string): {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
} {
  const parts = token.split(".");
  if (parts.length !== 3) throw refuse("it is not a JWT (expected three parts)");
  return { header: decodeSegment(parts[0], "header"), claims: decodeSegment(parts[1], "payload") };
}

/** An unsigned token (`alg: none`) proves nothing about who made it (OIDC Core §3.1.3.7 item 7). */
function checkAlgorithm(header: Record<string, unknown>): void {
  const alg = header.alg;
  if (typeof alg !== "string" || alg === "") throw refuse("its header names no algorithm");
  if (alg.toLowerCase() === "none") throw refuse('it is unsigned (alg "none")');
}

function expired(claims: Record<string, unknown>, now: number, toleranceS = CLOCK_TOLERANCE_S): boolean {
  return typeof claims.exp !== "number" || claims.exp + toleranceS <= now / 1000;
}

/**
 * Checks an ID token from a code exchange or a device grant and returns its claims, or throws a
 * PROTOCOL error saying which check failed. `iss` and `aud`/`azp` are compared only when the
 * issuer and client id are known.
 */
export function validateIdToken(token: string, expected: IdTokenExpectations): IdTokenClaims {
  const { header, claims } = decodeIdToken(token);
  checkAlgorithm(header);
  const str = (key: string) => {
    const value = claims[key];
    if (typeof value !== "string" || value === "") throw refuse(`the "${key}" claim is missing`);
    return value;
  };
  const iss = str("iss");
  str("sub");
  if (expected.issuer !== undefined && iss !== expected.issuer) {
    throw refuse(`it was issued by "${oneLine(iss).slice(0, 120)}", not by ${expected.issuer}`);
  }
  const aud = claims.aud;
  const audiences =
    typeof aud === "string"
      ? [aud]
      : Array.isArray(aud) && aud.every((a) => typeof a === "string")
        ? (aud as string[])
        : undefined;
  if (!audiences || audiences.length === 0) throw refuse('the "aud" claim is missing');
  if (expected.clientId !== undefined) {
    if (!audiences.includes(expected.clientId))
      throw refuse(`it was issued to another client, not to ${expected.clientId}`);
    if (claims.azp !== undefined && claims.azp !== expected.clientId)
      throw refuse(`its "azp" names another client, not ${expected.clientId}`);
  }
  if (typeof claims.exp !== "number") throw refuse('the "exp" claim is missing');
  if (expired(claims, expected.now)) throw refuse("it has expired");
  if (typeof claims.iat !== "number") throw refuse('the "iat" claim is missing');
  if (expected.nonce !== undefined && claims.nonce !== expected.nonce) {
    throw refuse(
      claims.nonce === undefined
        ? "it carries no nonce, and this login sent one"
        : "its nonce is not this login's (a replayed token)",
    );
  }
  return claims as IdTokenClaims;
}

/**
 * The id_token to keep after a refresh. A new one must be signed and current; when the answer
 * has none, the old one is kept only while it is still current: an expired ID token is never
 * handed to a program as if it were fresh.
 */
export function idTokenAfterRefresh(
  returned: string | undefined,
  previous: string | undefined,
  now: number,
): string | undefined {
  for (const candidate of [returned, previous]) {
    if (candidate === undefined) continue;
    try {
      const { header, claims } = decodeIdToken(candidate);
      checkAlgorithm(header);
      // No skew allowance here: this is authctl's own clock deciding whether to keep a token.
      if (!expired(claims, now, 0)) return candidate;
    } catch {
      // Not a usable ID token: try the next, or keep none.
    }
  }
  return undefined;
}
