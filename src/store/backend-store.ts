/**
 * The credential store with its three backends behind one interface. credentials.toml is always
 * the index and always holds the metadata (provider, method, expiry, label, account), so `status`
 * reads it without unsealing or calling anything; where the secret fields live is per credential:
 *  - file:      in clear in credentials.toml (0600),
 *  - encrypted: sealed in place (`enc:v1:…`, see encrypted.ts),
 *  - keyring:   in the OS keyring as JSON, the TOML keeping `secret_store = "keyring"`.
 *
 * Moves keep every secret in at least one place at every instant, so a kill -9 anywhere loses
 * nothing: a secret is written to its new place and read back before the file stops pointing at
 * the old one, and a keyring item is deleted only after the file no longer needs it. Ids whose
 * keyring item still has to go are listed in `keyring_cleanup` first, so an interrupted delete is
 * finished by the next write.
 */
import { resolve } from "node:path";
import { AuthctlError } from "../errors.ts";
import { MAC_FIELD, recordMac, unauthenticated, verifyRecordMac } from "./_integrity.ts";
import { findRoutingProblem } from "./_routing-fields.ts";
import {
  canonicalJson,
  copyCredential,
  isLegacySecretField,
  listSecrets,
  listStrings,
  mergeSecrets,
  parseSecretsJson,
  secretsJson,
  setSecret,
  withoutSecrets,
} from "./_secret-fields.ts";
import type { CredentialsDocument } from "./credentials-file.ts";
import {
  checkPassphraseStrength,
  isSealed,
  KEY_PARAM_FIELDS,
  type KeyOptions,
  type KeyParams,
  loadOpeningKey,
  loadSealingKey,
  openValue,
  type SealingKey,
  sealValue,
} from "./encrypted.ts";
import { createStoreFile } from "./file-store.ts";
import type { BackendOpenOptions, SecretVault } from "./backend.ts";
import { backendFor } from "./backends.ts";
import { KeyringItemError, SealedValueError } from "./errors.ts";
import { keyringBackend } from "./keyring-backend.ts";
import { type Availability, type BackendChoice, guessBackend, resolveBackend } from "./select-backend.ts";
import type {
  BackendName,
  Credentials,
  CredentialStore,
  FileStoreOptions,
  StoreSnapshot,
  StoredCredential,
} from "./types.ts";

/**
 * node:crypto loads on first use: it costs a compiled binary about 4 MB of memory (measured with
 * /usr/bin/time), and \`env\` on a plain file store never needs it.
 */
const nodeCrypto = () => require("node:crypto") as typeof import("node:crypto");

export interface BackendStoreOptions extends FileStoreOptions {
  choice: BackendChoice;
  /**
   * How external backends (the keyring) are opened, on first use; built by the composition root
   * from Deps. Without it they see an empty environment, that is, none is available.
   */
  open?: BackendOpenOptions;
  /** Stand-ins for external backends (tests: an in-memory keyring), by backend name. */
  vaults?: Partial<Record<BackendName, SecretVault>>;
  /** AUTHCTL_PASSPHRASE: derive the encryption key from it instead of the key file. */
  passphrase?: string;
  /** Notices for people (a plain-file secret moved, the keyring fell through); go to stderr. */
  notify(message: string): void;
  /** Tests only: called after each durable step of a write, to interrupt it there. */
  checkpoint?(step: string): void;
}

export interface Move {
  id: string;
  from: BackendName;
  to: BackendName;
}

export interface BackendStore extends CredentialStore {
  /**
   * Like read(), but nothing is unsealed: sealed secrets are left out (keyring ones always are).
   * For `status`, which must work without the passphrase or with a damaged sealed value.
   */
  readMetadata(): StoreSnapshot;
  /** Moves every credential to `to`, verifying each write before the source is removed. */
  migrate(to: BackendName): Promise<Move[]>;
  /**
   * Seals the encrypted credentials with the key file or with AUTHCTL_PASSPHRASE instead of what
   * seals them now (`store seal --with …`). Returns how many were re-sealed and what sealed them before.
   */
  reseal(to: "file" | "passphrase"): Promise<{ count: number; before: "file" | "passphrase" | undefined }>;
  /**
   * Throws unless a login could be saved, before any provider is contacted: the store is this
   * user's and writable, and a sealed store's key (key file or AUTHCTL_PASSPHRASE) opens it, or a
   * passphrase that would seal it first is strong enough. Writes nothing.
   */
  assertWritable(): void;
  /** `store reset`: moves the store aside (it is not read: it may not open) and returns its new name. */
  reset(now: Date): Promise<string | undefined>;
}

