import { AuthctlError } from "../errors.ts";
import { createHookDeps } from "../providers/hook-deps.ts";
import type { ProviderDefinition, UseExchange } from "../providers/types.ts";
import { registerSecret } from "../redact.ts";
import type { Context } from "../context.ts";

/**
 * A provider's exchange at use (ProviderDefinition.useExchange): the stored secret buys a
 * short-lived token, cached in the credential's `extra` until `marginMs` before its expiry, and
 * exchanged under the store lock so parallel callers make one request.
 */
export async function exchangeAtUse(
  ctx: Context,
  provider: ProviderDefinition,
  exchange: UseExchange,
  /** The account's store key (store/accounts.ts); the provider id (its account `default`) when absent. */
  key = provider.id,
): Promise<string> {
  const { deps } = ctx;
  const token = await ctx.store.update(async (credentials) => {
    const credential = credentials[key];
    const secret = credential?.type === "oauth" ? credential.access_token : credential?.key;
    if (!credential || !secret) {
      throw new AuthctlError("NOT_LOGGED_IN", `${key} is not logged in`, {
        hint: `run 'authctl login ${key}'`,
      });
    }
    const cached = credential.extra?.[exchange.cache.token];
    const expires = Number(credential.extra?.[exchange.cache.expiresAt] ?? 0);
    if (cached && expires - deps.now() > exchange.marginMs) return cached;
    const fresh = await exchange.run(createHookDeps(deps, provider), secret, { ...credential.extra });
    registerSecret(fresh.token);
    credentials[key] = {
      ...credential,
      extra: {
        ...credential.extra,
        [exchange.cache.token]: fresh.token,
        [exchange.cache.expiresAt]: String(fresh.expiresAt),
      },
      updated_at: deps.now(),
    };
    return fresh.token;
  });
  registerSecret(token);
  return token;
}
