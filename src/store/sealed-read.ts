/**
 * The quick read of a store sealed with its key file: the key file read through Bun's file API and
 * every value the read will open opened ahead with crypto.subtle (opening.ts openStoreAhead), so
 * `env`, `token` and `exec` load neither node:fs nor node:crypto (about 5 and 8 MiB of memory in a
 * compiled binary; issue 18). The store's quick read (backend-store.ts readQuickly) and the usual
 * case of `env` (actions/usual-case.ts) both start with it.
 */
import { join } from "../lazy-path.ts";
import { documentInfo } from "./_records.ts";
import type { CredentialsDocument } from "./credentials-file.ts";
import { KEY_FILE, KEY_FILE_BYTES } from "./files.ts";
import { openStoreAhead } from "./opening.ts";
import { USE_NODE_FS } from "./quick-read.ts";
import type { KeyParams } from "./sealed.ts";

/**
 * Returns the key file's bytes, its sealed values opened ahead, or undefined where the read goes
 * the usual way: nothing sealed, a passphrase (its scrypt is node:crypto's), AUTHCTL_PASSPHRASE set
 * (a mismatch to report), anything unusual about the key file (read, refused or repaired by
 * encrypted.ts readKeyFile, with its messages). `readKey` is quick-read.ts' readKeyQuickly (which
 * takes the read started ahead) or readKeyShared (which leaves it for the full path).
 */
export async function openKeyFileAhead(
  home: string,
  document: CredentialsDocument,
  passphrase: string | undefined,
  readKey: (path: string, size: number) => Promise<Uint8Array | typeof USE_NODE_FS>,
): Promise<Buffer | undefined> {
  const info = documentInfo(document);
  const params = document.preserved as KeyParams;
  if (!info.keyed || params.key_source === "passphrase" || passphrase) return undefined;
  const bytes = await readKey(join(home, KEY_FILE), KEY_FILE_BYTES);
  if (bytes === USE_NODE_FS) return undefined;
  const key = Buffer.from(bytes);
  await openStoreAhead(key, params, info.format, document.credentials);
  return key;
}
