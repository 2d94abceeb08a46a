import { defineCommand, renderUsage, runCommand, type CommandDef } from "citty";
import { version } from "../../package.json";
import { createContext, type Context } from "../actions/context.ts";
import type { Deps } from "../deps.ts";
import { AuthctlError } from "../errors.ts";
import * as commands from "./commands.ts";
import { rejectUnknownFlags } from "./shared.ts";
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
  store: createStoreCommand,
  upgrade: createUpgradeCommand,
};

function createMainCommand(getContext: commands.GetContext, deps: Deps): CommandDef<any> {
  return defineCommand({
    meta: { name: "authctl", version, description: "Model-provider credentials for AI agents and developer tools" },
    subCommands: Object.fromEntries(Object.entries(FACTORIES).map(([name, factory]) => [name, () => factory(getContext, [], deps)])),
  });
}

/** Runs one invocation; returns the exit code. Throws AuthctlError for main.ts to report. */
export async function runCli(argv: string[], deps: Deps): Promise<number> {
  let context: Context | undefined;
  const getContext = () => (context ??= createContext(deps));
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v" || name === "-V" || name === "version") {
    deps.writeStdout(`${version}\n`);
    return 0;
  }
  const main = createMainCommand(getContext, deps);
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    deps.writeStdout(`${await renderUsage(main)}\n`);
    return name === undefined ? 2 : 0;
  }
  const factory = FACTORIES[name];
  if (!factory) {
    throw new AuthctlError("USAGE", `unknown command '${name}'`, { hint: `run 'authctl --help' (commands: ${Object.keys(FACTORIES).join(", ")})` });
  }
  const cmd = factory(getContext, rest, deps);
  const ownArgs = name === "exec" ? rest.slice(0, Math.max(0, rest.indexOf("--"))) : rest.slice(0, rest.includes("--") ? rest.indexOf("--") : undefined);
  if (ownArgs.includes("--help") || ownArgs.includes("-h") || (name === "exec" && rest[0] === "--help")) {
    deps.writeStdout(`${await renderUsage(cmd, main)}\n`);
    return 0;
  }
  // exec and store parse their own argv (exec: the child's argv after --; store: sub-commands).
  if (name !== "exec" && name !== "store") rejectUnknownFlags(rest, (cmd.args ?? {}) as Record<string, never>, name);
  const { result } = await runCommand(cmd, { rawArgs: name === "exec" ? [] : rest });
  return typeof result === "number" ? result : 0;
}
