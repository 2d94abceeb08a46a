/**
 * The authorization request URL (RFC 6749 §4.1.1 with PKCE, RFC 7636 §4.3). Query parameters the
 * provider already put in `authorizeUrl` are kept; the standard ones are set on top.
 */
import { AuthctlError } from "../errors.ts";
import { assertSecureEndpoint } from "./endpoints.ts";
import type { Pkce } from "./pkce.ts";

export interface AuthorizeUrlInput {
  authorizeUrl: string | URL;
  /** Left out when undefined: OpenRouter has no client id. */
  clientId?: string;
  redirectUri: string;
  /** Joined with spaces; `scope` is left out when undefined or empty. */
  scopes?: readonly string[];
  /** Left out when undefined (OpenRouter does not document it); every other flow should send one. */
  state?: string;
  pkce: Pick<Pkce, "challenge" | "method">;
  /** OpenID Connect nonce (Core §3.1.2.1), binding the ID token to this request. */
  nonce?: string;
  /** Provider parameters (`access_type`, `originator`, `code=true`, …); undefined values are skipped. */
  extraParams?: Record<string, string | undefined>;
  /** Default "code"; null leaves `response_type` out (OpenRouter's `/auth` takes none). */
  responseType?: string | null;
  /** Default "redirect_uri"; OpenRouter calls it `callback_url`. */
  redirectUriParam?: string;
}

export function buildAuthorizeUrl(input: AuthorizeUrlInput): URL {
  const url = new URL(assertSecureEndpoint(input.authorizeUrl, "authorization endpoint").href);
  const core: Record<string, string | undefined> = {
    response_type: input.responseType === undefined ? "code" : (input.responseType ?? undefined),
    client_id: input.clientId,
    [input.redirectUriParam ?? "redirect_uri"]: input.redirectUri,
    scope: input.scopes && input.scopes.length > 0 ? input.scopes.join(" ") : undefined,
    state: input.state,
    code_challenge: input.pkce.challenge,
    code_challenge_method: input.pkce.method,
    nonce: input.nonce,
  };
  for (const [key, value] of Object.entries(core)) {
    if (value !== undefined) url.searchParams.set(key, value);
  }
  for (const [key, value] of Object.entries(input.extraParams ?? {})) {
    // Letting a provider hook replace state or the challenge would quietly disable the checks.
    if (Object.hasOwn(core, key)) {
      throw new AuthctlError("USAGE", `the extra authorize parameter "${key}" would replace a standard one`);
    }
    if (value !== undefined) url.searchParams.set(key, value);
  }
  return url;
}
