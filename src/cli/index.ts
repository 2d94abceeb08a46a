import { runCommand, type ArgsDef, type CommandDef } from "citty";
import { version } from "../../package.json";
import type { Context } from "../context.ts";
import type { Deps } from "../deps.ts";
import { didYouMean } from "../did-you-mean.ts";
import { AuthctlError, EXIT } from "../errors.ts";
import * as commands from "./commands.ts";
import { renderCommandHelp, renderMainHelp } from "./help.ts";
import { createSwitchCommand } from "./accounts.ts";
import { createAllowCommand, createDenyCommand } from "./project.ts";
import { rejectUnknownFlags } from "./shared.ts";
import { withUsage } from "./usage.ts";
import { createStoreCommand } from "./store.ts";
import { createUpgradeCommand } from "./upgrade.ts";

/** `deps` is for commands that must work without a config or store (upgrade fixes a broken install). */
type Factory = (getContext: commands.GetContext, rawArgs: string[], deps: Deps) => CommandDef<any>;

const FACTORIES: Record<string, Factory> = {
  login: commands.createLoginCommand,
  logout: commands.createLogoutCommand,
  status: commands.createStatusCommand,
  env: commands.createEnvCommand,
  exec: commands.createExecCommand,
  token: commands.createTokenCommand,
  providers: commands.createProvidersCommand,
  switch: createSwitchCommand,
  store: createStoreCommand,
  upgrade: createUpgradeCommand,
  allow: createAllowCommand,
  deny: createDenyCommand,
};

/**
 * Runs one invocation; returns the exit code. Throws AuthctlError for main.ts to report.
 * `getContext` comes from main.ts and builds the config, the providers and the store on first
 * call: --version, --help and usage errors never need them, and `env` asks only once its
 * arguments are known to be good.
 */
export async function runCli(
  argv: string[],
  deps: Deps,
  getContext: () => Promise<Context>,
): Promise<number> {
  const [name, ...rest] = argv;
  const writeHelp = (text: string) => deps.writeStdout(deps.ui.glyphs(text));
  if (name === "--version" || name === "-v" || name === "-V" || name === "version") {
    deps.writeStdout(`${version}\n`);
    return 0;
  }
  if (name === undefined || name === "--help" || name === "-h" || (name === "help" && rest.length === 0)) {
    writeHelp(renderMainHelp(deps.stdoutColor));
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  // `authctl help login` is `authctl login --help`, as in git and gh.
  if (name === "help") return runCli([rest[0]!, "--help"], deps, getContext);
  if (name.startsWith("-")) {
    const guess = didYouMean(name, ["--help", "--version"]);
    throw new AuthctlError("USAGE", `unknown option '${name}'${guess ? `; ${guess}` : ""}`, {
      usage: "authctl <command> [options]",
      hint: "run 'authctl --help'",
    });
  }
  const factory = FACTORIES[name];
  if (!factory) {
    const guess = didYouMean(name, Object.keys(FACTORIES));
    throw new AuthctlError("USAGE", `unknown command '${name}'${guess ? `; ${guess}` : ""}`, {
      hint: `run 'authctl --help' (commands: ${Object.keys(FACTORIES).join(", ")})`,
    });
  }
  const cmd = factory(getContext, rest, deps);
  const ownArgs =
    name === "exec"
      ? rest.slice(0, Math.max(0, rest.indexOf("--")))
      : rest.slice(0, rest.includes("--") ? rest.indexOf("--") : undefined);
  if (
    ownArgs.includes("--help") ||
    ownArgs.includes("-h") ||
    (name === "exec" && (rest[0] === "--help" || rest[0] === "-h"))
  ) {
    writeHelp(renderCommandHelp(name, (cmd.args ?? {}) as ArgsDef, deps.stdoutColor));
    return 0;
  }
  try {
    // exec and store parse their own argv (exec: the child's argv after --; store: sub-commands).
    if (name !== "exec" && name !== "store") rejectUnknownFlags(rest, (cmd.args ?? {}) as ArgsDef, name);
    const { result } = await runCommand(cmd, { rawArgs: name === "exec" ? [] : rest });
    return typeof result === "number" ? result : 0;
  } catch (error) {
    throw withUsage(error, name);
  }
}
