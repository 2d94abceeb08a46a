/**
 * The encrypted file: the secret fields sealed in place in credentials.toml (`enc:v1:…`, see
 * encrypted.ts), under the store's key file or passphrase. The chosen backend wherever the
 * keyring is not available.
 */
import type { IndexBackend } from "./backend.ts";
import { copyCredential, listSecrets, listStrings, setSecret } from "./_secret-fields.ts";
import { openValue } from "./opening.ts";
import { isSealed } from "./sealed.ts";

/**
 * The sealing code (node:crypto behind it) loads with the first value sealed (see sealed.ts); the
 * opening code (opening.ts) is light, and the usual case of `env` opens sealed values with it.
 */
const encrypted = () => require("./encrypted.ts") as typeof import("./encrypted.ts");

export const encryptedBackend: IndexBackend<"encrypted"> = {
  kind: "index",
  name: "encrypted",
  label: "the encrypted file",
  describeLocation: (storePath) => `encrypted in ${storePath}`,
  unreadSecret: "(secret sealed)",
  asyncReads: false,
  inClear: false,
  usesStoreKey: true,
  autoRank: 1,
  seals: true,
  holds: (raw) => listStrings(raw).some(([, value]) => isSealed(value)),
  openRecord(id, raw, keys) {
    const credential = copyCredential(raw);
    for (const [field, value] of listStrings(raw)) {
      if (isSealed(value))
        setSecret(credential, field, openValue(keys.opening(), id, field, value, keys.storePath));
    }
    return credential;
  },
  sealRecord(id, credential, sealing, previous) {
    if (!sealing) throw new Error("the encrypted backend seals with a key");
    const sealed = copyCredential(credential);
    const original = previous && new Map(listSecrets(previous.raw));
    const opened = previous && new Map(listSecrets(previous.opened));
    for (const [field, value] of listSecrets(credential)) {
      // An unchanged value keeps its sealed text, so a no-op update does not rewrite the file.
      const old = original?.get(field);
      setSecret(
        sealed,
        field,
        old && opened?.get(field) === value ? old : encrypted().sealValue(sealing, id, field, value),
      );
    }
    return sealed;
  },
};
