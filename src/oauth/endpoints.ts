import { AuthctlError } from "../errors.ts";

/**
 * OAuth endpoints carry codes, verifiers and tokens, so they must use TLS. The one exception is
 * the loopback interface (RFC 8252 §7.3 and §8.3), which never leaves the machine: local test
 * servers and loopback redirect URIs use plain http.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === "localhost" || host === "[::1]" || host === "::1") return true;
  // WHATWG URL parsing already normalised shorthand forms such as 127.1 to dotted quads.
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** True for https URLs, and for http URLs whose host is a loopback address. */
export function isSecureEndpoint(url: string | URL): boolean {
  const parsed = parseUrl(url);
  if (!parsed) return false;
  if (parsed.protocol === "https:") return true;
  return parsed.protocol === "http:" && isLoopbackHost(parsed.hostname);
}

/**
 * Throws USAGE unless `url` is an absolute https URL or http on a loopback host. `what` names
 * the endpoint in the message ("token endpoint"). Returns the parsed URL.
 */
export function assertSecureEndpoint(url: string | URL, what: string): URL {
  const parsed = parseUrl(url);
  if (!parsed) throw new AuthctlError("USAGE", `the ${what} is not a valid absolute URL`);
  if (!isSecureEndpoint(parsed)) {
    const shown = `${parsed.protocol}//${parsed.host}`;
    const rule = "plain http is allowed only for 127.0.0.1, ::1 and localhost";
    throw new AuthctlError("USAGE", `the ${what} must use https (${rule}): ${shown}`);
  }
  return parsed;
}

/** `host:port` with the scheme's default port spelled out, for network error messages. */
export function hostPort(url: URL): string {
  const port = url.port || (url.protocol === "https:" ? "443" : url.protocol === "http:" ? "80" : "");
  return port ? `${url.hostname}:${port}` : url.hostname;
}

function parseUrl(url: string | URL): URL | undefined {
  if (url instanceof URL) return url;
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}
