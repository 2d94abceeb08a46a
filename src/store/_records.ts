/**
 * One record of credentials.toml as the backend store reads it: which backend holds its secrets,
 * its MAC (format 2), its sealed values, the hosts and endpoints format 1 could not vouch for, and
 * the routing fields. Private to the store (backend-store.ts and _move.ts).
 */
import { MAC_FIELD, unauthenticated, verifyRecordMac } from "./_integrity.ts";
import { findRoutingProblem } from "./_routing-fields.ts";
import {
  copyCredential,
  isLegacySecretField,
  listStrings,
  setSecret,
  withoutSecrets,
} from "./_secret-fields.ts";
import { type ExternalBackend, SECRET_STORE_FIELD } from "./backend.ts";
import { type BackendName, backendOfRecord } from "./backends.ts";
import type { CredentialsDocument } from "./credentials-file.ts";
import type { SealingKey } from "./opening.ts";
import { isSealed, KEY_PARAM_FIELDS, type KeyParams } from "./sealed.ts";
import { KeyringItemError, SealedValueError } from "./errors.ts";
import type { Credentials, StoredCredential } from "./types.ts";

/** How a document's records are read: its format, generation, and whether it has a key at all. */
export interface DocumentInfo {
  format: 1 | 2;
  generation: number;
  /** A key seals something here: format 2 always; format 1 when key fields or sealed values are present. */
  keyed: boolean;
}

export function documentInfo(document: CredentialsDocument): DocumentInfo {
  const params = document.preserved as KeyParams;
  const generation = typeof document.preserved.generation === "number" ? document.preserved.generation : 0;
  if (document.version >= 2) return { format: 2, generation, keyed: true };
  const keyed =
    KEY_PARAM_FIELDS.some((name) => params[name] !== undefined) ||
    Object.values(document.credentials).some((raw) => listStrings(raw).some(([, value]) => isSealed(value)));
  return { format: 1, generation: 0, keyed };
}

/**
 * Where a record that does not open counts as kept: a damaged record is one with a sealed value or
 * a MAC that does not authenticate, which only the encrypted file has.
 */
export const DAMAGED_ORIGIN: BackendName = "encrypted";

/** One sealed value or record does not open with the store's (right) key: that credential alone is lost. */
export function isDamagedValue(error: unknown): error is SealedValueError {
  return error instanceof SealedValueError;
}

/** The metadata of a record as stored: sealed values, the external marker and the MAC left out. */
export function metadataOf(raw: StoredCredential): StoredCredential {
  const copy = withoutSecrets(copyCredential(raw));
  for (const [field, value] of listStrings(copy)) if (isSealed(value)) setSecret(copy, field, undefined);
  const record = copy as unknown as Record<string, unknown>;
  delete record[MAC_FIELD];
  delete record[SECRET_STORE_FIELD];
  return copy;
}

export function missingItem(backend: ExternalBackend, id: string): KeyringItemError {
  return new KeyringItemError(
    "missing",
    id,
    `credentials.toml says ${id}'s secrets are in ${backend.label}, but ${backend.label} has no item ${backend.itemName(id)}`,
    { hint: `run 'authctl login ${id}' to store it again` },
  );
}

export function foreignItem(backend: ExternalBackend, id: string, owner: string): KeyringItemError {
  return new KeyringItemError(
    "foreign",
    id,
    `${backend.label} item ${backend.itemName(id)} now holds the ${id} login of the authctl store at ${owner}`,
    {
      hint: `run 'authctl login ${id}' to log in here again${backend.sharedByStores ? ` (${backend.sharedByStores})` : ""}`,
      owner,
    },
  );
}

export function alteredRecord(storePath: string, backend: ExternalBackend, id: string): SealedValueError {
  return unauthenticated(
    storePath,
    id,
    `does not match its ${backend.label.replace(/^the /, "")} item ${backend.itemName(id)} (it was altered behind authctl's back)`,
  );
}

/**
 * Opens one credential as stored: its MAC verified (format 2), its backend's secrets opened (an
 * external backend's marker removed, its secrets not fetched), its routing fields checked.
 * Anything that does not hold up makes this credential alone unusable (a SealedValueError).
 */
