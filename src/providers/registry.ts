import type { Config } from "../config/config.ts";
import { BUILTIN_OAUTH_METHODS, OAUTH_ONLY_PROVIDERS } from "./builtin-oauth.ts";
import { type Registry, registryOver } from "./catalog.ts";
import { KEY_PROVIDERS } from "./key-providers.ts";
import type { ProviderDefinition } from "./types.ts";

export type { Registry };
export { oauthSettingsFrom } from "./catalog.ts";

/** The built-in providers, each with its account logins (builtin-oauth.ts) among its methods. */
export function builtinProviders(): ProviderDefinition[] {
  return [...KEY_PROVIDERS, ...OAUTH_ONLY_PROVIDERS].map((builtin) => {
    const extra = BUILTIN_OAUTH_METHODS[builtin.id] ?? {};
    return { ...builtin, methods: [...(extra.first ?? []), ...builtin.methods, ...(extra.after ?? [])] };
  });
}

/**
 * The providers authctl knows: the built-in table with config.toml's overrides applied, plus the
 * user's own providers from config.toml (catalog.ts).
 */
export function createRegistry(config: Config): Registry {
  const byId = new Map(builtinProviders().map((provider) => [provider.id, provider]));
  return registryOver(config, { ids: [...byId.keys()], definition: (id) => byId.get(id)! });
}

/**
 * The `authctl token` flags of the built-in providers' exchanges at use (`--copilot`): the CLI
 * declares them from here, so a provider's exchange needs no command-line code of its own.
 */
export function useExchangeFlags(): Array<{ flag: string; description: string; providerId: string }> {
  return [...KEY_PROVIDERS, ...OAUTH_ONLY_PROVIDERS].flatMap((provider) =>
    provider.useExchange
      ? [
          {
            flag: provider.useExchange.flag,
            description: provider.useExchange.description,
            providerId: provider.id,
          },
        ]
      : [],
  );
}
