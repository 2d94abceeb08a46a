import type { Context } from "./context.ts";
import { resolveForUse } from "./resolve.ts";

export interface TokenOptions {
  providerId: string;
}

export async function token(ctx: Context, options: TokenOptions): Promise<void> {
  const resolved = await resolveForUse(ctx, options.providerId);
  ctx.deps.writeStdout(`${resolved.secret}\n`);
}
