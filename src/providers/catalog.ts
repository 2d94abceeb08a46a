/**
 * The registry's rules over a list of built-in providers: config.toml's overrides and regions
 * applied to them, and the user's own providers from config.toml added. registry.ts runs them over
 * the built-in provider files; the usual-case lane of `env`, `token` and `exec`
 * (actions/usual-case.ts) over the same providers as data (builtin-table.ts), without loading the
 * provider files and the OAuth code their hooks use.
 */
import type { Config, ProviderOverrides } from "../config/config.ts";
import { didYouMean } from "../did-you-mean.ts";
import { AuthctlError } from "../errors.ts";
import { describeLocation } from "../store/trust.ts";
import type { OAuthSettings, ProviderDefinition } from "./types.ts";

/**
 * The providers authctl knows: the built-in table with config.toml's overrides applied, plus the
 * user's own providers from config.toml.
 */
export interface Registry {
  list(): ProviderDefinition[];
  get(id: string): ProviderDefinition | undefined;
  require(id: string): ProviderDefinition;
}

/**
 * The built-in providers a registry starts from, each with its account logins among its methods:
 * the provider files (registry.ts) or the same as data (builtin-table.ts). Each is built on first
 * use: `env openrouter` needs one of them, not all twenty-odd (issue 18).
 */
export interface BuiltinSource {
  ids: readonly string[];
  definition(id: string): ProviderDefinition;
}

/**
 * A registry over `builtins` and config.toml. config.toml's entries are all checked at once, as
 * the registry always did: a bad region or an unusable provider of its own is an error whatever
 * provider a command names.
 */
export function registryOver(config: Config, builtins: BuiltinSource): Registry {
  const isBuiltin = new Set(builtins.ids);
  const built = new Map<string, ProviderDefinition>();
  const builtin = (id: string): ProviderDefinition => {
    let provider = built.get(id);
    if (!provider) {
      const overrides = config.providers[id];
      provider = applyOverrides(withRegion(builtins.definition(id), overrides, config.path), overrides);
      built.set(id, provider);
    }
    return provider;
  };
  const custom = new Map<string, ProviderDefinition>();
  for (const [id, entry] of Object.entries(config.providers)) {
    if (isBuiltin.has(id)) builtin(id);
    else custom.set(id, customProvider(id, entry, config.path));
  }
  const get = (id: string) => (isBuiltin.has(id) ? builtin(id) : custom.get(id));
  return {
    list: () => [...builtins.ids.map(builtin), ...custom.values()],
    get,
    require(id) {
      const provider = get(id.toLowerCase());
      if (!provider) {
        const guess = didYouMean(id, [...builtins.ids, ...custom.keys()]);
        // Where authctl looked: a HOME kept by sudo or an XDG_CONFIG_HOME elsewhere is the usual surprise.
        throw new AuthctlError(
          "UNKNOWN_PROVIDER",
          `unknown provider '${id}' (not built in, not in ${describeLocation(config.path)})${guess ? `; ${guess}` : ""}`,
          {
            hint: "run 'authctl providers' to list them, or define it in config.toml",
          },
        );
      }
      return provider;
    },
  };
}

/**
 * A regional provider (MiniMax, Moonshot, DashScope) with config.toml's `region` first and
 * `api_urls` (region → URL) applied; its api_url and region-specific OAuth endpoints follow the
 * preferred region. `api_url` pins one host: the key check then tries no other region.
 */
function withRegion(
  provider: ProviderDefinition,
  overrides: ProviderOverrides | undefined,
  configPath: string,
): ProviderDefinition {
  if (!provider.regions) return provider;
  const urls = (overrides?.api_urls ?? {}) as Record<string, string>;
  let regions = provider.regions.map((region) => ({ ...region, apiUrl: urls[region.id] ?? region.apiUrl }));
  const wanted = overrides?.region;
  if (wanted !== undefined) {
    const chosen = regions.find((region) => region.id === wanted);
    if (!chosen) {
      throw new AuthctlError(
        "CONFIG_INVALID",
        `${configPath}: providers.${provider.id}.region must be one of ${regions.map((r) => `"${r.id}"`).join(", ")}`,
        {
          hint: "fix the file, or remove the key to use the default",
        },
      );
    }
    regions = [chosen, ...regions.filter((region) => region !== chosen)];
  }
  const first = regions[0]!;
  return {
    ...provider,
    apiUrl: first.apiUrl,
    regions: overrides?.api_url ? undefined : regions,
    methods: provider.methods.map((method) =>
      method.kind === "oauth" && method.regionOAuth?.[first.id]
        ? { ...method, oauth: { ...method.oauth, ...method.regionOAuth[first.id] } }
        : method,
    ),
  };
}

