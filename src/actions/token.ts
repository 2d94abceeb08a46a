import { AuthctlError } from "../errors.ts";
import type { Context } from "../context.ts";
import { resolveForUse } from "./resolve.ts";

export interface TokenOptions {
  providerId: string;
  /** The printed token lives at least this long (refreshing first when needed). */
  minTtlMs?: number;
  /**
   * The flag of a provider's exchange at use (`copilot` for `--copilot`): print the token the
   * stored login buys instead of the login itself (ProviderDefinition.useExchange).
   */
  exchange?: string;
}

export async function token(ctx: Context, options: TokenOptions): Promise<void> {
  const resolved = await resolveForUse(ctx, options.providerId, { minTtlMs: options.minTtlMs });
  if (options.exchange !== undefined) {
    const { provider } = resolved;
    const exchange = provider.useExchange;
    if (exchange?.flag !== options.exchange) {
      const owner = ctx.registry.list().find((p) => p.useExchange?.flag === options.exchange);
      throw new AuthctlError("USAGE", `--${options.exchange} goes with ${owner?.id ?? "another provider"}`, {
        hint: owner ? `authctl token ${owner.id} --${options.exchange}` : undefined,
      });
    }
    if (resolved.source !== "store") {
      throw new AuthctlError(
        "NOT_LOGGED_IN",
        `the ${exchange.label} exchange needs a stored ${provider.name} login`,
        { hint: `run 'authctl login ${provider.id}'` },
      );
    }
    const { exchangeAtUse } = await import("./use-exchange.ts");
    ctx.deps.writeStdout(`${await exchangeAtUse(ctx, provider, exchange, resolved.key)}\n`);
    return;
  }
  ctx.deps.writeStdout(`${resolved.secret}\n`);
}
