import { defineCommand, type CommandDef } from "citty";
import { AuthctlError } from "../errors.ts";
import type { GetContext } from "./commands.ts";

/** `authctl upgrade` (issue: distribution). Being written; registered so the CLI shape is stable. */
export function createUpgradeCommand(_getContext: GetContext): CommandDef<any> {
  return defineCommand({
    meta: { name: "upgrade", description: "Replace this binary with the newest release" },
    args: { version: { type: "string", description: "install this version instead of the newest" } },
    run() {
      throw new AuthctlError("USAGE", "upgrade is not available in this build");
    },
  });
}
