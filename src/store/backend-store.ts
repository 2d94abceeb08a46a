/**
 * The credential store with its backends behind one interface (see backend.ts). credentials.toml
 * is always the index and always holds the metadata (provider, method, expiry, label, account), so
 * `status` reads it without unsealing or calling anything; where the secret fields live is per
 * credential: in clear in the file, sealed in place, or in an external backend's item (the
 * keyring), the record then keeping `secret_store = "<backend>"`.
 *
 * This file is the index and the lock (through file-store.ts); a write is the move protocol of
 * _move.ts (plan, apply, verify, clean up); one record is read by _records.ts.
 */
import { join, resolve } from "../lazy-path.ts";
import { AuthctlError } from "../errors.ts";
import { MAC_FIELD } from "./_integrity.ts";
import {
  alteredRecord,
  documentInfo,
  foreignItem,
  metadataOf,
  missingItem,
  openRecords,
} from "./_records.ts";
import {
  buildDocument,
  cleanUpItems,
  fetchExternalSecrets,
  loadRecords,
  type Move,
  type MoveContext,
  noticeWrite,
  planWrite,
  putExternalItems,
  verifyReadBack,
} from "./_move.ts";
import { copyCredential } from "./_secret-fields.ts";
import type { BackendOpenOptions, ExternalBackend, SecretVault } from "./backend.ts";
import { backendFor, backendOfRecord, isBackendName } from "./backends.ts";
import type { CredentialsDocument } from "./credentials-file.ts";
import type { KeyOptions, SealingKey } from "./encrypted.ts";
import { KEY_FILE, KEY_FILE_BYTES, KEY_PARAM_FIELDS, type KeyParams } from "./sealed.ts";

/**
 * The sealing code (encrypted.ts: AES-GCM, scrypt, the key file) loads when a store has a key or
 * sealed values: the plain file store's `env`, `token` and `exec` never do (see sealed.ts).
 */
const encrypted = () => require("./encrypted.ts") as typeof import("./encrypted.ts");
import { readKeyQuickly, turnAhead } from "./quick-read.ts";
import { openKeyFileAhead } from "./sealed-read.ts";
import { createStoreFile, type StoreFileRead } from "./file-store.ts";
import { type Availability, type BackendChoice, guessBackend } from "./select-backend.ts";
import type {
  BackendName,
  Credentials,
  CredentialStore,
  FileStoreOptions,
  StoreSnapshot,
  StoredCredential,
} from "./types.ts";

export type { Move };

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

export interface BackendStore extends CredentialStore {
  /**
   * Like read(), but nothing is unsealed: sealed secrets are left out (keyring ones always are).
   * For `status`, which must work without the passphrase or with a damaged sealed value.
   */
  readMetadata(): StoreSnapshot;
  /**
   * read(), for `env`, `token` and `exec`: the file is read through Bun's file API in the usual
   * case, without loading node:fs (store/quick-read.ts). Same answer, same errors. Stores without
   * a file (the team store) leave it out: resolve.ts then calls read().
   */
  readQuickly?(): Promise<StoreSnapshot>;
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

export function createBackendStore(home: string, options: BackendStoreOptions): BackendStore {
  const file = createStoreFile(home, options);
  const { path } = file;
  const { passphrase, notify } = options;
  const checkpoint = options.checkpoint ?? (() => {});
  /** This store's name in the items it writes to a backend shared by stores. */
  const owner = resolve(home);

  const openOptions: BackendOpenOptions = options.open ?? { env: {}, home, notify };
  const vaults: Partial<Record<BackendName, SecretVault>> = { ...options.vaults };
  // Opened on first use: `env` on a file store never builds the keyring's reader.
  const vaultFor = (backend: ExternalBackend<BackendName>): SecretVault =>
    (vaults[backend.name] ??= backend.open(openOptions));
  const available: Availability = {
    quick: (backend) =>
      backend.kind === "external" ? vaultFor(backend).quickUnavailableReason() : undefined,
    probe: async (backend) => (backend.kind === "external" ? vaultFor(backend).probe() : undefined),
  };

  const keyParams = (document: CredentialsDocument) => document.preserved as KeyParams;
  const keyOptions = (format: 1 | 2, change?: "file" | "passphrase", keyFile?: Buffer): KeyOptions => ({
    home,
    storePath: path,
    passphrase,
    format,
    warn: notify,
    change,
    keyFile,
  });
  // The opening key, kept for as long as the file names the same one: with a passphrase each
  // derivation is a deliberate ~0.1 s of scrypt, and `env a b c` reads the store once per provider.
  let cachedKey: { params: string; key: SealingKey } | undefined;
  function openingKeyFor(
    params: KeyParams,
    format: 1 | 2,
    change?: "file" | "passphrase",
    keyFile?: Buffer,
  ): SealingKey {
    const id = JSON.stringify([format, change, ...KEY_PARAM_FIELDS.map((name) => params[name])]);
    if (cachedKey?.params !== id)
      cachedKey = {
        params: id,
        key: encrypted().loadOpeningKey(params, keyOptions(format, change, keyFile)),
      };
    return cachedKey.key;
  }

  function read(): StoreSnapshot {
    return snapshotOf(file.readDocument());
  }

  /**
   * For the quick read of a store sealed with the key file: the key file read through Bun's file
   * API and every value the read will open opened ahead with crypto.subtle (encrypted.ts
   * openStoreAhead), so `env`, `token` and `exec` load neither node:fs nor node:crypto (about 5
   * and 8 MiB of memory in a compiled binary; issue 18). Returns the key file's bytes for
   * snapshotOf, or undefined where the read goes the usual way: nothing sealed, a passphrase (its
   * scrypt is node:crypto's), AUTHCTL_PASSPHRASE set (a mismatch to report), anything unusual
   * about the key file (read, refused or repaired by readKeyFile, with its messages).
   */
  async function openAhead(document: CredentialsDocument): Promise<Buffer | undefined> {
    return openKeyFileAhead(home, document, passphrase, readKeyQuickly);
  }

  function snapshotOf({ document, exists, warnings }: StoreFileRead, keyFile?: Buffer): StoreSnapshot {
    const info = documentInfo(document);
    const openingKey = () => openingKeyFor(keyParams(document), info.format, undefined, keyFile);
    const { credentials, backends, damaged } = openRecords(path, document, openingKey, info, warnings);
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
      const backend = backendOfRecord(raw);
      backends[id] = backend.name;
      if (backend.kind === "index" && backend.inClear) {
        credentials[id] = copyCredential(raw);
        delete (credentials[id] as unknown as Record<string, unknown>)[MAC_FIELD];
      } else credentials[id] = metadataOf(raw);
    }
    return { credentials, backends, path, exists, warnings };
  }