/** config.toml wins over every built-in endpoint, client id and port (proxies, enterprise hosts, tests). */
function applyOverrides(
  provider: ProviderDefinition,
  overrides: ProviderOverrides | undefined,
): ProviderDefinition {
  if (!overrides) return provider;
  const validationUrl = overrides.validation_url;
  return {
    ...provider,
    name: overrides.name ?? provider.name,
    apiUrl: overrides.api_url ?? provider.apiUrl,
    validation:
      provider.validation && validationUrl
        ? { ...provider.validation, path: validationUrl }
        : provider.validation,
    methods: provider.methods.map((method) =>
      method.kind === "oauth" ? { ...method, oauth: oauthSettingsFrom(overrides, method.oauth) } : method,
    ),
  };
}

/**
 * A provider defined only in config.toml. With an `issuer` or endpoints it is an OAuth provider
 * (the OAuth engine serves it); otherwise an API-key provider whose `env` table names the
 * variables that carry the key (`env = { MYCORP_KEY = "key" }`).
 */
function customProvider(id: string, entry: ProviderOverrides, configPath: string): ProviderDefinition {
  const isOAuth = Boolean(entry.issuer || entry.authorize_url || entry.device_authorization_url);
  const keyVars = Object.entries(entry.env ?? {})
    .filter(([, field]) => field === "key")
    .map(([name]) => name);
  if (!isOAuth && keyVars.length === 0) {
    throw new AuthctlError(
      "CONFIG_INVALID",
      `${configPath}: [providers.${id}] is not a built-in provider and defines no way to log in`,
      {
        hint: `add issuer = "https://…" for an OAuth provider, or env = { ${id.toUpperCase().replaceAll("-", "_")}_API_KEY = "key" } for an API-key one`,
      },
    );
  }
  if (!isOAuth) {
    return {
      id,
      name: entry.name ?? id,
      custom: true,
      methods: [{ id: "key", kind: "api_key", label: "API key" }],
      keyVars,
      apiUrl: entry.api_url ?? "",
    };
  }
  const env = Object.keys(entry.env ?? {}).length
    ? { ...entry.env }
    : { [`${id.toUpperCase().replaceAll("-", "_")}_TOKEN`]: "access_token" };
  for (const [name, field] of Object.entries(env)) {
    if (field === "refresh_token") {
      throw new AuthctlError(
        "CONFIG_INVALID",
        `${configPath}: providers.${id}.env.${name} may not export the refresh token`,
        {
          hint: "export access_token or id_token: programs get short-lived tokens, authctl keeps the refresh token",
        },
      );
    }
  }
  const flows: Array<"loopback" | "device"> = [];
  if (entry.issuer || entry.authorize_url) flows.push("loopback");
  if (entry.issuer || entry.device_authorization_url) flows.push("device");
  return {
    id,
    name: entry.name ?? id,
    custom: true,
    methods: [
      { id: "oauth", kind: "oauth", label: "OAuth login", flows, env, oauth: oauthSettingsFrom(entry) },
    ],
    keyVars: Object.keys(env),
    apiUrl: entry.api_url ?? "",
  };
}

/** Config keys → OAuth settings, over a built-in method's defaults when there are any. */
export function oauthSettingsFrom(entry: ProviderOverrides, base?: OAuthSettings): OAuthSettings {
  return {
    issuer: entry.issuer ?? base?.issuer,
    authorizeUrl: entry.authorize_url ?? base?.authorizeUrl,
    tokenUrl: entry.token_url ?? base?.tokenUrl,
    deviceAuthorizationUrl: entry.device_authorization_url ?? base?.deviceAuthorizationUrl,
    revocationUrl: entry.revocation_url ?? base?.revocationUrl,
    clientId: entry.client_id ?? base?.clientId,
    clientSecret: entry.client_secret ?? base?.clientSecret,
    scopes: entry.scopes ?? base?.scopes ?? ["openid", "offline_access"],
    redirectHost:
      (entry.redirect_host as "127.0.0.1" | "localhost" | undefined) ?? base?.redirectHost ?? "127.0.0.1",
    redirectPort: entry.redirect_port ?? base?.redirectPort ?? 0,
    fallbackPorts: entry.redirect_port !== undefined ? [] : (base?.fallbackPorts ?? []),
    redirectPath: entry.redirect_path ?? base?.redirectPath ?? "/callback",
    tokenBody: base?.tokenBody ?? "form",
    refreshBody: base?.refreshBody,
    revocationBody: base?.revocationBody,
    extraAuthorizeParams: base?.extraAuthorizeParams,
  };
}
