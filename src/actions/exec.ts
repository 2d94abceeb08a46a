import { AuthctlError, commandStartError } from "../errors.ts";
import type { Context } from "../context.ts";
import { resolveMany } from "./env.ts";
import { childEnvironment, competingVars, isAuthctlSecretVar } from "./vars.ts";

export { competingVars, isAuthctlSecretVar };

export interface ExecOptions {
  providerIds: string[];
  command: string[];
  /** Give the child a loopback proxy and a placeholder instead of the real credential. */
  proxy?: boolean;
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
  const { base: baseEnv, child: childEnv } = childEnvironment(deps.env, resolved);

  const file = command.includes("/") ? command : deps.which(command, childEnv.PATH);
  if (!file) {
    // Say where it was looked for: cron starts jobs with PATH=/usr/bin:/bin and a service manager
    // with its own, so a command found in your shell is often simply not on the PATH here.
    const searched = childEnv.PATH ? `not on PATH=${childEnv.PATH}` : "PATH is not set";
    throw new AuthctlError("COMMAND_NOT_FOUND", `command not found: ${command} (${searched})`, {
      hint: `check the name, or give its full path ('command -v ${command}' in your shell prints it)`,
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