export function openRecord(
  storePath: string,
  id: string,
  raw: StoredCredential,
  openingKey: () => SealingKey,
  info: DocumentInfo,
  warnings: string[],
): { credential: StoredCredential; backend: BackendName } {
  if (info.format >= 2 && !verifyRecordMac(openingKey().macKey, id, info.generation, raw)) {
    const hasMac = typeof (raw as unknown as Record<string, unknown>)[MAC_FIELD] === "string";
    throw unauthenticated(
      storePath,
      id,
      hasMac
        ? "does not authenticate (it was altered, or put back from another copy of the store)"
        : "is not authenticated (it was added or altered without the store's key)",
    );
  }
  const backend = backendOfRecord(raw);
  let credential: StoredCredential;
  if (backend.kind === "external") {
    credential = copyCredential(raw);
    delete (credential as unknown as Record<string, unknown>)[SECRET_STORE_FIELD];
  } else {
    credential = backend.openRecord(id, raw, { opening: openingKey, storePath });
  }
  delete (credential as unknown as Record<string, unknown>)[MAC_FIELD];
  if (info.format === 1 && info.keyed) openLegacy(storePath, id, raw, credential, warnings);
  const problem = findRoutingProblem(credential);
  if (problem) throw unauthenticated(storePath, id, `has an unusable ${problem[0]} (it ${problem[1]})`);
  return {
    credential: backend.kind === "external" ? withoutSecrets(credential) : credential,
    backend: backend.name,
  };
}

/** Every record of a document opened (openRecord): a record that does not open is listed by its metadata and named in `damaged`. */
export interface OpenedRecords {
  credentials: Credentials;
  backends: Record<string, BackendName>;
  damaged: Record<string, Error>;
}

/**
 * Opens every record of the document: a damaged value costs that credential only; a wrong or
 * missing key (thrown by `openingKey`) stops everything. The store's snapshot (backend-store.ts)
 * and the usual case of `env` (actions/usual-case.ts) both read a store through this.
 */
export function openRecords(
  storePath: string,
  document: CredentialsDocument,
  openingKey: () => SealingKey,
  info: DocumentInfo,
  warnings: string[],
): OpenedRecords {
  const credentials: Credentials = Object.create(null);
  const backends: Record<string, BackendName> = Object.create(null);
  const damaged: Record<string, Error> = Object.create(null);
  for (const [id, raw] of Object.entries(document.credentials)) {
    try {
      const opened = openRecord(storePath, id, raw, openingKey, info, warnings);
      credentials[id] = opened.credential;
      backends[id] = opened.backend;
    } catch (error) {
      if (!isDamagedValue(error)) throw error;
      credentials[id] = metadataOf(raw);
      backends[id] = DAMAGED_ORIGIN;
      damaged[id] = error;
    }
  }
  return { credentials, backends, damaged };
}

/**
 * Format 1 of a sealed store authenticated only the sealed values. Reading one, a plaintext value
 * where format 1 sealed one is refused, and the plaintext hosts and endpoints it kept are not
 * trusted: the host only when it is GitHub's own, the revocation endpoint only on the origin of
 * the (sealed) token endpoint, an api_url or resource_url not at all. The next write turns the file into format 2 without them.
 */
function openLegacy(
  storePath: string,
  id: string,
  raw: StoredCredential,
  credential: StoredCredential,
  warnings: string[],
): void {
  for (const [field, value] of listStrings(raw)) {
    if (isLegacySecretField(field) && !isSealed(value)) {
      throw unauthenticated(
        storePath,
        id,
        `holds ${field} in clear where this store seals it (it was altered)`,
      );
    }
  }
  const extra = credential.extra;
  if (!extra) return;
  if (extra.host !== undefined && extra.host !== "github.com") {
    delete extra.host;
    warnings.push(
      `${id}: the host recorded before this version of authctl cannot be verified in a sealed store and is not used; log in again with --host`,
    );
  }
  // The API base programs are given (a regional api_url, Qwen's resource_url): the key goes there.
  for (const name of ["api_url", "resource_url"]) {
    if (extra[name] === undefined) continue;
    delete extra[name];
    warnings.push(
      `${id}: the ${name} recorded before this version of authctl cannot be verified in a sealed store and is not used; log in again`,
    );
  }
  if (extra.revocation_url !== undefined) {
    let sameOrigin = false;
    try {
      sameOrigin =
        extra.token_url !== undefined &&
        new URL(extra.revocation_url).origin === new URL(extra.token_url).origin;
    } catch {
      sameOrigin = false;
    }
    if (!sameOrigin) {
      delete extra.revocation_url;
      warnings.push(
        `${id}: the revocation endpoint recorded before this version of authctl cannot be verified in a sealed store and is not used`,
      );
    }
  }
  if (Object.keys(extra).length === 0) delete credential.extra;
}
