/**
 * Authorization server metadata: OpenID Connect Discovery 1.0 first, then RFC 8414. The two
 * differ for issuers with a path: OIDC appends the well-known suffix to the issuer
 * (`https://h/tenant/.well-known/openid-configuration`), RFC 8414 §3.1 inserts it between host
 * and path (`https://h/.well-known/oauth-authorization-server/tenant`).
 */
import type { HttpClient } from "../deps.ts";
import { AuthctlError } from "../errors.ts";
import { assertSecureEndpoint, isSecureEndpoint } from "./endpoints.ts";
import { type ClientAuthMethod, getRequest, type HttpOptions } from "./_http.ts";
import {
  assertSuccessStatus,
  type JsonObject,
  optionalUrl,
  readJsonObject,
  requireString,
} from "./_response.ts";

const WHAT = "discovery endpoint";

export interface AuthorizationServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  device_authorization_endpoint?: string;
  revocation_endpoint?: string;
  code_challenge_methods_supported?: string[];
  raw: Record<string, unknown>;
}

/** The two metadata URLs for an issuer, in the order they are tried. */
export function discoveryUrls(issuer: string | URL): [URL, URL] {
  const base = assertSecureEndpoint(issuer, "issuer");
  if (base.search || base.hash) {
    throw new AuthctlError("USAGE", "the issuer must not have a query or fragment (RFC 8414 §2)");
  }
  // RFC 8414 §3.1: "any terminating '/' MUST be removed before inserting".
  const path = base.pathname.replace(/\/+$/, "");
  const oidc = new URL(`${path}/.well-known/openid-configuration`, base.origin);
  const oauth = new URL(`/.well-known/oauth-authorization-server${path}`, base.origin);
  return [oidc, oauth];
}

/**
 * Fetches the OIDC document, and the RFC 8414 one when the first answer is not a JSON 200 (a 404,
 * or a web app's catch-all HTML page). Returns the answer to process. A network failure on the
 * first URL is not retried on the second: both live on the same host.
 */
export async function discoveryRequest(
  http: HttpClient,
  issuer: string | URL,
  options: HttpOptions = {},
): Promise<Response> {
  const [first, second] = discoveryUrls(issuer);
  const response = await getRequest(http, first, WHAT, options);
  const type = response.headers.get("content-type") ?? "";
  if (response.status === 200 && /json/i.test(type)) return response;
  await response.body?.cancel().catch(() => {});
  return getRequest(http, second, WHAT, options);
}

/**
 * Checks the metadata and that its `issuer` is the one asked for (RFC 8414 §3.3, OIDC Discovery
 * §4.3): otherwise another server could hand out endpoints in the issuer's name. Both sides are
 * compared as parsed URLs, so `https://h` and `https://h/` match; nothing else is normalised.
 */
export async function processDiscoveryResponse(
  response: Response,
  expectedIssuer: string | URL,
): Promise<AuthorizationServerMetadata> {
  const json = await readJsonObject(response, WHAT);
  assertSuccessStatus(json, response.status, [200], WHAT);
  const issuer = requireString(json, "issuer", WHAT);
  const expected = assertSecureEndpoint(expectedIssuer, "issuer").href;
  if (normaliseIssuer(issuer) !== expected) {
    throw new AuthctlError(
      "PROTOCOL",
      `the discovery document names issuer "${issuer.slice(0, 200)}" instead of "${expected}"`,
    );
  }
  // The loopback exception is for loopback issuers (local servers, tests): an https issuer's
  // metadata may not move an endpoint to plain http, even on loopback, where the code and
  // verifier would travel in clear to whatever listens there (issue 14.6).
  const httpsIssuer = new URL(expected).protocol === "https:";
  const check = httpsIssuer
    ? (url: string) => URL.canParse(url) && new URL(url).protocol === "https:"
    : isSecureEndpoint;
  const endpoint = (key: string) => optionalUrl(json, key, WHAT, check);
  const metadata: AuthorizationServerMetadata = {
    issuer,
    authorization_endpoint: required(endpoint("authorization_endpoint"), "authorization_endpoint"),
    token_endpoint: required(endpoint("token_endpoint"), "token_endpoint"),
    raw: json,
  };
  const device = endpoint("device_authorization_endpoint");
  const revocation = endpoint("revocation_endpoint");
  const methods = stringArray(json, "code_challenge_methods_supported");
  if (device !== undefined) metadata.device_authorization_endpoint = device;
  if (revocation !== undefined) metadata.revocation_endpoint = revocation;
  if (methods !== undefined) metadata.code_challenge_methods_supported = methods;
  return metadata;
}

/**
 * client_secret_post (what installed apps use) unless the server lists methods without it and
 * with client_secret_basic (RFC 8414 §2: token_endpoint_auth_methods_supported).
 */
export function clientAuthFor(metadata: AuthorizationServerMetadata): ClientAuthMethod | undefined {
  const methods = metadata.raw.token_endpoint_auth_methods_supported;
  if (!Array.isArray(methods)) return undefined;
  return !methods.includes("client_secret_post") && methods.includes("client_secret_basic")
    ? "client_secret_basic"
    : undefined;
}

const discovered = new Map<string, Promise<AuthorizationServerMetadata>>();

/**
 * Discovery for an issuer, once per process (a long-running `exec --proxy` refreshes many times).
 * A failure is not remembered: the next call asks again.
 */
export function discover(
  http: HttpClient,
  issuer: string,
  options: HttpOptions = {},
): Promise<AuthorizationServerMetadata> {
  let entry = discovered.get(issuer);
  if (!entry) {
    entry = discoveryRequest(http, issuer, options).then((response) =>
      processDiscoveryResponse(response, issuer),
    );
    discovered.set(issuer, entry);
    entry.catch(() => discovered.delete(issuer));
  }
  return entry;
}

function normaliseIssuer(issuer: string): string | undefined {
  try {
    return new URL(issuer).href;
  } catch {
    return undefined;
  }
}

function required(value: string | undefined, key: string): string {
  if (value === undefined) throw new AuthctlError("PROTOCOL", `${WHAT} answered without "${key}"`);
  return value;
}

function stringArray(json: JsonObject, key: string): string[] | undefined {
  const value = json[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new AuthctlError("PROTOCOL", `${WHAT} answered an invalid "${key}" (expected an array of strings)`);
  }
  return value;
}
