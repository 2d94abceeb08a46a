import { OAUTH_ONLY_PROVIDERS, BUILTIN_OAUTH_METHODS } from "./builtin-oauth.ts";
import { KEY_PROVIDERS } from "./key-providers.ts";
import type { ExtraFields } from "./types.ts";

/**
 * The `extra` fields every login may write, whatever the provider: the host given with --host,
 * the endpoints recorded at login (so a refresh needs no discovery), the region that accepted a
 * key, and the API host some token answers name (withResourceUrl). None is secret; the store
 * checks them as routing fields (store/_routing-fields.ts).
 */
export const GENERIC_EXTRA_FIELDS: ExtraFields = {
  host: { secret: false },
  token_url: { secret: false },
  revocation_url: { secret: false },
  api_url: { secret: false },
  resource_url: { secret: false },
};

/** Every `extra` field the built-in providers declare, with the generic ones. */
export function declaredExtraFields(): ExtraFields {
  const fields: ExtraFields = { ...GENERIC_EXTRA_FIELDS };
  const methods = Object.values(BUILTIN_OAUTH_METHODS).flatMap((m) => [
    ...(m.first ?? []),
    ...(m.after ?? []),
  ]);
  for (const provider of [...KEY_PROVIDERS, ...OAUTH_ONLY_PROVIDERS]) {
    Object.assign(fields, provider.extra);
    methods.push(...provider.methods.flatMap((m) => (m.kind === "oauth" ? [m] : [])));
  }
  for (const method of methods) Object.assign(fields, method.extra);
  return fields;
}

let secretNames: ReadonlySet<string> | undefined;

/**
 * The secret ones, by name (the Copilot token cached by github-copilot's exchange, the API key
 * OpenAI's login exchanges for). The store seals these and keeps them in the keyring item.
 * Collected on first use, not when the module loads: walking every provider's definition was
 * ~6% of `env`'s JavaScript time on a store whose records have no `extra` fields at all
 * (issue 18, a sampling profile of 200 runs).
 */
export function secretExtraFields(): ReadonlySet<string> {
  secretNames ??= new Set(
    Object.entries(declaredExtraFields())
      .filter(([, field]) => field.secret)
      .map(([name]) => name),
  );
  return secretNames;
}