/** How a document's records are read: its format, generation, and whether it has a key at all. */
interface DocumentInfo {
  format: 1 | 2;
  generation: number;
  /** A key seals something here: format 2 always; format 1 when key fields or sealed values are present. */
  keyed: boolean;
}

function missingItem(id: string): KeyringItemError {
  return new KeyringItemError(
    "missing",
    id,
    `credentials.toml says ${id}'s secrets are in the keyring, but the keyring has no item authctl/${id}`,
    { hint: `run 'authctl login ${id}' to store it again` },
  );
}

function foreignItem(id: string, owner: string): KeyringItemError {
  return new KeyringItemError(
    "foreign",
    id,
    `the keyring item authctl/${id} now holds the ${id} login of the authctl store at ${owner}`,
    {
      hint: `run 'authctl login ${id}' to log in here again (keyring items are shared by every AUTHCTL_HOME of a user; AUTHCTL_STORE=encrypted keeps stores apart)`,
      owner,
    },
  );
}

/** One sealed value does not open with the store's (right) key: that credential alone is lost. */
function isDamagedValue(error: unknown): error is SealedValueError {
  return error instanceof SealedValueError;
}

/** The metadata of a record as stored: sealed values, the keyring marker and the MAC left out. */
function metadataOf(raw: StoredCredential): StoredCredential {
  const copy = withoutSecrets(copyCredential(raw));
  for (const [field, value] of listStrings(copy)) if (isSealed(value)) setSecret(copy, field, undefined);
  const record = copy as unknown as Record<string, unknown>;
  delete record[MAC_FIELD];
  delete record.secret_store;
  return copy;
}

/** The digest of a keyring record's metadata that its item carries (see ITEM_META_FIELD). */
function metaDigest(credential: StoredCredential): string {
  const copy = withoutSecrets(credential) as unknown as Record<string, unknown>;
  delete copy[MAC_FIELD];
  delete copy.secret_store;
  return `sha256:${nodeCrypto()
    .createHash("sha256")
    .update(`authctl:keyring-record\n${canonicalJson(copy as unknown as StoredCredential)}`)
    .digest("base64")}`;
}

function documentInfo(document: CredentialsDocument): DocumentInfo {
  const params = document.preserved as KeyParams;
  const generation = typeof document.preserved.generation === "number" ? document.preserved.generation : 0;
  if (document.version >= 2) return { format: 2, generation, keyed: true };
  const keyed =
    KEY_PARAM_FIELDS.some((name) => params[name] !== undefined) ||
    Object.values(document.credentials).some((raw) => listStrings(raw).some(([, value]) => isSealed(value)));
  return { format: 1, generation: 0, keyed };
}

