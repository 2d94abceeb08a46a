import { defineCommand, type CommandDef } from "citty";
import { AuthctlError } from "../errors.ts";
import type { GetContext } from "./commands.ts";
import { positionals } from "./shared.ts";

/** `authctl switch <provider>@<account>`: one account, the new default of its provider. */
export function createSwitchCommand(getContext: GetContext): CommandDef<any> {
  return defineCommand({
    meta: { name: "switch", description: "Make an account its provider's default" },
    args: {
      account: { type: "positional", required: false, description: "<provider>@<account>" },
    },
    async run({ args }) {
      const refs = positionals(args as { _: string[] });
      if (refs.length !== 1)
        throw new AuthctlError(
          "USAGE",
          refs.length ? `switch takes one account, got: ${refs.join(" ")}` : "switch needs an account",
          { hint: "e.g. authctl switch openrouter@work ('authctl status' lists the accounts)" },
        );
      const { switchAccount } = await import("../actions/switch.ts");
      await switchAccount(await getContext(), { ref: refs[0]! });
    },
  });
}
