/**
 * Every storage backend, by name: adding one is its own file and one line here. Callers never
 * compare names; they ask the object (see backend.ts for the contract).
 */
import { AuthctlError } from "../errors.ts";
import {
  SECRET_STORE_FIELD,
  type IndexBackend,
  type RegisteredBackend,
  type StorageBackend,
  type WholeStoreBackend,
} from "./backend.ts";
import { encryptedBackend } from "./encrypted-backend.ts";
import { etcdBackend } from "./etcd-backend.ts";
import { fileBackend } from "./file-backend.ts";
import { keyringBackend } from "./keyring-backend.ts";
import type { StoredCredential } from "./types.ts";

/** In the order people read them in messages ("keyring, encrypted, file or etcd"). */
export const BACKENDS = {
  keyring: keyringBackend,
  encrypted: encryptedBackend,
  file: fileBackend,
  etcd: etcdBackend,
} as const satisfies Record<string, RegisteredBackend>;

type Registry = typeof BACKENDS;
/** Every registered name: what AUTHCTL_STORE, `store = "…"` and `store migrate --to` accept. */
export type StoreName = keyof Registry;
/** The backends of the local store (credentials.toml): every name but the whole stores'. */
export type BackendName = { [K in StoreName]: Registry[K]["kind"] extends "store" ? never : K }[StoreName];
/** The whole stores (kind "store"). */
export type WholeStoreName = Exclude<StoreName, BackendName>;

export const STORE_NAMES = Object.keys(BACKENDS) as StoreName[];
export const BACKEND_NAMES = STORE_NAMES.filter((name) => BACKENDS[name].kind !== "store") as BackendName[];

export function isStoreName(value: unknown): value is StoreName {
  return typeof value === "string" && Object.hasOwn(BACKENDS, value);
}

/** A backend of the local store (not a whole store). */
export function isBackendName(value: unknown): value is BackendName {
  return isStoreName(value) && BACKENDS[value].kind !== "store";
}

/** A whole store (kind "store"): choosing it replaces credentials.toml. */
export function isWholeStoreName(value: unknown): value is WholeStoreName {
  return isStoreName(value) && BACKENDS[value].kind === "store";
}

export function backendFor(name: BackendName): StorageBackend<BackendName> {
  const backend = BACKENDS[name] as StorageBackend<BackendName> | undefined;
  if (!backend) throw new AuthctlError("INTERNAL", `no storage backend named "${name}"`);
  return backend;
}

/** Any registered entry, whole stores included: for what every kind has (label, asyncReads, inClear…). */
export function storeBackendFor(name: StoreName): RegisteredBackend<StoreName> {
  const backend = BACKENDS[name] as RegisteredBackend<StoreName> | undefined;
  if (!backend) throw new AuthctlError("INTERNAL", `no storage backend named "${name}"`);
  return backend;
}

export function wholeStoreFor(name: WholeStoreName): WholeStoreBackend<WholeStoreName> {
  return BACKENDS[name];
}

/** "keyring, encrypted, file or etcd": every registered name, for messages. */
export function listBackendNames(): string {
  return `${STORE_NAMES.slice(0, -1).join(", ")} or ${STORE_NAMES.at(-1)}`;
}

/** The backends tried, in order, when nothing chooses one. */
export function automaticBackends(): StorageBackend<BackendName>[] {
  return BACKEND_NAMES.map(backendFor)
    .filter((backend) => backend.autoRank !== undefined)
    .sort((a, b) => a.autoRank! - b.autoRank!);
}

/**
 * Which backend holds a record as parsed from credentials.toml: the one its `secret_store` marker
 * names (an external backend), else the index backend whose shape it has. A marker this authctl
 * does not know is left on the record, as it always was.
 */
export function backendOfRecord(raw: StoredCredential): StorageBackend<BackendName> {
  const marker = (raw as unknown as Record<string, unknown>)[SECRET_STORE_FIELD];
  if (isBackendName(marker) && BACKENDS[marker].kind === "external") return backendFor(marker);
  const index = BACKEND_NAMES.map(backendFor).filter(
    (backend): backend is IndexBackend<BackendName> => backend.kind === "index",
  );
  return index.find((backend) => backend.holds(raw)) ?? fileBackend;
}
