/**
 * An external backend's item (the keyring's) read back into its record: the owner and digest
 * checks and the merge that the store's read applies (_move.ts fetchExternalSecrets, under
 * backend-store.ts readSecrets) and the usual case of `env`, `token` and `exec` applies to the
 * lookups started ahead (keyring-backend.ts readAhead). One version of the rules, in a module
 * light enough for the usual case to load without the store's write code (_move.ts) (issue 18).
 */
import { MAC_FIELD, sha256Base64 } from "./_integrity.ts";
import { canonicalJson, mergeSecrets, parseSecretsJson, withoutSecrets } from "./_secret-fields.ts";
import { SECRET_STORE_FIELD } from "./backend.ts";
import type { StoredCredential } from "./types.ts";

/** The digest of an external record's metadata that its item carries (see ITEM_META_FIELD). */
export function metaDigest(credential: StoredCredential): string {
  const copy = withoutSecrets(credential) as unknown as Record<string, unknown>;
  delete copy[MAC_FIELD];
  delete copy[SECRET_STORE_FIELD];
  return `sha256:${sha256Base64(`authctl:keyring-record\n${canonicalJson(copy as unknown as StoredCredential)}`)}`;
}

/** Whose item it is and what its record must digest to: this store's name, and metaDigest of the record. */
export interface ItemCheck {
  /** This store's name in the items it writes (backend-store.ts: its home, resolved). */
  owner: string;
  /** Whether the backend's items are shared by stores (ExternalBackend.sharedByStores): then they name their owner. */
  shared: boolean;
  /** metaDigest of `credential` before anything is merged into it. */
  digest: string;
}

/**
 * The item's JSON merged into `credential` (a copy of the record's metadata, as openRecord gives
 * it) when item and record belong together; otherwise what is wrong, with `credential` left as it
 * was: another store's item, or a record altered behind authctl's back. Throws STORE_CORRUPT for
 * an item that is not authctl's JSON (parseSecretsJson).
 */
export function mergeItem(
  credential: StoredCredential,
  json: string,
  id: string,
  check: ItemCheck,
): "found" | "altered" | { foreign: string } {
  const item = parseSecretsJson(json, id);
  if (check.shared && item.owner !== undefined && item.owner !== check.owner) return { foreign: item.owner };
  // Items written before digests were recorded have none: they are checked from their next write on.
  if (item.meta !== undefined && item.meta !== check.digest) return "altered";
  mergeSecrets(credential, item.secrets);
  return "found";
}
