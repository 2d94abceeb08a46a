/**
 * What a snapshot's `backends[id]` can name: a storage backend of the local store (backends.ts),
 * or the team store on etcd (store/etcd/), which is a whole store rather than a place for one
 * credential's secrets: it holds every record, metadata included, so machines that never logged
 * in see the login. This file only describes it (no etcd code is loaded here).
 */
import { backendFor } from "./backends.ts";
import type { StoreName } from "./types.ts";

export interface StoreDescription {
  readonly label: string;
  describeLocation(storePath: string): string;
  readonly unreadSecret: string;
  readonly asyncReads: boolean;
  readonly inClear: boolean;
  readonly usesStoreKey: boolean;
}

export const TEAM_STORE: StoreDescription = {
  label: "the team store on etcd",
  describeLocation: (storePath) => `in ${storePath}`,
  unreadSecret: "(secret sealed in etcd)",
  // The team store's snapshot holds the secrets already: open() read them in one request.
  asyncReads: false,
  inClear: false,
  usesStoreKey: false,
};

export function describeStore(name: StoreName): StoreDescription {
  return name === "etcd" ? TEAM_STORE : backendFor(name);
}
