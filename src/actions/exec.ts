import { AuthctlError, commandStartError } from "../errors.ts";
import { isAuthctlSecretName, isEnvVarName } from "../names.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import type { Context } from "../context.ts";
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
    throw new AuthctlError("USAGE", "no command to run", {
      hint: "authctl exec [-p provider]… -- command [args…]",
    });
  }
  const resolved = await resolveMany(ctx, options.providerIds);
  for (const r of resolved) checkVars(r.provider.id, r.vars);
  const baseEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(deps.env)) {
    if (value !== undefined && !isAuthctlSecretVar(name)) baseEnv[name] = value;
  }
  const childEnv: Record<string, string> = { ...baseEnv };
  const injected = collectVars(resolved);
  const injectedNames = new Set(injected.map(([name]) => name));
  for (const r of resolved) {
    for (const name of competingVars(r.provider, r.credential?.method))
      if (!injectedNames.has(name)) delete childEnv[name];
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
    // The proxy sits below actions/: it refreshes through this, loaded when a token is due.
    return execWithProxy(ctx, resolved, { file, argv }, baseEnv, {
      refresh: async (provider, refreshOptions) =>
        (await import("./refresh.ts")).refreshCredential(ctx, provider, refreshOptions),
      isOutage: async (error) => error instanceof (await import("./refresh.ts")).RefreshOutage,
    });
  }
  if (deps.replaceProcess && deps.env.AUTHCTL_EXEC_MODE !== "spawn") {
    try {
      deps.replaceProcess(file, argv, childEnv);
    } catch (error) {
      throw commandStartError(command, error);
    }
  }
  try {
    return await deps.spawnInherit(file, argv, childEnv);
  } catch (error) {
    throw commandStartError(command, error);
  }
}

/**
 * authctl's own secrets (the store passphrase, and any later AUTHCTL_*_PASSWORD, _KEY, _TOKEN or
 * _SECRET) never reach a child: with AUTHCTL_PASSPHRASE the child could open the whole store,
 * every provider's refresh token included (issue 13.6).
 */
export function isAuthctlSecretVar(name: string): boolean {
  return isAuthctlSecretName(name);
}

/**
 * An environment cannot carry a NUL byte (or a value that is not a string): Bun and Node refuse
 * the whole environment and quote all of it, keys included, in their error (issue 13.3). Refuse
 * here, naming the variable and never its value.
 */
function checkVars(providerId: string, vars: Array<[string, string]>): void {
  for (const [name, value] of vars) {
    if (!isEnvVarName(name)) {
      throw new AuthctlError(
        "CONFIG_INVALID",
        `${providerId}: '${name}' is not a variable name; nothing was run`,
      );
    }
    if (typeof value !== "string" || value.includes("\0")) {
      throw new AuthctlError(
        "STORE_CORRUPT",
        `the ${providerId} credential for ${name} ${typeof value === "string" ? "holds a NUL byte, which no environment variable can carry" : "is not a text value"}; nothing was run`,
        {
          hint: `log in again: authctl login ${providerId}`,
        },
      );
    }
  }
}
