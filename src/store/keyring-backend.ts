/**
 * The OS keyring (macOS Keychain, Secret Service on Linux, Windows Credential Manager): one item
 * per credential, service `authctl`, account = the credential id (see keyring.ts for the reads
 * and their bounds). The first choice when nothing chooses and it answers.
 */
import type { Env } from "../deps.ts";
import { isProviderKey } from "../names.ts";
import type { ExternalBackend } from "./backend.ts";
import { wantTurns } from "./quick-read.ts";

/**
 * The keyring's code (Bun.secrets, the D-Bus client) loads when the keyring is opened: the other
 * backends' `env`, `token` and `exec` never pay for it (issue 18).
 */
const keyring = () => require("./keyring.ts") as typeof import("./keyring.ts");

/**
 * For `env`, `token` and `exec` with AUTHCTL_STORE=keyring (main.ts): the keyring's connection,
 * session and the lookups of the items the command names start now, and go on while the config
 * and credentials.toml are read and checked (keyring.ts startReaderAhead; the store read gives
 * them turns of the event loop, quick-read.ts turnAhead). A word that names no item costs a
 * search that finds nothing, never a different answer. Not done when the keyring is only chosen
 * automatically and credentials.toml names it: started once that text is read, it measured no
 * faster and about 0.4 ms more CPU (issue 18).
 */
export function startKeyringAhead(env: Env, argv: string[]): void {
  if (env.AUTHCTL_STORE !== "keyring") return;
  keyring().startReaderAhead(env, namedKeys(argv));
  wantTurns();
}

/**
 * The store keys a hot command seems to name (`env a b@work`, `token a`, `exec -p a -- cmd`):
 * every word before `--` that could be one, at most eight.
 */
function namedKeys(argv: string[]): string[] {
  const keys: string[] = [];
  for (const arg of argv.slice(1)) {
    if (arg === "--" || keys.length === 8) break;
    if (isProviderKey(arg)) keys.push(arg);
  }
  return keys;
}

export const keyringBackend: ExternalBackend<"keyring"> = {
  kind: "external",
  name: "keyring",
  label: "the keyring",
  describeLocation: () => `in the keyring (service ${keyring().KEYRING_SERVICE})`,
  unreadSecret: "(secret in the keyring)",
  asyncReads: true,
  inClear: false,
  usesStoreKey: false,
  autoRank: 0,
  unavailableHint: "unlock the keyring or start a D-Bus session",
  itemName: (id) => `${keyring().KEYRING_SERVICE}/${id}`,
  sharedByStores:
    "keyring items are shared by every AUTHCTL_HOME of a user; AUTHCTL_STORE=encrypted keeps stores apart",
  open: (options) =>
    keyring().createBunKeyring(options.env, {
      get unlockWaitMs() {
        return options.unlockWaitMs;
      },
      notify: options.notify,
    }),
};
