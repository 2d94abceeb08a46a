/**
 * Every storage backend, by name: adding one is its own file and one line here. Callers never
 * compare names; they ask the object (see backend.ts for the contract).
 */
import { AuthctlError } from "../errors.ts";
import { SECRET_STORE_FIELD, type IndexBackend, type StorageBackend } from "./backend.ts";
import { encryptedBackend } from "./encrypted-backend.ts";
import { fileBackend } from "./file-backend.ts";
import { keyringBackend } from "./keyring-backend.ts";
import type { StoredCredential } from "./types.ts";

/** In the order people read them in messages ("keyring, encrypted or file"). */
export const BACKENDS = {
  keyring: keyringBackend,
  encrypted: encryptedBackend,
  file: fileBackend,
} as const satisfies Record<string, StorageBackend>;

export type BackendName = keyof typeof BACKENDS;
export const BACKEND_NAMES = Object.keys(BACKENDS) as BackendName[];

export function isBackendName(value: unknown): value is BackendName {
  return typeof value === "string" && Object.hasOwn(BACKENDS, value);
}

export function backendFor(name: BackendName): StorageBackend<BackendName> {
  const backend = BACKENDS[name] as StorageBackend<BackendName> | undefined;
  if (!backend) throw new AuthctlError("INTERNAL", `no storage backend named "${name}"`);
  return backend;
}

/** "keyring, encrypted or file": the names, for messages. */
export function listBackendNames(): string {
  return `${BACKEND_NAMES.slice(0, -1).join(", ")} or ${BACKEND_NAMES.at(-1)}`;
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
