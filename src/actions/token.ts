import { AuthctlError } from "../errors.ts";
import type { Context } from "./context.ts";
import { resolveForUse } from "./resolve.ts";

export interface TokenOptions {
  providerId: string;
  /** The printed token lives at least this long (refreshing first when needed). */
  minTtlMs?: number;
  /** GitHub Copilot: print the short-lived Copilot token instead of the GitHub token. */
  copilot?: boolean;
}

export async function token(ctx: Context, options: TokenOptions): Promise<void> {
  const resolved = await resolveForUse(ctx, options.providerId, { minTtlMs: options.minTtlMs });
  if (options.copilot) {
    if (resolved.provider.id !== "github-copilot") {
      throw new AuthctlError("USAGE", "--copilot goes with github-copilot", {
        hint: "authctl token github-copilot --copilot",
      });
    }
    if (resolved.source !== "store") {
      throw new AuthctlError("NOT_LOGGED_IN", "the Copilot exchange needs a stored GitHub login", {
        hint: "run 'authctl login github-copilot'",
      });
    }
    const { copilotToken } = await import("./copilot-token.ts");
    ctx.deps.writeStdout(`${await copilotToken(ctx, resolved.provider)}\n`);
    return;
  }
  ctx.deps.writeStdout(`${resolved.secret}\n`);
}
