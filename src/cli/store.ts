import { defineCommand, type CommandDef } from "citty";
import { AuthctlError } from "../errors.ts";
import { listBackendNames, STORE_NAMES } from "../store/backends.ts";
import { parseStoreName } from "../store/select-backend.ts";
import type { StoreName } from "../store/types.ts";
import type { GetContext } from "./commands.ts";

export type StoreOptions =
  | { action: "migrate"; to: StoreName }
  | { action: "seal"; with: "file" | "passphrase" }
  | { action: "reset"; yes: boolean };

const USAGE_HINT = `authctl store migrate --to ${STORE_NAMES.join("|")} · store seal --with passphrase|key-file · store reset [--yes]`;
const SEAL_WITH: Record<string, "file" | "passphrase"> = { passphrase: "passphrase", "key-file": "file" };

/** The value of `--name value` / `--name=value`; a missing value is a usage error naming the choices. */
function optionValue(
  rest: string[],
  i: number,
  name: string,
  choices: string,
): { value: string; next: number } | undefined {
  const token = rest[i]!;
  if (token.startsWith(`${name}=`)) return { value: token.slice(name.length + 1), next: i };
  if (token !== name) return undefined;
  const value = rest[i + 1];
  if (value === undefined || value.startsWith("-")) {
    throw new AuthctlError("USAGE", `${name} needs a value: ${choices}`, { hint: USAGE_HINT });
  }
  return { value, next: i + 1 };
}

/**
 * `store migrate --to <backend>`, `store seal --with passphrase|key-file`, `store reset [--yes]`;
 * anything else (another sub-command, an unknown flag, a missing value) is a usage error.
 */
export function parseStoreArgs(rawArgs: string[]): StoreOptions {
  const [action, ...rest] = rawArgs;
  if (action !== "migrate" && action !== "seal" && action !== "reset") {
    throw new AuthctlError(
      "USAGE",
      action === undefined
        ? "store needs a sub-command: migrate, seal or reset"
        : `unknown store sub-command '${action}'`,
      {
        hint: USAGE_HINT,
      },
    );
  }
  const flag = action === "migrate" ? "--to" : action === "seal" ? "--with" : "--yes";
  const choices = action === "migrate" ? listBackendNames() : "passphrase or key-file";
  let value: string | undefined;
  let yes = false;
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i]!;
    if (action === "reset" && token === "--yes") {
      yes = true;
      continue;
    }
    const found = action === "reset" ? undefined : optionValue(rest, i, flag, choices);
    if (found) {
      value = found.value;
      i = found.next;
    } else if (token.startsWith("-")) {
      throw new AuthctlError("USAGE", `unknown option '${token.split("=")[0]}' for 'store ${action}'`, {
        hint: USAGE_HINT,
      });
    } else {
      throw new AuthctlError("USAGE", `store ${action} takes no argument '${token}'`, { hint: USAGE_HINT });
    }
  }
  if (action === "reset") return { action, yes };
  if (value === undefined)
    throw new AuthctlError("USAGE", `store ${action} needs ${flag}: ${choices}`, { hint: USAGE_HINT });
  if (action === "seal") {
    const source = SEAL_WITH[value];
    if (!source)
      throw new AuthctlError("USAGE", `--with must be passphrase or key-file, not '${value}'`, {
        hint: USAGE_HINT,
      });
    return { action, with: source };
  }
  // Every registered name: a backend of the local store or a whole store (the team store on etcd).
  try {
    return { action, to: parseStoreName(value, "--to") };
  } catch {
    throw new AuthctlError("USAGE", `--to must be ${listBackendNames()}, not '${value}'`, {
      hint: USAGE_HINT,
    });
  }
}

/** `authctl store …`: move secrets between backends, change what seals them, or start over. */
export function createStoreCommand(getContext: GetContext, rawArgs: string[]): CommandDef<any> {
  return defineCommand({
    meta: {
      name: "store",
      description: "Move credentials between backends, change how they are sealed, or start a new store",
    },
    args: {},
    async run() {
      const options = parseStoreArgs(rawArgs);
      const actions = await import("../actions/store-migrate.ts");
      if (options.action === "migrate") await actions.storeMigrate(await getContext(), options.to);
      else if (options.action === "seal") await actions.storeSeal(await getContext(), options.with);
      else await actions.storeReset(await getContext(), options.yes);
    },
  });
}
