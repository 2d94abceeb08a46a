/**
 * What every store reads about sealing without sealing anything: the sealed-value prefix, the key
 * file's name and the key parameters' fields. The code that seals and opens (encrypted.ts, with
 * _aead.ts and the D-Bus keyring beside it, about 24 KB of the bundle) loads only when a store
 * has sealed values or a key: `env`, `token` and `exec` on the plain file store never load it.
 */

/** The one prefix of a sealed value (_aead.ts writes it; the encrypted file and etcd share it). */
export const SEALED_PREFIX = "enc:v1:";

export function isSealed(value: unknown): value is string {
  return typeof value === "string" && value.startsWith(SEALED_PREFIX);
}

export { KEY_FILE, KEY_FILE_BYTES } from "./files.ts";

/** The store-level fields of credentials.toml that describe the key (top-level, beside `version`). */
export interface KeyParams {
  key_source?: "file" | "passphrase";
  kdf?: string;
  kdf_salt?: string;
  kdf_n?: number;
  kdf_r?: number;
  kdf_p?: number;
  key_check?: string;
}
export const KEY_PARAM_FIELDS = [
  "key_source",
  "kdf",
  "kdf_salt",
  "kdf_n",
  "kdf_r",
  "kdf_p",
  "key_check",
] as const;
