import type { Env } from "../deps.ts";

/**
 * Which company proxy, if any, the session proxy goes through to reach a provider: the rules
 * Bun's fetch (and curl, and Go's ProxyFromEnvironment) apply, since fetch is what the proxy used
 * before it had its own client. HTTPS_PROXY (or https_proxy) for https upstreams, as a CONNECT
 * tunnel; nothing for plain http (only loopback upstreams may be http, and loopback is never
 * proxied); NO_PROXY (or no_proxy): `*`, or host names that match themselves and their
 * subdomains (`example.com`, `.example.com`), with an optional port.
 */
export interface EgressProxy {
  hostname: string;
  port: number;
  /** `Basic …` when the proxy URL carries user info. */
  authorization?: string;
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function excluded(noProxy: string, hostname: string, port: number): boolean {
  for (const raw of noProxy.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") return true;
    const m = /^(.*?)(?::(\d+))?$/.exec(entry)!;
    if (m[2] && Number(m[2]) !== port) continue;
    const name = m[1]!.replace(/^\*?\./, "").replace(/^\[|\]$/g, "");
    if (hostname === name || hostname.endsWith(`.${name}`)) return true;
  }
  return false;
}

/** The proxy for an https upstream, or undefined to connect directly. Throws on a proxy URL it cannot use. */
export function egressProxyFor(env: Env, url: URL): EgressProxy | undefined {
  if (url.protocol !== "https:") return undefined;
  const hostname = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = Number(url.port) || 443;
  if (isLoopback(hostname)) return undefined;
  const value = env.HTTPS_PROXY || env.https_proxy;
  if (!value) return undefined;
  if (excluded(env.NO_PROXY ?? env.no_proxy ?? "", hostname, port)) return undefined;
  let proxy: URL;
  try {
    proxy = new URL(value.includes("://") ? value : `http://${value}`);
  } catch {
    throw new Error(`HTTPS_PROXY is not a URL: ${value}`);
  }
  if (proxy.protocol !== "http:")
    throw new Error(`HTTPS_PROXY must be an http:// proxy for 'exec --proxy' (got ${proxy.protocol}//)`);
  const user = decodeURIComponent(proxy.username);
  return {
    hostname: proxy.hostname.replace(/^\[|\]$/g, ""),
    port: Number(proxy.port) || 80,
    authorization: user
      ? `Basic ${Buffer.from(`${user}:${decodeURIComponent(proxy.password)}`).toString("base64")}`
      : undefined,
  };
}
