/**
 * The `extra` entries of a credential that decide where a secret is sent: the GitHub host a
 * Copilot token is exchanged at, and the token and revocation endpoints recorded at login. They
 * (and the API base a key was accepted at, `api_url`, or Qwen's `resource_url`, which programs
 * are given) are parsed and checked whenever they are read from a store, whatever its backend, and are
 * only ever used as parsed URLs: `https://api.${host}` with `host = "x@127.0.0.1:18446"` is a
 * URL whose host is 127.0.0.1 (the prefix becomes user info), so nothing is concatenated.
 */
import type { StoredCredential } from "./types.ts";

export const ROUTING_EXTRA_FIELDS: readonly string[] = [
  "host",
  "token_url",
  "revocation_url",
  "api_url",
  "resource_url",
];

/** A DNS name (RFC 1123 labels), optionally with a port: what `login --host` accepts. */
const HOST =
  /^(?=.{1,253}(:|$))[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::(\d{1,5}))?$/;
const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** Why `host` cannot be used as a host name, or undefined when it can. */
export function findHostProblem(host: string): string | undefined {
  const match = HOST.exec(host);
  if (!match) return "is not a host name";
  if (match[1] !== undefined && Number(match[1]) > 65_535) return "has a port out of range";
  return undefined;
}

/** Why `value` cannot be an endpoint authctl sends a secret to: https, or http on loopback only; no user info. */
export function findEndpointProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "is not a URL";
  }
  if (url.username || url.password) return "carries user info";
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && LOOPBACK.has(url.hostname)) return undefined;
  return "is neither https nor http on loopback";
}

/** The first routing field of `credential` that cannot be used, as `[field, problem]`. */
export function findRoutingProblem(
  credential: StoredCredential,
): [field: string, problem: string] | undefined {
  const extra = credential.extra ?? {};
  if (typeof extra.host === "string") {
    const problem = findHostProblem(extra.host);
    if (problem) return ["extra.host", problem];
  }
  for (const name of ["token_url", "revocation_url", "api_url"]) {
    const value = extra[name];
    if (typeof value !== "string") continue;
    const problem = findEndpointProblem(value);
    if (problem) return [`extra.${name}`, problem];
  }
  // Qwen answers a bare host ("portal.qwen.ai"); a URL is accepted on the same terms as the others.
  const resource = extra.resource_url;
  if (typeof resource === "string" && findHostProblem(resource) && findEndpointProblem(resource)) {
    return ["extra.resource_url", "is neither a host name nor an https URL"];
  }
  return undefined;
}
