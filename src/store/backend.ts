/**
 * A storage backend: where a credential's secret fields (key, tokens, `extra` secrets) live.
 * credentials.toml is always the index and always holds the metadata (provider, method, expiry,
 * account, endpoints), so `status` lists every credential without unsealing or calling anything;
 * the backend decides only where the secrets go. Model: 99designs/keyring's `Keyring` interface
 * plus its table of openers.
 *
 * Adding a backend is one file that exports a `StorageBackend` and one line in `BACKENDS`
 * (backends.ts). Nothing outside the backend files compares backend names: callers ask the object
 * (`backendFor(name).asyncReads`, `.label`, `.describeLocation(path)`).
 *
 * Three kinds:
 *  - `index`: the secrets stay in credentials.toml, in clear (`file`) or sealed (`encrypted`).
 *    They are read and written with the index itself, atomically (temp file, fsync, rename, under
 *    the store's lock: backend-store.ts does that), so such a backend only says how a record's
 *    secret fields are recognised, opened and sealed.
 *  - `external`: the secrets live elsewhere (the OS keyring; a team store), one item per
 *    credential id holding JSON (see `secretsJson` in _secret-fields.ts), and the record in
 *    credentials.toml carries `secret_store = "<name>"` instead of the secrets.
 *  - `store`: a whole store (the team store on etcd): it holds every record, metadata included, so
 *    choosing it (`store = "<name>"`) replaces credentials.toml as the index altogether. Such a
 *    backend only describes itself and opens the store (`openStore`), loading its code then, so
 *    the other stores never pay for it. It is never chosen automatically (no `autoRank`).
 *
 * The contract an external backend's `SecretVault` must meet:
 *  - **Atomic items.** `put(id, value)` replaces the whole item or leaves the old one; a `get`
 *    after a `put` that resolved returns exactly `value` (the store reads every write back before
 *    the index stops pointing at the old place, and deletes the old place only after that).
 *  - **Ids.** `id` is the credential's key in the index: a provider id today, `<provider>@<account>`
 *    once accounts exist. Two ids never share an item.
 *  - **Absent is an answer, not a guess.** `get(id, { expected: true })` (the index lists the
 *    item) resolves `null` only when the item is certainly not there; a vault that cannot tell
 *    (locked, not reachable, a fast path that may miss) must ask its slower path or reject, never
 *    answer `null` (the store turns `null` into "log in again"). Without `expected` (is the id
 *    free?), a fast "absent" may stand.
 *  - **Bounded.** Every call gives up after a timeout (the keyring: 2 s) and rejects with an
 *    `AuthctlError` (`STORE_IO` or `TIMEOUT`, one line, a hint naming what to do): `env` runs in
 *    every shell start-up and must never hang.
 *  - **Errors.** Never a secret in a message. Unavailability is reported by
 *    `quickUnavailableReason()` (no I/O: an env check) and `probe()` (one bounded call) as a short
 *    reason ("no D-Bus session bus"), which the store puts in its own messages.
 *  - **Async reads.** `asyncReads: true` says a secret costs a call the hot path (`env`, `token`,
 *    `exec`) must await, so those commands start every needed read at once (over one
 *    connection where possible) and the vault should keep that cheap: no heavy module loaded at
 *    import time (`await import()` on first use), no per-read connection where one can be shared.
 *    Index backends have `asyncReads: false`: the snapshot already holds the secrets.
 */
import type { Env } from "../deps.ts";
import type { BackendStore } from "./backend-store.ts";
import type { SealingKey } from "./encrypted.ts";
import type { StoredCredential } from "./types.ts";

/** What a backend is opened with: built by the composition root from Deps, nothing global. */
export interface BackendOpenOptions {
  env: Env;
  home: string;
  /** A notice for people (stderr), such as "unlock the keyring in its dialog". */
  notify(message: string): void;
  /**
   * How long a read may wait for a person (an unlock dialog); undefined when nobody can answer.
   * May be a getter: it is read only when a wait would happen.
   */
  readonly unlockWaitMs?: number;
}

/** An opened external backend: one item per credential id. See the contract above. */
export interface SecretVault {
  /** Why it cannot be used, found without calling it; undefined when it may work. */
  quickUnavailableReason(): string | undefined;
  /** Why it cannot be used (one bounded call); undefined when it works. */
  probe(): Promise<string | undefined>;
  /**
   * The item's value; null when there is no item. `expected`: the index lists this item, so a
   * fast path that cannot find it must ask the slower, authoritative one before answering null
   * (the store turns that null into "log in again").
   */
  get(id: string, options?: { expected?: boolean }): Promise<string | null>;
  /** Creates or replaces the item, whole. */
  put(id: string, value: string): Promise<void>;
  /** Deletes the item; false when there was none. */
  remove(id: string): Promise<boolean>;
}

