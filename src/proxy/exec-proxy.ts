import type { Context } from "../actions/context.ts";
import type { ResolvedCredential } from "../actions/resolve.ts";
import { AuthctlError } from "../errors.ts";

/** `authctl exec --proxy` (issue: exec --proxy). Being written. */
export async function execWithProxy(
  _ctx: Context,
  _resolved: ResolvedCredential[],
  _command: { file: string; argv: string[] },
  _baseEnv: Record<string, string>,
): Promise<number> {
  throw new AuthctlError("USAGE", "exec --proxy is not available in this build");
}
