/**
 * Reading the team store: every record opened under the seal key and checked against the store's
 * manifest (manifest.ts), and the store as a whole checked against what this machine has seen
 * (_seen.ts). A record that fails is listed without its secrets and named in `damaged`; a store
 * that fails as a whole throws, so that no command reads or writes it.
 */
import { AuthctlError } from "../../errors.ts";
import { withoutSecrets } from "../_secret-fields.ts";
import type { Credentials } from "../types.ts";
import type { KeyValue } from "./client.ts";
import { type Manifest, openManifest, recordTag, storeIntegrityError } from "./manifest.ts";
import { readSeen, recordSeen } from "./_seen.ts";
import { openRecord, opensKeyCheck, recordMetadata, type TeamKey, writtenUnderManifest } from "./seal.ts";

export interface Loaded {
  records: Map<string, KeyValue>;
  keyCheck?: KeyValue;
  manifest?: KeyValue;
}

export interface Opened {
  credentials: Credentials;
  damaged: Record<string, Error>;
  /** The verified manifest; undefined for an empty store or one written before manifests (adopted on its next write). */
  manifest: Manifest | undefined;
}

export interface OpenContext {
  key(): TeamKey;
  prefix: string;
  /** The store, for messages. */
  path: string;
  manifestKey: string;
  seenFile?: string;
  seenId: string;
  /** seenFile's text as the store's open() read it after its request (_seen.ts readSeenQuickly). */
  seenText?: string;
  /** A notice for people (stderr): a generation that could not be recorded. */
  notify(message: string): void;
  wrongKey(): AuthctlError;
}

const tampered = (prefix: string) =>
  `check who can write ${prefix} in etcd; to start the team store again, remove the prefix (etcdctl del --prefix ${prefix}) and log in again`;

/**
 * The checks that concern the store as a whole (manifest.ts): a manifest that does not verify,
 * one older than this machine has seen, or none where there must be one. Any of them stops
 * every command: nothing in the store can be told to be current.
 */
function verifyStore(state: Loaded, k: TeamKey, ctx: OpenContext): Manifest | undefined {
  const { path, prefix, manifestKey, seenFile, seenId } = ctx;
  const seen = seenFile ? readSeen(seenFile, seenId, ctx.seenText) : undefined;
  const rolledBack = (what: string) =>
    storeIntegrityError(
      path,
      `was rolled back: ${what}`,
      `${tampered(prefix)}; if the team restored an etcd backup on purpose, delete ${seenFile} on this machine`,
    );
  if (state.manifest) {
    const manifest = openManifest(k, prefix, state.manifest.value);
    if (!manifest) {
      if (!state.keyCheck) throw ctx.wrongKey();
      throw storeIntegrityError(
        path,
        `holds a manifest (${manifestKey}) that was not written by authctl with the team's seal key`,
        tampered(prefix),
      );
    }
    if (seen && seen.store === manifest.store && manifest.generation < seen.generation)
      throw rolledBack(
        `its manifest is at generation ${manifest.generation}, and this machine has seen generation ${seen.generation}`,
      );
    // An earlier store at this prefix put back whole, after the team started again: its manifest
    // verifies, and its id is not the current one, but this machine saw it replaced.
    if (seen && seen.store !== manifest.store && seen.retired?.includes(manifest.store))
      throw rolledBack(
        `its manifest is an earlier store's (${manifest.store}), which this machine saw replaced by ${seen.store} at generation ${seen.generation}`,
      );
    if (seenFile && (!seen || seen.store !== manifest.store || manifest.generation > seen.generation))
      recordSeen(seenFile, seenId, { store: manifest.store, generation: manifest.generation }, ctx.notify);
    return manifest;
  }
  // Empty: nothing stale can be served, and a team may empty the prefix to start again.
  if (state.records.size === 0) return undefined;
  const marked = [...state.records].find(([, kv]) => writtenUnderManifest(kv.value));
  if (marked)
    throw storeIntegrityError(
      path,
      `has no manifest (${manifestKey}), but its record of ${marked[0]} was written under one: the manifest was deleted`,
      tampered(prefix),
    );
  if (seen)
    throw rolledBack(
      `it has no manifest (${manifestKey}), and this machine has seen generation ${seen.generation}`,
    );
  // Written before manifests existed (or by an authctl that predates them): read as it is, each
  // record checked on its own; the next write adopts it (see update).
  return undefined;
}

/** A record that authenticates but is not the one the manifest lists (or one the manifest lists that is gone). */
function replayed(ctx: OpenContext, id: string, what: string): AuthctlError {
  const { path, prefix } = ctx;
  return new AuthctlError("STORE_CORRUPT", `${path}: the record of ${id} ${what}`, {
    hint: `run 'authctl login ${id}' to store it again, and check who can write ${prefix} in etcd`,
    detail: { provider: id, damaged: true },
  });
}

/** Every record opened; a record that does not open is damaged unless the key itself is wrong. */
export function openStoreState(state: Loaded, ctx: OpenContext): Opened {
  const { prefix, path } = ctx;
  const credentials: Credentials = Object.create(null);
  const damaged: Record<string, Error> = Object.create(null);
  if (state.records.size === 0 && !state.manifest) return { credentials, damaged, manifest: undefined };
  const k = ctx.key();
  if (state.keyCheck && !opensKeyCheck(k, prefix, state.keyCheck.value)) throw ctx.wrongKey();
  const manifest = verifyStore(state, k, ctx);
  for (const [id, kv] of state.records) {
    const credential = openRecord(k, prefix, id, kv.value);
    if (credential && (!manifest || manifest.records[id] === recordTag(kv.value))) {
      credentials[id] = credential;
      continue;
    }
    if (!credential && !state.keyCheck) throw ctx.wrongKey();
    // Whoever wrote it had no key, or put back an older record: nothing in it is vouched for.
    // A login or logout may replace it, so it is listed, but without a secret (one in clear is
    // theirs; an old one may be spent) or a default mark (it would decide what a bare provider
    // id means).
    const metadata = recordMetadata(kv.value);
    if (metadata) {
      const { default: _unvouched, ...rest } = withoutSecrets(metadata);
      credentials[id] = rest;
    }
    damaged[id] = credential
      ? replayed(
          ctx,
          id,
          manifest!.records[id] === undefined
            ? "was not written by authctl with the team's seal key since the store's manifest was (an old copy was put back after a logout, or it was copied in)"
            : "is not the version authctl last wrote with the team's seal key (an older copy was put back: rolled back)",
        )
      : new AuthctlError(
          "STORE_CORRUPT",
          `${path}: the record of ${id} does not authenticate with the team's seal key (it was altered or damaged)`,
          { hint: `run 'authctl login ${id}' to store it again`, detail: { provider: id, damaged: true } },
        );
  }
  // A record the manifest lists and etcd no longer holds was deleted by someone else: a
  // logout by authctl removes both together.
  for (const id of Object.keys(manifest?.records ?? {}))
    if (!state.records.has(id))
      damaged[id] = replayed(
        ctx,
        id,
        "was deleted by someone other than authctl (the store's manifest still lists it)",
      );
  return { credentials, damaged, manifest };
}
