import { defineCommand, type CommandDef } from "citty";
import { AuthctlError } from "../errors.ts";
import { parseBackendName } from "../store/select-backend.ts";
import type { BackendName } from "../store/types.ts";
import type { GetContext } from "./commands.ts";

export type StoreOptions = { action: "migrate"; to: BackendName };

const USAGE_HINT = "authctl store migrate --to keyring|encrypted|file";

/** `store migrate --to <backend>`; anything else (another sub-command, an unknown flag) is a usage error. */
export function parseStoreArgs(rawArgs: string[]): StoreOptions {
  const [action, ...rest] = rawArgs;
  if (action !== "migrate") {
    throw new AuthctlError("USAGE", action === undefined ? "store needs a sub-command" : `unknown store sub-command '${action}'`, { hint: USAGE_HINT });
  }
  let to: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i]!;
    if (token === "--to" && i + 1 < rest.length) to = rest[++i];
    else if (token.startsWith("--to=")) to = token.slice(5);
    else if (token.startsWith("-")) throw new AuthctlError("USAGE", `unknown option '${token.split("=")[0]}' for 'store migrate'`, { hint: USAGE_HINT });
    else throw new AuthctlError("USAGE", `store migrate takes no argument '${token}'`, { hint: USAGE_HINT });
  }
  if (to === undefined) throw new AuthctlError("USAGE", "store migrate needs --to <backend>", { hint: USAGE_HINT });
  try {
    return { action, to: parseBackendName(to, "--to") };
  } catch {
    throw new AuthctlError("USAGE", `--to must be keyring, encrypted or file, not '${to}'`, { hint: USAGE_HINT });
  }
}

/** `authctl store migrate --to <backend>`: moves every credential's secrets to one backend. */
export function createStoreCommand(getContext: GetContext, rawArgs: string[]): CommandDef<any> {
  return defineCommand({
    meta: { name: "store", description: "Move credentials between backends: store migrate --to keyring|encrypted|file" },
    args: {},
    async run() {
      const options = parseStoreArgs(rawArgs);
      const { storeMigrate } = await import("../actions/store-migrate.ts");
      await storeMigrate(getContext(), options.to);
    },
  });
}
