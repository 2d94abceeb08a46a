import type { ResolvedCredential } from "../context.ts";
import { AuthctlError } from "../errors.ts";
import type { HeaderStyle, ProviderDefinition } from "../providers/types.ts";

/**
 * One route per provider on the session's proxy: `http://127.0.0.1:PORT/<id>/<rest>` is forwarded
 * to `<origin of apiUrl>/<rest>`, and only while `<rest>` stays under the apiUrl's own path (the
 * provider's base URL). The child gets a base-URL variable shaped the way its SDK appends paths;
 * that shape is provider data (ProviderDefinition.proxy, providers/types.ts ProxyShape):
 *
 * | provider   | variable               | value (after http://127.0.0.1:PORT) | SDK appends          |
 * |------------|------------------------|-------------------------------------|----------------------|
 * | openai     | OPENAI_BASE_URL        | /openai/v1                          | /chat/completions    |
 * | anthropic  | ANTHROPIC_BASE_URL     | /anthropic (no /v1)                 | /v1/messages (or /messages: @ai-sdk/anthropic) |
 * | gemini     | GOOGLE_GEMINI_BASE_URL | /gemini (no version)                | /v1beta/… or /v1/… (@google/genai ≥ 3.1) |
 * | openrouter | OPENROUTER_BASE_URL    | /openrouter/api/v1                  | /chat/completions    |
 * | any other  | <ID>_BASE_URL          | /<id> + the apiUrl's path           | (OpenAI-style paths) |
 *
 * Custom providers from config.toml follow the last row (`mycorp` → MYCORP_BASE_URL, dashes
 * become underscores).
 */
export interface ProxyRoute {
  provider: ProviderDefinition;
  resolved: ResolvedCredential;
  /** `https://api.openai.com`: the only place this route forwards to. */
  origin: string;
  /** Paths forwarded: the apiUrl's path without a trailing slash (`/v1`, or "" for the whole origin), and sibling API versions. */
  scopes: string[];
  /** A request for `varPath/<segment>/…` with one of these segments goes to `varPath/<version>/<segment>/…`. */
  unversioned?: { segments: Set<string>; version: string };
  baseVar: string;
  /** Path after `/<id>` that the base-URL variable ends with. */
  varPath: string;
  /** How the real credential travels upstream. OAuth tokens always go as a bearer token. */
  auth: HeaderStyle;
  placeholder: string;
}

export function baseVarFor(provider: ProviderDefinition): string {
  return provider.proxy?.baseVar ?? `${provider.id.toUpperCase().replaceAll("-", "_")}_BASE_URL`;
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Plain http is accepted only for loopback upstreams (test fakes, a local gateway). */
export function parseUpstream(provider: ProviderDefinition): { origin: string; scope: string } {
  const hint = `set [providers.${provider.id}] api_url in config.toml`;
  if (!provider.apiUrl) {
    throw new AuthctlError(
      "CONFIG_INVALID",
      `${provider.name} has no api_url, so the proxy has nowhere to forward to`,
      { hint },
    );
  }
  let url: URL;
  try {
    url = new URL(provider.apiUrl);
  } catch {
    throw new AuthctlError("CONFIG_INVALID", `${provider.name}'s api_url is not a URL: ${provider.apiUrl}`, {
      hint,
    });
  }
  const loopbackHttp = url.protocol === "http:" && isLoopbackHost(url.hostname);
  if (url.protocol !== "https:" && !loopbackHttp) {
    throw new AuthctlError(
      "CONFIG_INVALID",
      `${provider.name}'s api_url must use https (plain http only for 127.0.0.1): ${provider.apiUrl}`,
      { hint },
    );
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new AuthctlError(
      "CONFIG_INVALID",
      `${provider.name}'s api_url may not carry a query, fragment or user info`,
      { hint },
    );
  }
  return { origin: url.origin, scope: url.pathname.replace(/\/+$/, "") };
}

/**
 * A regional key (MiniMax, Moonshot, DashScope) goes to the region that accepted it at login: the
 * key check stored that region's URL as the credential's `api_url`. Only a URL that is one of the
 * provider's own regions is taken, so an edited record cannot send the key anywhere else; and when
 * config.toml pins `api_url` (the registry then drops `regions`), the pinned host wins.
 */
function upstreamOf(r: ResolvedCredential): ProviderDefinition {
  const stored = r.credential?.extra?.api_url;
  const region =
    stored === undefined ? undefined : r.provider.regions?.find((candidate) => candidate.apiUrl === stored);
  return region ? { ...r.provider, apiUrl: region.apiUrl } : r.provider;
}

export function buildRoutes(
  resolved: ResolvedCredential[],
  newPlaceholder: (provider: ProviderDefinition) => string,
): ProxyRoute[] {
  return resolved.map((r) => {
    const { origin, scope } = parseUpstream(upstreamOf(r));
    const shape = r.provider.proxy;
    const versions = shape?.versions ?? [];
    const varPath = versions.length ? scope.replace(/\/v\d+(?:alpha|beta)?\d*$/, "") : scope;
    const oauth = r.credential?.type === "oauth";
    return {
      provider: r.provider,
      resolved: r,
      origin,
      scopes: [...new Set([scope, ...versions.map((v) => varPath + v)])],
      unversioned:
        shape?.unversioned && versions[0]
          ? { segments: new Set(shape.unversioned), version: versions[0] }
          : undefined,
      baseVar: baseVarFor(r.provider),
      varPath,
      auth: oauth
        ? { kind: "bearer" }
        : (shape?.keyAuth ?? r.provider.validation?.auth ?? { kind: "bearer" }),
      placeholder: newPlaceholder(r.provider),
    };
  });
}

/** Every variable that could carry a real credential of these providers: none reaches the child. */
export function credentialVarNames(provider: ProviderDefinition): string[] {
  const names = new Set([
    ...provider.keyVars,
    ...(provider.aliasVars ?? []),
    ...(provider.conflictVars ?? []),
  ]);
  for (const method of provider.methods)
    if (method.kind === "oauth") for (const name of Object.keys(method.env)) names.add(name);
  return [...names];
}

/**
 * The child's environment: the real credential variables removed, the placeholder where the
 * credential was, the base URL pointing at the proxy. Non-secret companions (an account id) stay.
 */
export function buildChildEnv(
  baseEnv: Record<string, string>,
  routes: ProxyRoute[],
  proxyOrigin: string,
): Record<string, string> {
  const env = { ...baseEnv };
  for (const route of routes) for (const name of credentialVarNames(route.provider)) delete env[name];
  for (const route of routes) {
    const { resolved } = route;
    for (const [name, value] of resolved.vars) {
      if (value === resolved.secret) env[name] = route.placeholder;
      else if (value !== resolved.credential?.id_token) env[name] = value;
    }
    env[route.baseVar] = `${proxyOrigin}/${route.provider.id}${route.varPath}`;
  }
  return env;
}
