/**
 * The team store's manifest: one key, `<prefix>manifest`, that vouches for the store as a whole.
 * Each record is sealed and MACed on its own (seal.ts), so an older version of a record, which
 * someone with write access to etcd but without the seal key may have seen, still verifies where
 * it was. The manifest closes that: it holds a generation that grows with every write, and per
 * credential id the SHA-256 of the record text authctl wrote last, all under an HMAC-SHA256 (RFC
 * 2104) keyed by its own subkey of the seal key (HKDF, RFC 5869, with its own label: neither the
 * AES key nor the record MAC key). It is written in the same transaction as the records, which
 * compares its mod_revision, so writers serialise on it. A record put back, a record deleted, or
 * one added without the key no longer matches the manifest; a forged manifest does not verify.
 *
 * What the store alone cannot show is a whole-prefix rollback (manifest and records together put
 * back to an older consistent state): each machine keeps the highest generation it has seen
 * (_seen.ts), and one that saw a newer state refuses the older one.
 *
 * The manifest also names its store (a random id made when it is first written), so a team that
 * empties the prefix and starts again is told apart from a rollback.
 */
import { AuthctlError } from "../../errors.ts";
import { hmacSha256, sameMac, sha256Base64 } from "../_integrity.ts";
import type { TeamKey } from "./seal.ts";

/**
 * Only a write (newStoreId) loads node:crypto. The read path (recordTag, openManifest) hashes with
 * the runtime's own SHA-256 and HMAC (_integrity.ts): loading node:crypto cost `env` on the team
 * store 2-3 ms (measured; issue 18).
 */
const nodeCrypto = () => require("node:crypto") as typeof import("node:crypto");

const MAC_PREFIX = "hmac-sha256:";
const TAG_PREFIX = "sha256:";

export interface Manifest {
  /** Random, made when the prefix's first manifest is written. */
  store: string;
  /** Grows by one with every write transaction. */
  generation: number;
  /** Per credential id, recordTag() of the record text authctl wrote last. */
  records: Record<string, string>;
}

/** What the manifest remembers of a record: the digest of its exact text (sealed values and MAC included). */
export function recordTag(text: string): string {
  return TAG_PREFIX + sha256Base64(text);
}

export function newStoreId(): string {
  return nodeCrypto().randomBytes(16).toString("base64url");
}

/** Ids are `[a-z0-9@_-]` and tags base64: one line per record is unambiguous. */
function manifestInput(prefix: string, manifest: Manifest): string {
  const lines = Object.keys(manifest.records)
    .sort()
    .map((id) => `${id} ${manifest.records[id]}`);
  return ["authctl:etcd:v1:manifest", prefix, manifest.store, String(manifest.generation), ...lines].join(
    "\n",
  );
}

function manifestMac(key: TeamKey, prefix: string, manifest: Manifest): string {
  return MAC_PREFIX + hmacSha256(key.manifestKey, manifestInput(prefix, manifest)).toString("base64");
}

export function sealManifest(key: TeamKey, prefix: string, manifest: Manifest): string {
  return JSON.stringify({ ...manifest, mac: manifestMac(key, prefix, manifest) });
}

/** The manifest if it verifies under this key and prefix; undefined otherwise. */
export function openManifest(key: TeamKey, prefix: string, text: string): Manifest | undefined {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { store, generation, records, mac } = parsed;
  if (typeof store !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(store)) return undefined;
  if (typeof generation !== "number" || !Number.isSafeInteger(generation) || generation < 1) return undefined;
  if (typeof records !== "object" || records === null || Array.isArray(records)) return undefined;
  const entries: Record<string, string> = Object.create(null);
  for (const [id, tag] of Object.entries(records)) {
    if (
      !/^[a-z0-9][a-z0-9@_-]*$/.test(id) ||
      typeof tag !== "string" ||
      !/^sha256:[A-Za-z0-9+/=]+$/.test(tag)
    )
      return undefined;
    entries[id] = tag;
  }
  const manifest: Manifest = { store, generation, records: entries };
  // The expected MAC is ASCII: equal characters are equal bytes, as timingSafeEqual compared.
  return typeof mac === "string" && sameMac(mac, manifestMac(key, prefix, manifest)) ? manifest : undefined;
}

/** The one line every whole-store integrity failure starts with; `what` says which. */
export function storeIntegrityError(path: string, what: string, hint: string): AuthctlError {
  return new AuthctlError("STORE_CORRUPT", `${path} ${what}: nothing was read or written`, { hint });
}
