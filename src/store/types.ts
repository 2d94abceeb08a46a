/**
 * The credential store's data model and the interface the store implements (backend-store.ts,
 * with the backends of backend.ts; the team store on etcd).
 */
import type { BackendName, StoreName } from "./backends.ts";
import type { StoreEffects } from "./effects.ts";

export interface StoredCredential {
  /** How the credential was obtained: "key", "oauth", "device", … (provider-defined). */
  method: string;
  type: "api_key" | "oauth";
  /** The API key, for `type = "api_key"`. */
  key?: string;
  access_token?: string;
  refresh_token?: string;
  id_token?: string;
  token_type?: string;
  scope?: string;
  /** Epoch ms: the server's real expiry. The refresh margin is applied when reading, never here. */
  expires_at?: number;
  /** Epoch ms. */
  obtained_at?: number;
  /** Epoch ms: when a refresh last brought a new refresh token (the server rotates them). */
  rotated_at?: number;
  account?: string;
  label?: string;
  /**
   * This account is its provider's default (store/accounts.ts). Written only when a provider has
   * more than one account; absent, the account `default` (else the first by name) is the default.
   */
  default?: boolean;
  /** Set when a refresh was rejected; the secret is kept so that `status` can still show it. */
  needs_login?: boolean;
  /** Provider-specific fields (account ids, hosts, …). */
  extra?: Record<string, string>;
  /** Epoch ms. */
  created_at: number;
  /** Epoch ms. */
  updated_at: number;
}

/**
 * Keyed by provider id. The file store hands out objects without a prototype, so that a lookup
 * such as `credentials["constructor"]` finds nothing rather than `Object.prototype.constructor`.
 * Fields a newer authctl wrote and this one does not know ride along on each credential object
 * and are written back unchanged.
 */
export type Credentials = Record<string, StoredCredential>;

/** Where a credential's secret fields live (see backend.ts). Metadata always stays in credentials.toml. */
export type { BackendName };
/**
 * Where a store keeps everything: the local store (credentials.toml with one of the backends), or
 * a whole store (kind "store" in backends.ts: the team store on etcd), which holds whole records.
 */
export type { StoreName };

export interface StoreSnapshot {
  /**
   * Metadata and secrets. A credential whose secrets live in the keyring carries only its
   * metadata here (no key or tokens): `readSecrets(id)` fetches them.
   */
  credentials: Credentials;
  /** Per credential, where its secret fields live. */
  backends: Record<string, StoreName>;
  path: string;
  /** False when there is no store yet (nothing was ever saved). */
  exists: boolean;
  /** Human-readable problems that do not stop the command (loose file modes); the caller prints them. */
  warnings: string[];
  /**
   * Credentials with a sealed value that does not open (altered or damaged): listed in
   * `credentials` with their metadata only, and this error is what using them gives.
   */
  damaged?: Record<string, Error>;
}

/** The lock update() holds while fn runs, where it can lapse (the team store's lease; see store/etcd/_lock.ts). */
export interface HeldLock {
  /**
   * Right before a request that spends something (a refresh token): confirms the lock is still
   * held and will be for a while. When it is not, throws, and update() runs fn again under the
   * lock taken anew: the request is not sent.
   */
  confirm(): Promise<void>;
}

export interface CredentialStore {
  readonly path: string;
  /**
   * The backend new and changed credentials go to. For automatic selection this is the likely
   * choice, found without calling the keyring; the write itself decides for certain.
   */
  readonly backend: StoreName;
  /** Lock-free read for the hot path. Missing file → empty. Unparseable → throws STORE_CORRUPT naming path and line. */
  read(): StoreSnapshot;
  /**
   * Cross-process locked read-modify-write: takes the lock, re-reads, calls fn with a mutable
   * copy, and if fn changed anything writes atomically; returns fn's result. fn may be async (a
   * token refresh happens inside it). When fn throws, nothing is written.
   */
  update<T>(fn: (credentials: Credentials, lock?: HeldLock) => T | Promise<T>): Promise<T>;
  /**
   * The credential with its secrets, fetching them from the keyring when they live there (bounded
   * by a timeout). Undefined when nothing is stored for `id`. `snapshot`: a read() the caller
   * already has, so that one command parses the file once (the read is repeated under the lock
   * only when the record and its item do not match).
   */
  readSecrets(id: string, snapshot?: StoreSnapshot): Promise<StoredCredential | undefined>;
  /** A store read over the network (the team store on etcd) reads once here, before read() is used. */
  open?(): Promise<void>;
}

export interface FileStoreOptions {
  /** How long update() waits for another process's lock before STORE_LOCKED. Default 15000. */
  lockTimeoutMs?: number;
  /**
   * A lock whose holder has not touched it for this long is broken even when the holder cannot be
   * proven dead (another host, or a reused pid). Holders touch the lock while they work, so this
   * must only exceed the heartbeat interval (a quarter of it) by a margin. Default 120000.
   */
  staleLockMs?: number;
  /** The lock's clock, pid, host, liveness probe and exit hook (see effects.ts); the real ones by default. */
  effects?: StoreEffects;
}
