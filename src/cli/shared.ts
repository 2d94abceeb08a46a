import type { ArgsDef } from "citty";
import { didYouMean } from "../did-you-mean.ts";
import { AuthctlError } from "../errors.ts";

/**
 * citty accepts any flag silently; a typo such as `--with-keys` would then fall through to a
 * prompt or, worse, to defaults. Every command rejects flags it does not declare.
 */
export function rejectUnknownFlags(rawArgs: string[], args: ArgsDef, command: string): void {
  const known = new Set<string>(["help", "h"]);
  for (const [name, def] of Object.entries(args)) {
    known.add(name);
    const alias = (def as { alias?: string | string[] }).alias;
    for (const a of Array.isArray(alias) ? alias : alias ? [alias] : []) known.add(a);
  }
  for (const token of rawArgs) {
    if (token === "--") break;
    if (!token.startsWith("-") || token === "-") continue;
    let name = token.replace(/^--?/, "").split("=")[0]!;
    if (!token.startsWith("--") && name.length > 1) name = name[0]!; // -pfoo
    if (!known.has(name) && !(name.startsWith("no-") && known.has(name.slice(3)))) {
      const longNames = [...known].filter((k) => k.length > 1).map((k) => `--${k}`);
      const guess = token.startsWith("--") ? didYouMean(token.split("=")[0]!, longNames) : "";
      throw new AuthctlError(
        "USAGE",
        `unknown option '${token.split("=")[0]}' for '${command}'${guess ? `; ${guess}` : ""}`,
        {
          hint: `run 'authctl ${command} --help'`,
        },
      );
    }
  }
}

export function positionals(args: { _: string[] }): string[] {
  return args._.map(String);
}
