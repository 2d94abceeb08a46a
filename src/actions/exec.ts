import { AuthctlError } from "../errors.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import type { Context } from "./context.ts";
import { collectVars, resolveMany } from "./env.ts";

export interface ExecOptions {
  providerIds: string[];
  command: string[];
  /** Give the child a loopback proxy and a placeholder instead of the real credential. */
  proxy?: boolean;
}

/**
 * Variables that would compete with what is injected: the provider's other names for the same
 * key and the ones it declares in conflictVars (a stale ANTHROPIC_AUTH_TOKEN outranks an injected
 * ANTHROPIC_API_KEY in Claude Code).
 */
export function competingVars(provider: ProviderDefinition, method?: string): string[] {
  const oauth = provider.methods.find((m) => m.id === method);
  const methodVars = oauth?.kind === "oauth" ? (oauth.conflictVars ?? []) : [];
  return [...(provider.aliasVars ?? []), ...(provider.conflictVars ?? []), ...methodVars];
}

export async function exec(ctx: Context, options: ExecOptions): Promise<number> {
  const { deps } = ctx;
  const [command, ...args] = options.command;
  if (!command) {
    throw new AuthctlError("USAGE", "no command to run", { hint: "authctl exec [-p provider]… -- command [args…]" });
  }
  const resolved = await resolveMany(ctx, options.providerIds);
  const baseEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(deps.env)) if (value !== undefined) baseEnv[name] = value;
  const childEnv: Record<string, string> = { ...baseEnv };
  const injected = collectVars(resolved);
  const injectedNames = new Set(injected.map(([name]) => name));
  for (const r of resolved) {
    for (const name of competingVars(r.provider, r.credential?.method)) if (!injectedNames.has(name)) delete childEnv[name];
  }
  for (const [name, value] of injected) childEnv[name] = value;

  const file = command.includes("/") ? command : deps.which(command, childEnv.PATH);
  if (!file) {
    throw new AuthctlError("COMMAND_NOT_FOUND", `command not found: ${command}`, {
      hint: "check the name, or give its full path",
    });
  }
  const argv = [command, ...args];
  if (options.proxy) {
    // The proxy must outlive the launch, so authctl stays the parent (no execve here).
    const { execWithProxy } = await import("../proxy/exec-proxy.ts");
    return execWithProxy(ctx, resolved, { file, argv }, baseEnv);
  }
  if (deps.replaceProcess && deps.env.AUTHCTL_EXEC_MODE !== "spawn") {
    try {
      deps.replaceProcess(file, argv, childEnv);
    } catch (error) {
      throw execFailure(command, error);
    }
  }
  try {
    return await deps.spawnInherit(file, argv, childEnv);
  } catch (error) {
    throw execFailure(command, error);
  }
}

function execFailure(command: string, error: unknown): AuthctlError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new AuthctlError("COMMAND_NOT_FOUND", `command not found: ${command}`, { hint: "check the name, or give its full path" });
  if (code === "EACCES") return new AuthctlError("COMMAND_NOT_FOUND", `cannot run ${command}: permission denied`, { hint: "check that it is executable (chmod +x)" });
  return new AuthctlError("INTERNAL", `could not start ${command}: ${(error as Error).message}`, { cause: error });
}