  /** One credential with its external secrets; a record and item that do not belong together come back as the error. */
  async function readWithSecrets(
    id: string,
    snapshot: StoreSnapshot,
  ): Promise<StoredCredential | undefined | AuthctlError> {
    if (snapshot.damaged?.[id]) throw snapshot.damaged[id];
    const credential = snapshot.credentials[id];
    const name = snapshot.backends[id];
    const backend = credential && isBackendName(name) ? backendFor(name) : undefined;
    if (!credential || backend?.kind !== "external") return credential;
    // A copy: the snapshot stays as read (its caller may hand it to the next read).
    const withSecrets = copyCredential(credential);
    const found = await fetchExternalSecrets({ owner, vaultFor }, backend, id, withSecrets);
    if (found === "missing") return missingItem(backend, id);
    if (found === "altered") return alteredRecord(path, backend, id);
    if (found !== "found") return foreignItem(backend, id, found.foreign);
    return withSecrets;
  }

  /** The locked write: load, the caller's change, plan, apply, verify, clean up (see _move.ts). */
  async function write<T>(
    fn: (credentials: Credentials) => T | Promise<T>,
    forceTo?: BackendName,
    change?: "file" | "passphrase",
  ): Promise<{ result: T; moves: Move[]; before?: "file" | "passphrase" }> {
    return file.withLock(async (locked) => {
      const { document } = locked;
      const info = documentInfo(document);
      let opening: SealingKey | undefined;
      const ctx: MoveContext = {
        path,
        owner,
        choice: options.choice,
        available,
        vaultFor,
        notify,
        checkpoint,
        openingKey: () => (opening ??= openingKeyFor(keyParams(document), info.format, change)),
        openedKey: () => opening,
        sealingKey: () =>
          encrypted().loadSealingKey(keyParams(document), keyOptions(info.format, change), opening),
        read,
      };
      const loaded = await loadRecords(ctx, document, info, forceTo);
      const result = await fn(loaded.plain);
      const plan = await planWrite(ctx, loaded, forceTo);
      await putExternalItems(ctx, loaded, plan, forceTo);
      const next = buildDocument(ctx, loaded, plan, locked);
      noticeWrite(ctx, loaded, plan, next);
      locked.write(next);
      checkpoint("file-written");
      try {
        verifyReadBack(ctx, loaded, plan);
      } catch (error) {
        // The new file already lists the old items for deletion: the next write would delete
        // what is now the only good copy. Put back the file it replaced, which points at them.
        locked.write(document);
        throw error;
      }
      await cleanUpItems(ctx, next, locked);
      return { result, moves: plan.moves, before: opening?.source };
    });
  }

  return {
    path,
    get backend() {
      return guessBackend(options.choice, available);
    },
    read,
    readQuickly: async () => {
      const read = await file.readDocumentQuickly();
      // The keyring's answers to what went out while the file was parsed (quick-read.ts turnAhead).
      await turnAhead();
      return snapshotOf(read, await openAhead(read.document));
    },
    readMetadata,
    async readSecrets(id, snapshot) {
      // Lock-free, as `env` and `token` must be. But a writer sets an external item before it
      // writes the file (see _move.ts), and deletes it after: a read in between pairs the old
      // record with the new item (it looks altered) or with no item (missing). Writers hold the
      // store lock throughout, so a read that does not hold up is repeated under the lock, on a
      // fresh read of the file, where only a real mismatch remains.
      const first = await readWithSecrets(id, snapshot ?? read());
      if (!(first instanceof AuthctlError)) return first;
      let locked = false;
      let again: Awaited<ReturnType<typeof readWithSecrets>>;
      try {
        again = await file.withLock(() => {
          locked = true;
          return readWithSecrets(id, read());
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
      if (info.keyed) openingKeyFor(keyParams(document), info.format);
      else if (passphrase && backendFor(guessBackend(options.choice, available)).usesStoreKey)
        encrypted().checkPassphraseStrength(passphrase);
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
