/**
 * The OS keyring (macOS Keychain, Secret Service on Linux, Windows Credential Manager): one item
 * per credential, service `authctl`, account = the credential id (see keyring.ts for the reads
 * and their bounds). The first choice when nothing chooses and it answers.
 */
import type { ExternalBackend } from "./backend.ts";

/**
 * The keyring's code (Bun.secrets, the D-Bus client) loads when the keyring is opened: the other
 * backends' `env`, `token` and `exec` never pay for it (issue 18).
 */
const keyring = () => require("./keyring.ts") as typeof import("./keyring.ts");

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
