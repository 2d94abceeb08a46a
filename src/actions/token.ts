import type { Context } from "./context.ts";
import { resolveForUse } from "./resolve.ts";

export interface TokenOptions {
  providerId: string;
  /** The printed token lives at least this long (refreshing first when needed). */
  minTtlMs?: number;
}

export async function token(ctx: Context, options: TokenOptions): Promise<void> {
  const resolved = await resolveForUse(ctx, options.providerId, { minTtlMs: options.minTtlMs });
  ctx.deps.writeStdout(`${resolved.secret}\n`);
}
