/**
 * The OS keyring (macOS Keychain, Secret Service on Linux, Windows Credential Manager): one item
 * per credential, service `authctl`, account = the credential id (see keyring.ts for the reads
 * and their bounds). The first choice when nothing chooses and it answers.
 */
import type { Env } from "../deps.ts";
import { resolve } from "../lazy-path.ts";
import { isProviderKey } from "../names.ts";
import { mergeItem, metaDigest } from "./_external-item.ts";
import { copyCredential } from "./_secret-fields.ts";
import type { ExternalBackend } from "./backend.ts";
import { wantTurns } from "./quick-read.ts";
import type { StoredCredential } from "./types.ts";

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
 * automatically: started here on a guess from credentials.toml's text, it measured no faster and
 * about 0.4 ms more CPU for the full path (issue 18); the usual case starts them once it has read
 * a keyring record (readAhead).
 */
export function startKeyringAhead(env: Env, argv: string[]): void {
  if (env.AUTHCTL_STORE !== "keyring") return;
  keyring().startReaderAhead(env, namedKeys(argv));
  wantTurns();
}

/**
 * For the usual case of `env`, `token` and `exec` (actions/usual-case.ts; ExternalBackend.readAhead):
 * these keyring records (each the record's metadata as openRecord gives it) with their secrets,
 * from the lookups startKeyringAhead started (those it did not, started now), merged as
 * the store's read merges them (_external-item.ts mergeItem: the item's owner against this
 * store's home resolved as backend-store.ts resolves it, its digest against the record's).
 * Undefined wherever the store's read must answer, which then takes the same lookups (keyring.ts
 * awaitLookupsAhead): no session bus, an item absent (the read asks libsecret),
 * locked (libsecret may unlock it), another store's, a record altered, an item that is not
 * authctl's, a failure, or no answer within the keyring's bound (the read then reports that
 * timeout at once). Bun.secrets, whose absence the read would report, is part of the Bun that
 * builds the binary.
 */
async function readAhead(
  env: Env,
  home: string,
  records: Array<[id: string, credential: StoredCredential]>,
): Promise<StoredCredential[] | undefined> {
  const ids = records.map(([id]) => id);
  // The lookups startKeyringAhead did not start, started now as the store's read would start
  // them: all of them when the store is chosen otherwise (automatically, or AUTHCTL_STORE names
  // another backend: the record's marker still sends the read to the keyring), and with
  // AUTHCTL_STORE=keyring those of keys the command line did not spell (a default account).
  keyring().startReaderAhead(env, ids);
  const found = keyring().awaitLookupsAhead(ids);
  // Worked out while the keyring answers, as the store's read does (_move.ts fetchExternalSecrets).
  const owner = resolve(home);
  const digests = records.map(([, credential]) => metaDigest(credential));
  const lookups = await found;
  if (!lookups) return undefined;
  const merged: StoredCredential[] = [];
  for (const [i, [id, credential]] of records.entries()) {
    const lookup = lookups[i]!;
    if (lookup.status !== "found") return undefined;
    const withSecrets = copyCredential(credential);
    const check = { owner, shared: !!keyringBackend.sharedByStores, digest: digests[i]! };
    if (mergeItem(withSecrets, lookup.value, id, check) !== "found") return undefined;
    merged.push(withSecrets);
  }
  return merged;
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
  readAhead,
  open: (options) =>
    keyring().createBunKeyring(options.env, {
      get unlockWaitMs() {
        return options.unlockWaitMs;
      },
      notify: options.notify,
    }),
};
