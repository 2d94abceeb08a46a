/**
 * What a snapshot's `backends[id]` can name: a storage backend of the local store, or a whole
 * store (the team store on etcd), which holds every record, metadata included. Every registered
 * entry describes itself (backends.ts); nothing here loads a whole store's code.
 */
import { storeBackendFor } from "./backends.ts";
import type { StoreName } from "./types.ts";

export interface StoreDescription {
  readonly kind: "index" | "external" | "store";
  readonly label: string;
  describeLocation(storePath: string): string;
  readonly unreadSecret: string;
  readonly asyncReads: boolean;
  readonly inClear: boolean;
  readonly usesStoreKey: boolean;
}

export function describeStore(name: StoreName): StoreDescription {
  return storeBackendFor(name);
}