export function createBackendStore(home: string, options: BackendStoreOptions): BackendStore {
  const file = createStoreFile(home, options);
  const { path } = file;
  const { passphrase, notify } = options;
  const openOptions: BackendOpenOptions = options.open ?? { env: {}, home, notify };
  const vaults: Partial<Record<BackendName, SecretVault>> = { ...options.vaults };
  const vaultFor = (name: BackendName): SecretVault | undefined => {
    const backend = backendFor(name);
    if (backend.kind !== "external") return undefined;
    return (vaults[name] ??= backend.open(openOptions));
  };
  const available: Availability = {
    quick: (backend) => vaultFor(backend.name)?.quickUnavailableReason(),
    probe: async (backend) => vaultFor(backend.name)?.probe(),
  };
  // Until the move protocol below is written against any external backend, the keyring is the one.
  const keyring = {
    get: (id: string) => vaultFor(keyringBackend.name)!.get(id),
    put: (id: string, value: string) => vaultFor(keyringBackend.name)!.put(id, value),
    remove: (id: string) => vaultFor(keyringBackend.name)!.remove(id),
    quickUnavailableReason: () => vaultFor(keyringBackend.name)!.quickUnavailableReason(),
  };
  const checkpoint = options.checkpoint ?? (() => {});

  /**
   * Opens one credential as stored: its MAC verified (format 2), sealed values unsealed, the
   * keyring marker removed (secrets not fetched), its routing fields checked. Anything that does
   * not hold up makes this credential alone unusable (a `damaged` error).
   */
  function alteredRecord(id: string): AuthctlError {
    return unauthenticated(
      path,
      id,
      `does not match its keyring item authctl/${id} (it was altered behind authctl's back)`,
    );
  }

  function openCredential(
    id: string,
    raw: StoredCredential,
    openingKey: () => SealingKey,
    info: DocumentInfo,
    warnings: string[],
  ): { credential: StoredCredential; backend: BackendName } {
    if (info.format >= 2 && !verifyRecordMac(openingKey().macKey, id, info.generation, raw)) {
      const hasMac = typeof (raw as unknown as Record<string, unknown>)[MAC_FIELD] === "string";
      throw unauthenticated(
        path,
        id,
        hasMac
          ? "does not authenticate (it was altered, or put back from another copy of the store)"
          : "is not authenticated (it was added or altered without the store's key)",
      );
    }
    const credential = copyCredential(raw);
    const record = credential as unknown as Record<string, unknown>;
    delete record[MAC_FIELD];
    let backend: BackendName = "file";
    if (record.secret_store === "keyring") {
      delete record.secret_store;
      backend = "keyring";
    } else {
      for (const [field, value] of listStrings(raw)) {
        if (!isSealed(value)) continue;
        backend = "encrypted";
        setSecret(credential, field, openValue(openingKey(), id, field, value, path));
      }
    }
    if (info.format === 1 && info.keyed) openLegacy(id, raw, credential, warnings);
    const problem = findRoutingProblem(credential);
    if (problem) throw unauthenticated(path, id, `has an unusable ${problem[0]} (it ${problem[1]})`);
    return { credential: backend === "keyring" ? withoutSecrets(credential) : credential, backend };
  }

  /**
   * Format 1 of a sealed store authenticated only the sealed values. Reading one, a plaintext value
   * where format 1 sealed one is refused, and the plaintext hosts and endpoints it kept are not
   * trusted: the host only when it is GitHub's own, the revocation endpoint only on the origin of
   * the (sealed) token endpoint, an api_url or resource_url not at all. The next write turns the file into format 2 without them.
   */
  function openLegacy(
    id: string,
    raw: StoredCredential,
    credential: StoredCredential,
    warnings: string[],
  ): void {
    for (const [field, value] of listStrings(raw)) {
      if (isLegacySecretField(field) && !isSealed(value)) {
        throw unauthenticated(path, id, `holds ${field} in clear where this store seals it (it was altered)`);
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

  function keyParams(document: CredentialsDocument): KeyParams {
    return document.preserved as KeyParams;
  }

  // The opening key, kept for as long as the file names the same one: with a passphrase each
  // derivation is a deliberate ~0.1 s of scrypt, and `env a b c` reads the store once per provider.
  let cachedKey: { params: string; key: SealingKey } | undefined;
  function keyOptions(info: DocumentInfo, change?: "file" | "passphrase"): KeyOptions {
    return { home, storePath: path, passphrase, format: info.format, warn: notify, change };
  }
  function openingKeyFor(params: KeyParams, info: DocumentInfo, change?: "file" | "passphrase"): SealingKey {
    const id = JSON.stringify([info.format, change, ...KEY_PARAM_FIELDS.map((name) => params[name])]);
    if (cachedKey?.params !== id)
      cachedKey = { params: id, key: loadOpeningKey(params, keyOptions(info, change)) };
    return cachedKey.key;
  }

  function read(): StoreSnapshot {
    const { document, exists, warnings } = file.readDocument();
    const info = documentInfo(document);
    const openingKey = () => openingKeyFor(keyParams(document), info);
    const credentials: Credentials = Object.create(null);
    const backends: Record<string, BackendName> = Object.create(null);
    const damaged: Record<string, Error> = Object.create(null);
    for (const [id, raw] of Object.entries(document.credentials)) {
      // A damaged value costs that credential only; a wrong or missing key stops everything.
      try {
        const opened = openCredential(id, raw, openingKey, info, warnings);
        credentials[id] = opened.credential;
        backends[id] = opened.backend;
      } catch (error) {
        if (!isDamagedValue(error)) throw error;
        credentials[id] = metadataOf(raw);
        backends[id] = "encrypted";
        damaged[id] = error;
      }
    }
    return {
      credentials,
      backends,
      path,
      exists,
      warnings,
      ...(Object.keys(damaged).length ? { damaged } : {}),
    };
  }

  function readMetadata(): StoreSnapshot {
    const { document, exists, warnings } = file.readDocument();
    const credentials: Credentials = Object.create(null);
    const backends: Record<string, BackendName> = Object.create(null);
    for (const [id, raw] of Object.entries(document.credentials)) {
      const record = raw as unknown as Record<string, unknown>;
      credentials[id] = metadataOf(raw);
      if (record.secret_store === "keyring") backends[id] = "keyring";
      else if (listStrings(raw).some(([, value]) => isSealed(value))) backends[id] = "encrypted";
      else {
        backends[id] = "file";
        credentials[id] = copyCredential(raw);
        delete (credentials[id] as unknown as Record<string, unknown>)[MAC_FIELD];
      }
    }
    return { credentials, backends, path, exists, warnings };
  }

  /** This store's name in the keyring items it writes. */
  const owner = resolve(home);

  /**
   * Puts the keyring item's secrets into `credential`. "missing": the keyring has no such item;
   * `foreign`: another store (another AUTHCTL_HOME) has written its own login there since.
   */
  async function fetchKeyringSecrets(
    id: string,
    credential: StoredCredential,
  ): Promise<"found" | "missing" | "altered" | { foreign: string }> {
    const json = await keyring.get(id);
    if (json === null) return "missing";
    const item = parseSecretsJson(json, id);
    if (item.owner !== undefined && item.owner !== owner) return { foreign: item.owner };
    // Items written before digests were recorded have none: they are checked from their next write on.
    if (item.meta !== undefined && item.meta !== metaDigest(credential)) return "altered";
    mergeSecrets(credential, item.secrets);
    return "found";
  }

  /** One credential with its keyring secrets; a record and item that do not belong together come back as the error. */
  async function readWithSecrets(id: string): Promise<StoredCredential | undefined | AuthctlError> {
    const snapshot = read();
    const credential = snapshot.credentials[id];
    if (snapshot.damaged?.[id]) throw snapshot.damaged[id];
    if (credential && snapshot.backends[id] === "keyring") {
      const found = await fetchKeyringSecrets(id, credential);
      if (found === "missing") return missingItem(id);
      if (found === "altered") return alteredRecord(id);
      if (found !== "found") return foreignItem(id, found.foreign);
    }
    return credential;
  }

  /**
   * The store that wrote the keyring item `id`, when it is not this one and says so. An item that
   * is not authctl's JSON at all names no owner: it may be overwritten (or deleted if listed).
   */
  async function foreignOwnerOf(id: string): Promise<string | undefined> {
    const json = await keyring.get(id);
    if (json === null) return undefined;
    let item: ReturnType<typeof parseSecretsJson>;
    try {
      item = parseSecretsJson(json, id);
    } catch {
      return undefined;
    }
    return item.owner !== undefined && item.owner !== owner ? item.owner : undefined;
  }

  async function write<T>(
    fn: (credentials: Credentials) => T | Promise<T>,
    forceTo?: BackendName,
    change?: "file" | "passphrase",
  ): Promise<{ result: T; moves: Move[]; before?: "file" | "passphrase" }> {
    return file.withLock(async (locked) => {
      const document = locked.document;
      const params = keyParams(document);
      const info = documentInfo(document);
      let opening: SealingKey | undefined;
      const openingKey = () => (opening ??= openingKeyFor(params, info, change));
      const legacyWarnings: string[] = [];
      // Records that do not open or authenticate: kept byte for byte (never re-MACed) unless replaced.
      const damagedIds = new Set<string>();

      const origin: Record<string, BackendName> = Object.create(null);
      // Keyring records whose secrets cannot be had: the keyring did not answer (unreadable), or
      // answered that the item is gone (dangling: a login or logout must still work, Doppler #529).
      // Both are kept as they are unless `fn` replaces or deletes them.
      const unreadable = new Set<string>();
      const dangling = new Set<string>();
      // Records whose keyring item another store has taken over: never deleted from here.
      const foreign = new Set<string>();
      const plain: Credentials = Object.create(null);
      for (const [id, raw] of Object.entries(document.credentials)) {
        let opened: ReturnType<typeof openCredential>;
        try {
          opened = openCredential(id, raw, openingKey, info, legacyWarnings);
        } catch (error) {
          // A damaged sealed value: like a dangling keyring item, it may be replaced (log in
          // again) or deleted, and is kept as it is otherwise. A migration cannot carry it.
          if (forceTo || !isDamagedValue(error)) throw error;
          origin[id] = "encrypted";
          plain[id] = metadataOf(raw);
          dangling.add(id);
          damagedIds.add(id);
          continue;
        }
        const { credential, backend } = opened;
        origin[id] = backend;
        if (backend === "keyring") {
          let found: Awaited<ReturnType<typeof fetchKeyringSecrets>>;
          try {
            found = await fetchKeyringSecrets(id, credential);
          } catch (error) {
            // A migration must move every secret; an ordinary write may leave this one alone.
            if (forceTo) throw error;
            unreadable.add(id);
            found = "found";
          }
          if (found === "altered") {
            // Like a damaged sealed value: kept byte for byte unless replaced or deleted.
            if (forceTo) throw alteredRecord(id);
            dangling.add(id);
            damagedIds.add(id);
          } else if (found !== "found") {
            if (forceTo) throw found === "missing" ? missingItem(id) : foreignItem(id, found.foreign);
            dangling.add(id);
            if (found !== "missing") foreign.add(id);
          }
        }
        plain[id] = credential;
      }
      const before = new Map(Object.entries(plain).map(([id, c]) => [id, canonicalJson(c)]));

      const result = await fn(plain);

      const ids = Object.keys(plain).filter((id) => plain[id] !== undefined);
      const changed = new Set(ids.filter((id) => canonicalJson(plain[id]) !== before.get(id)));
      for (const id of dangling) {
        if (!changed.has(id)) unreadable.add(id);
        // Replacing (a new login) is the way out; a change that keeps the lost secret lost is not.
        else if (listSecrets(plain[id]!).length === 0) {
          throw new AuthctlError("STORE_IO", `cannot change ${id}: its stored secret cannot be read`, {
            hint: `run 'authctl login ${id}' to store it again`,
          });
        }
      }
      for (const id of unreadable) {
        // Deleting is allowed: the item goes on keyring_cleanup, deleted once the keyring answers.
        if (changed.has(id)) {
          throw new AuthctlError(
            "STORE_IO",
            `cannot change ${id}: its secrets are in the keyring, which is not available`,
            {
              hint: "unlock the keyring (or start a D-Bus session) and run the command again",
            },
          );
        }
      }
      const hasPlainFile = ids.some((id) => origin[id] === "file" && listSecrets(plain[id]!).length > 0);
      let target: BackendName | undefined = forceTo;
      let fellThrough: { backend: BackendName; reason: string } | undefined;
      if (!target && (changed.size > 0 || (hasPlainFile && options.choice.backend !== "file"))) {
        const resolved = await resolveBackend(options.choice, available);
        target = resolved.backend;
        fellThrough = resolved.fellThrough;
      }

      const dest: Record<string, BackendName> = Object.create(null);
      const moves: Move[] = [];
      for (const id of ids) {
        const from = origin[id];
        let to: BackendName = from ?? target!;
        if (unreadable.has(id)) to = from!;
        else if (forceTo || changed.has(id)) to = target!;
        else if (from === "file" && target && target !== "file" && listSecrets(plain[id]!).length > 0) {
          to = target;
          notify(`moved ${id}'s secret from the plain file to ${backendFor(target).label}`);
        }
        dest[id] = to;
        if (from && from !== to) moves.push({ id, from, to });
      }

      // 1. Keyring items first, each read back: the file still points at the old place meanwhile.
      for (const id of ids) {
        if (dest[id] !== "keyring" || unreadable.has(id)) continue;
        if (origin[id] === "keyring" && !changed.has(id) && !forceTo) continue;
        // An item this store does not own yet may hold another store's login: say so, not silently.
        if (origin[id] !== "keyring" || dangling.has(id)) {
          const other = await foreignOwnerOf(id);
          if (other)
            notify(
              `replaced the keyring item authctl/${id}, which held the ${id} login of the authctl store at ${other} (it will ask to log in again)`,
            );
        }
        const json = secretsJson(plain[id]!, owner, metaDigest(plain[id]!));
        await keyring.put(id, json);
        if ((await keyring.get(id)) !== json) {
          throw new AuthctlError(
            "STORE_IO",
            `the keyring did not return what was stored for ${id}; nothing was moved`,
          );
        }
        checkpoint(`keyring-set:${id}`);
      }

      // 2. The new file.
      const needsSealing = ids.some((id) => dest[id] === "encrypted");
      if (needsSealing && info.keyed) openingKey();
      const sealing = needsSealing ? loadSealingKey(params, keyOptions(info, change), opening) : undefined;
      const next: CredentialsDocument = {
        version: sealing ? 2 : 1,
        credentials: Object.create(null),
        preserved: { ...document.preserved },
      };
      const preserved = next.preserved as Record<string, unknown>;
      for (const id of ids) {
        const credential = plain[id]!;
        if (unreadable.has(id) && damagedIds.has(id)) {
          next.credentials[id] = document.credentials[id]!;
        } else if (unreadable.has(id) || dest[id] === "keyring") {
          // An unreadable keyring record is unchanged (see above): its metadata is all it has here.
          next.credentials[id] = {
            ...withoutSecrets(credential),
            secret_store: "keyring",
          } as StoredCredential;
        } else if (dest[id] === "encrypted") {
          const raw = document.credentials[id];
          const sealed = copyCredential(credential);
          const reuse =
            origin[id] === "encrypted" &&
            !dangling.has(id) &&
            opening !== undefined &&
            sealing!.key.equals(opening.key);
          const original = reuse && raw ? new Map(listSecrets(raw)) : undefined;
          const openedBefore =
            reuse && raw
              ? new Map(listSecrets(openCredential(id, raw, openingKey, info, []).credential))
              : undefined;
          for (const [field, value] of listSecrets(credential)) {
            // An unchanged value keeps its sealed text, so a no-op update does not rewrite the file.
            const old = original?.get(field);
            setSecret(
              sealed,
              field,
              old && openedBefore?.get(field) === value ? old : sealValue(sealing!, id, field, value),
            );
          }
          next.credentials[id] = sealed;
        } else {
          next.credentials[id] = credential;
        }
      }
      for (const name of KEY_PARAM_FIELDS) delete preserved[name];
      if (sealing) Object.assign(preserved, sealing.params);
      const cleanup = new Set(
        Array.isArray(preserved.keyring_cleanup)
          ? ((preserved.keyring_cleanup as unknown[]).filter((v) => typeof v === "string") as string[])
          : [],
      );
      for (const [id, from] of Object.entries(origin)) {
        if (from === "keyring" && dest[id] !== "keyring" && !foreign.has(id)) cleanup.add(id);
      }
      for (const id of ids) if (dest[id] === "keyring") cleanup.delete(id);
      if (cleanup.size) preserved.keyring_cleanup = [...cleanup].sort();
      else delete preserved.keyring_cleanup;
      // Format 2: every record the store can vouch for gets a MAC bound to the generation, which
      // grows only when the file really changes (an unchanged store is not rewritten).
      delete preserved.generation;
      if (sealing) {
        const vouched = ids.filter((id) => !damagedIds.has(id) || !unreadable.has(id));
        const seal = (generation: number) => {
          preserved.generation = generation;
          for (const id of vouched) {
            const { [MAC_FIELD]: _old, ...record } = next.credentials[id] as unknown as Record<
              string,
              unknown
            >;
            const body = record as unknown as StoredCredential;
            next.credentials[id] = {
              ...body,
              [MAC_FIELD]: recordMac(sealing.macKey, id, generation, body),
            } as StoredCredential;
          }
        };
        seal(info.generation);
        if (!locked.unchanged(next)) seal(info.generation + 1);
      }
      for (const warning of legacyWarnings) notify(warning);
      if (fellThrough && preserved.keyring_notice !== true) {
        notify(
          `${backendFor(fellThrough.backend).label} is not available (${fellThrough.reason}): secrets go to ${backendFor(target!).label} ${path} instead`,
        );
        preserved.keyring_notice = true;
      }
      locked.write(next);
      checkpoint("file-written");

      // 3. Read back what now points away from the keyring before any keyring item goes.
      if (moves.length > 0) {
        const check = read();
        for (const id of ids) {
          if (dest[id] === "keyring" || unreadable.has(id)) continue;
          if (canonicalJson(check.credentials[id]) !== canonicalJson(plain[id])) {
            throw new AuthctlError(
              "INTERNAL",
              `${id} did not read back from ${path} as written; its keyring item is kept`,
            );
          }
        }
      }

      // 4. Keyring items nobody needs any more. One that cannot be deleted now stays listed for the next write.
      if (cleanup.size > 0 && keyring.quickUnavailableReason() === undefined) {
        const left = new Set(cleanup);
        for (const id of cleanup) {
          try {
            // Listed by this store, but another may have logged in there since.
            if (!(await foreignOwnerOf(id))) await keyring.remove(id);
            left.delete(id);
          } catch {
            // Kept in keyring_cleanup: the secret is stored elsewhere already.
          }
          checkpoint(`keyring-deleted:${id}`);
        }
        if (left.size) preserved.keyring_cleanup = [...left].sort();
        else delete preserved.keyring_cleanup;
        locked.write(next);
        checkpoint("cleanup-written");
      }
      return { result, moves, before: opening?.source };
    });
  }

  return {
    path,
    get backend() {
      return guessBackend(options.choice, available);
    },
    read,
    readMetadata,
    async readSecrets(id) {
      // Lock-free, as `env` and `token` must be. But a writer sets the keyring item before it
      // writes the file (see write()), and deletes it after: a read in between pairs the old
      // record with the new item (it looks altered) or with no item (missing). Writers hold the
      // store lock throughout, so a read that does not hold up is repeated under the lock, where
      // only a real mismatch remains.
      const first = await readWithSecrets(id);
      if (!(first instanceof AuthctlError)) return first;
      let locked = false;
      let again: Awaited<ReturnType<typeof readWithSecrets>>;
      try {
        again = await file.withLock(() => {
          locked = true;
          return readWithSecrets(id);
        });
      } catch (error) {
        // No lock to be had (a read-only AUTHCTL_HOME): the first answer stands.
        if (!locked) throw first;
        throw error;
      }
      if (again instanceof AuthctlError) throw again;
      return again;
    },
    async update(fn) {
      return (await write(fn)).result;
    },
    async migrate(to) {
      // Asked for explicitly, so no fall-through: a keyring that cannot take items (locked, no
      // default collection, no bus) is reported before anything is touched.
      const target = backendFor(to);
      const reason = available.quick(target) ?? (await available.probe(target));
      if (reason) {
        throw new AuthctlError(
          "STORE_IO",
          `${target.label} is not available (${reason}): nothing was moved`,
          {
            hint: `${target.unavailableHint ?? "make it available"}, then run the migration again`,
          },
        );
      }
      return (await write(() => undefined, to)).moves;
    },
    assertWritable() {
      file.assertWritable();
      const { document } = file.readDocument();
      const info = documentInfo(document);
      if (info.keyed) openingKeyFor(keyParams(document), info);
      else if (passphrase && backendFor(guessBackend(options.choice, available)).usesStoreKey)
        checkPassphraseStrength(passphrase);
    },
    reset(now) {
      return file.moveAside(now);
    },
    async reseal(to) {
      const { document } = file.readDocument();
      const info = documentInfo(document);
      const before = info.keyed ? (keyParams(document).key_source ?? "file") : undefined;
      if (before === to) return { count: 0, before };
      await write(() => undefined, undefined, to);
      const count = Object.values(readMetadata().backends).filter(
        // A local store's snapshot names only local backends (never the team store).
        (backend) => backendFor(backend as BackendName).usesStoreKey,
      ).length;
      return { count, before };
    },
  };
}
