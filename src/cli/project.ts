import { defineCommand, type CommandDef } from "citty";
import { AuthctlError } from "../errors.ts";
import type { GetContext } from "./commands.ts";
import { positionals } from "./shared.ts";

/**
 * `allow` and `deny` act on the project file found from the working directory upward, as `direnv
 * allow` does: run them in the project or below it. They take no arguments.
 */
function createProjectCommand(
  name: "allow" | "deny",
  description: string,
  getContext: GetContext,
): CommandDef<any> {
  return defineCommand({
    meta: { name, description },
    args: {},
    async run({ args }) {
      const extra = positionals(args as { _: string[] });
      if (extra.length)
        throw new AuthctlError("USAGE", `${name} takes no arguments, got: ${extra.join(" ")}`, {
          hint: `run 'authctl ${name}' in the project's directory or below it`,
        });
      const project = await import("../actions/project.ts");
      project[name](await getContext());
    },
  });
}

export function createAllowCommand(getContext: GetContext): CommandDef<any> {
  return createProjectCommand(
    "allow",
    "Trust the project file .authctl.toml found from here upward",
    getContext,
  );
}

export function createDenyCommand(getContext: GetContext): CommandDef<any> {
  return createProjectCommand(
    "deny",
    "Forget the project file .authctl.toml found from here upward",
    getContext,
  );
}
