import { defineCommand, type CommandDef } from "citty";
import { AuthctlError } from "../errors.ts";
import type { GetContext } from "./commands.ts";

/** `authctl store …` (issue: secure storage). Being written; registered so the CLI shape is stable. */
export function createStoreCommand(_getContext: GetContext, _rawArgs: string[]): CommandDef<any> {
  return defineCommand({
    meta: { name: "store", description: "Inspect or migrate the credential store" },
    args: {},
    run() {
      throw new AuthctlError("USAGE", "store commands are not available in this build");
    },
  });
}
