import { GITHUB_COPILOT } from "./github-copilot.ts";
import { OPENROUTER_OAUTH } from "./openrouter.ts";
import type { OAuthMethod, ProviderDefinition } from "./types.ts";

/**
 * The account logins of built-in providers, one file per provider, listed here. They come before
 * a provider's key method, so the login method is the default where one exists.
 */
export const BUILTIN_OAUTH_METHODS: Record<string, OAuthMethod[]> = {
  openrouter: [OPENROUTER_OAUTH],
};

/** Providers that exist only because of their account login (no plain API-key provider of that name). */
export const OAUTH_ONLY_PROVIDERS: ProviderDefinition[] = [GITHUB_COPILOT];