interface BackendCommon<Name extends string> {
  /** The id in AUTHCTL_STORE, `store = "…"`, `store migrate --to`, `status --json` and the index. */
  readonly name: Name;
  /** For sentences: "the keyring", "the encrypted file", "the plain file". */
  readonly label: string;
  /** For `status`: where a credential's secret is ("in the keyring (service authctl)"). */
  describeLocation(storePath: string): string;
  /** For `status` when the secret is not in the snapshot: "(secret in the keyring)". */
  readonly unreadSecret: string;
  /** Reading a secret is an awaited call that the hot path should start early (see above). */
  readonly asyncReads: boolean;
  /** Secrets sit in clear on disk: `store migrate` there says so. */
  readonly inClear: boolean;
  /** Sealed with the store's key file or passphrase: while none uses it, the key file seals nothing. */
  readonly usesStoreKey: boolean;
  /**
   * Chosen without being asked when nothing (AUTHCTL_STORE, `store` in config.toml) chooses:
   * lower first; undefined for never (the plain file is used only when asked for).
   */
  readonly autoRank?: number;
  /** What to do when `probe()` says it is unavailable ("unlock the keyring or start a D-Bus session"). */
  readonly unavailableHint?: string;
}

/** The keys an index backend opens and seals a record with (the store loads them lazily). */
export interface RecordKeys {
  /** The key that opens this store's sealed values; throws when it is missing or wrong. */
  opening(): SealingKey;
  storePath: string;
}

/** Secrets kept in credentials.toml itself. */
export interface IndexBackend<Name extends string = string> extends BackendCommon<Name> {
  readonly kind: "index";
  /** Whether a raw record (as parsed from the file) keeps its secrets this way. */
  holds(raw: StoredCredential): boolean;
  /** The record with its secrets opened (a copy). Throws a `damaged` error for a value that does not open. */
  openRecord(id: string, raw: StoredCredential, keys: RecordKeys): StoredCredential;
  /** Whether sealing needs the store's sealing key (loaded under the lock). */
  readonly seals: boolean;
  /**
   * The record as it goes into the file. `previous` is the raw record and what it opened to, when
   * it was held the same way under the same key: an unchanged value keeps its sealed text, so a
   * no-op update does not rewrite the file.
   */
  sealRecord(
    id: string,
    credential: StoredCredential,
    sealing: SealingKey | undefined,
    previous?: { raw: StoredCredential; opened: StoredCredential },
  ): StoredCredential;
}

/** Secrets kept outside credentials.toml, one item per credential id. */
export interface ExternalBackend<Name extends string = string> extends BackendCommon<Name> {
  readonly kind: "external";
  /** How people find the item: "authctl/openrouter" (keyring service/account). */
  itemName(id: string): string;
  /**
   * Set when one item serves every store of the user (the keyring: items are per user, stores per
   * AUTHCTL_HOME): each item then names the store that wrote it, one that another store wrote since
   * is neither used nor deleted here, and this says how to keep stores apart. Unset for a backend
   * whose items belong to one store (or are meant to be shared by many, as a team store's are).
   */
  readonly sharedByStores?: string;
  open(options: BackendOpenOptions): SecretVault;
  /**
   * For the usual case of `env`, `token` and `exec` (actions/usual-case.ts): these records (id and
   * metadata, as openRecord gives them) with their secrets, from reads started with the process and
   * merged as the store's read merges them; undefined wherever the store's read must answer (it
   * then takes the same reads, without waiting a second timeout on them). A backend without it is
   * always the store's to read.
   */
  readAhead?(
    env: Env,
    home: string,
    records: Array<[id: string, credential: StoredCredential]>,
  ): Promise<StoredCredential[] | undefined>;
}

/** What a whole store is opened with: built by the composition root from Deps and config.toml. */
export interface StoreOpenOptions {
  env: Env;
  /** AUTHCTL_HOME: what this machine remembers of the store (the team store's newest generation seen). */
  home: string;
  /** The `[<name>]` table of config.toml (validated by config/config.ts); undefined when there is none. */
  settings: unknown;
  /** config.toml, for messages ("add [etcd] to …"). */
  configPath: string;
  fetch: typeof fetch;
  /** The lock's owner, read only when a write takes it: a getter, since os.hostname() loads node:os. */
  hostname: string;
  lockTimeoutMs: number;
  /** A notice for people (stderr). */
  notify(message: string): void;
}

/** A store of its own (metadata and secrets), chosen instead of credentials.toml. */
export interface WholeStoreBackend<Name extends string = string> extends BackendCommon<Name> {
  readonly kind: "store";
  /** The store, its module loaded only now (require()): the hot path of the local store never loads it. */
  openStore(options: StoreOpenOptions): BackendStore;
}

/** A backend of the local store (credentials.toml): where one credential's secrets live. */
export type StorageBackend<Name extends string = string> = IndexBackend<Name> | ExternalBackend<Name>;

/** Anything `BACKENDS` registers: a backend of the local store, or a whole store. */
export type RegisteredBackend<Name extends string = string> = StorageBackend<Name> | WholeStoreBackend<Name>;

/** The marker an external backend's record carries in credentials.toml instead of its secrets. */
export const SECRET_STORE_FIELD = "secret_store";
