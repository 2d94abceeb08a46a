import { defineCommand, type CommandDef } from "citty";
import { AuthctlError } from "../errors.ts";
import type { Deps } from "../deps.ts";
import type { GetContext } from "./commands.ts";

export const upgradeArgs = {
  version: {
    type: "string",
    description: "install this version instead of the newest (also: AUTHCTL_VERSION)",
  },
} as const;

export function parseUpgradeArgs(args: Record<string, unknown>): { version?: string } {
  // `authctl upgrade 0.2.0` installed the newest release, the version unread: a pin that silently
  // is not one. Any word after upgrade is refused, a version with the flag that takes it.
  const extra = ((args._ as unknown[] | undefined) ?? []).map(String);
  if (extra.length) {
    const asVersion = extra.length === 1 && /^v?\d+\.\d+\.\d+/.test(extra[0]!);
    throw new AuthctlError("USAGE", `upgrade takes no arguments, got: ${extra.join(" ")}`, {
      hint: asVersion
        ? `authctl upgrade --version ${extra[0]}`
        : "authctl upgrade, or authctl upgrade --version 1.2.3",
    });
  }
  if (args.version === undefined) return {};
  const version = String(args.version).trim().replace(/^v/, "");
  if (!/^(latest|\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?)$/.test(version)) {
    throw new AuthctlError("USAGE", `'${args.version}' is not a version`, {
      hint: "authctl upgrade --version 1.2.3",
    });
  }
  return { version };
}

/** `authctl upgrade`: replaces this binary with the newest (or `--version`) release, checksum-verified. */
export function createUpgradeCommand(
  _getContext: GetContext,
  _rawArgs: string[],
  deps: Deps,
): CommandDef<any> {
  return defineCommand({
    meta: { name: "upgrade", description: "Replace this binary with the newest release" },
    args: upgradeArgs,
    async run({ args }) {
      const options = parseUpgradeArgs(args as Record<string, unknown>);
      const { upgrade } = await import("../actions/upgrade.ts");
      await upgrade(deps, options);
    },
  });
}
