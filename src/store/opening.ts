/**
 * The opening half of the encrypted file's sealing (encrypted.ts): the key a key file's bytes give
 * (checked against the store's check value), the record-MAC key derived from it, and the opening
 * of sealed values, ahead with crypto.subtle or as they are asked for. Apart from encrypted.ts so
 * that what opens a store sealed with its key file loads without the sealing half (node:fs for the
 * key file's creation, scrypt, node:crypto's random bytes) and without the require() that loads
 * it: the usual case of `env`, `token` and `exec` (actions/usual-case.ts) opens such a store with
 * these same functions, and in a compiled binary a module loaded on demand costs about 1 ms of CPU
 * on its first load (issue 18). encrypted.ts re-exports them; nothing here changed what it does.
 */
import { openAesGcm, openAheadAesGcm } from "./_aead.ts";
import { hmacSha256 } from "./_integrity.ts";
import { listStrings } from "./_secret-fields.ts";
import { SealedValueError, StoreKeyError } from "./errors.ts";
import { isSealed, type KeyParams } from "./sealed.ts";
import type { StoredCredential } from "./types.ts";

/** Format 1 (no record MACs) checked the key with this; format 2 with its own, so a file cannot be passed off as the other. */
export const KEY_CHECK = {
  1: { text: "authctl key check v1", aad: "authctl:v1:key-check" },
  2: { text: "authctl key check v2", aad: "authctl:v2:key-check" },
} as const;

export interface SealingKey {
  source: "file" | "passphrase";
  key: Buffer;
  /** The key of the record MACs, derived from `key` (never the sealing key itself). */
  macKey: Buffer;
  /** What to write at the top of the store so the next reader finds and checks this key. */
  params: KeyParams;
}

export function sealingKey(source: "file" | "passphrase", key: Buffer, params: KeyParams): SealingKey {
  return {
    source,
    key,
    macKey: hmacSha256(key, "authctl:v2:record-mac-key"),
    params,
  };
}

/** The additional data a sealed value is bound to: its provider id and field. */
export function aad(id: string, field: string): Buffer {
  return Buffer.from(`authctl:v1:${id}:${field}`, "utf8");
}

/** Opens one sealed value; a value that does not authenticate is an error naming the file and field, never garbage. */
export function openValue(
  key: SealingKey,
  id: string,
  field: string,
  sealed: string,
  storePath: string,
): string {
  const plain = openAesGcm(key.key, sealed, aad(id, field));
  if (plain === undefined) {
    throw new SealedValueError(
      storePath,
      id,
      `credentials store ${storePath}: the sealed value of ${id}.${field} does not authenticate (it was altered or damaged)`,
      field,
    );
  }
  return plain;
}

export function checkKey(key: Buffer, params: KeyParams, format: 1 | 2): boolean {
  // Format 2 always has a check value; only format-1 files written before it existed lack one.
  if (!isSealed(params.key_check)) return format === 1;
  return openAesGcm(key, params.key_check, Buffer.from(KEY_CHECK[format].aad)) === KEY_CHECK[format].text;
}

/**
 * The opening key of a store sealed with its key file, from the key file's bytes (undefined: there
 * is no key file): loadOpeningKey's answer once it has them. Throws when they are missing or do
 * not open the store.
 */
export function openingKeyFromFile(
  key: Buffer | undefined,
  params: KeyParams,
  format: 1 | 2,
  storePath: string,
  keyPath: string,
): SealingKey {
  if (!key) {
    throw new StoreKeyError(
      "key-file",
      "missing",
      `credentials store ${storePath} holds sealed values but the key file ${keyPath} is missing`,
      "restore the key file; if it is lost, 'authctl store reset' starts a new store (it lists what is lost) and 'authctl login' stores them again",
    );
  }
  if (!checkKey(key, params, format)) {
    throw new StoreKeyError(
      "key-file",
      "wrong",
      `key file ${keyPath} does not open credentials store ${storePath} (wrong key)`,
      "restore the key file the store was sealed with (or 'authctl store reset' to start over)",
    );
  }
  return sealingKey("file", key, params);
}

/**
 * Opens ahead, with crypto.subtle (see _aead.ts), what loadOpeningKey and the encrypted backend
 * will open synchronously with this key: the check value and every sealed value of these records,
 * with the additional data each is opened with. So `env` on a sealed store loads no node:crypto.
 */
export async function openStoreAhead(
  key: Buffer,
  params: KeyParams,
  format: 1 | 2,
  records: Record<string, StoredCredential>,
): Promise<void> {
  const values: Array<{ sealed: string; additional: Buffer }> = [];
  if (isSealed(params.key_check))
    values.push({ sealed: params.key_check, additional: Buffer.from(KEY_CHECK[format].aad) });
  for (const [id, raw] of Object.entries(records)) {
    for (const [field, value] of listStrings(raw))
      if (isSealed(value)) values.push({ sealed: value, additional: aad(id, field) });
  }
  await openAheadAesGcm(key, values);
}
