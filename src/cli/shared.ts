import type { ArgsDef } from "citty";
import { didYouMean } from "../did-you-mean.ts";
import { AuthctlError } from "../errors.ts";

/**
 * citty accepts any flag silently; a typo such as `--with-keys` would then fall through to a
 * prompt or, worse, to defaults. Every command rejects flags it does not declare, and an option
 * that takes a value but was given none.
 */
export function rejectUnknownFlags(rawArgs: string[], args: ArgsDef, command: string): void {
  const known = new Set<string>(["help", "h"]);
  /** Flag (long name or alias) → the option it names, for those that take a value. */
  const takesValue = new Map<string, { long: string; valueHint?: string }>();
  for (const [name, def] of Object.entries(args)) {
    known.add(name);
    const { alias, type, valueHint } = def as {
      alias?: string | string[];
      type?: string;
      valueHint?: string;
    };
    const names = [name, ...(Array.isArray(alias) ? alias : alias ? [alias] : [])];
    for (const a of names) known.add(a);
    if (type === "string") for (const a of names) takesValue.set(a, { long: name, valueHint });
  }
  for (const [at, token] of rawArgs.entries()) {
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
    // An option that takes a value but got none (the last word, or another flag next): citty reads
    // it as "", and the command would go on with the default (another login method, no --host).
    const option = takesValue.get(name);
    if (option) {
      const inline = token.includes("=") ? token.slice(token.indexOf("=") + 1) : undefined;
      const attached = !token.startsWith("--") && token.length > 2; // -fjson
      const next = rawArgs[at + 1];
      const missing =
        inline !== undefined ? inline === "" : !attached && (next === undefined || next.startsWith("-"));
      if (missing) {
        const shown = `--${option.long} <${option.valueHint ?? option.long}>`; // as the help shows it
        throw new AuthctlError("USAGE", `${token.split("=")[0]} needs a value (${shown})`, {
          hint: `run 'authctl ${command} --help'`,
        });
      }
    }
  }
}

export function positionals(args: { _: string[] }): string[] {
  return args._.map(String);
}
