/**
 * Format 2 of a sealed store: every record carries `mac`, an HMAC-SHA256 (RFC 2104) over the
 * provider id, the store's `generation` and the whole record as written (sealed values, endpoints,
 * hosts, method, expiry, unknown fields: everything but the MAC itself), keyed by a key derived
 * from the store's key. Someone who can edit credentials.toml but has no key therefore cannot
 * point a secret elsewhere (a `revocation_url`, a Copilot `host`, a `token_url`), put a plaintext
 * value where a sealed one was, or put back an older record or value: `generation` grows with
 * every write and every record is re-MACed for it, so a record from another generation does not
 * verify. Putting back a whole older file is restoring a backup, which stays possible.
 */
import { SealedValueError } from "./errors.ts";
import { canonicalJson } from "./_secret-fields.ts";
import type { StoredCredential } from "./types.ts";

/**
 * HMAC-SHA256 through Bun.CryptoHasher (the runtime's BoringSSL HMAC): synchronous, and about
 * 1 MiB of memory in a compiled binary where node:crypto costs about 8 (issue 18, scripts/bench.ts);
 * `env`, `token` and `exec` verify every record of a sealed store.
 */
export function hmacSha256(key: Uint8Array, input: string | Uint8Array): Buffer {
  return new Bun.CryptoHasher("sha256", key).update(input).digest();
}

const SHA256_BYTES = 32;

/**
 * HKDF-SHA256 (RFC 5869) from HMAC-SHA256 above: the bytes node:crypto's hkdfSync gives, without
 * loading node:crypto (the team store derives its manifest key on every read; issue 18). An empty
 * salt is HashLen zeros (RFC 5869 §2.2), spelled out: a hasher given an empty key is no HMAC.
 */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: string | Uint8Array,
  length: number,
): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > 255 * SHA256_BYTES)
    throw new RangeError(`HKDF-SHA256 cannot give ${length} bytes`);
  const prk = hmacSha256(salt.length ? salt : new Uint8Array(SHA256_BYTES), ikm);
  const infoBytes = typeof info === "string" ? Buffer.from(info, "utf8") : info;
  const blocks: Buffer[] = [];
  let previous: Uint8Array = new Uint8Array(0);
  for (let i = 1; blocks.length * SHA256_BYTES < length; i++) {
    // T(i) = HMAC(PRK, T(i-1) | info | i), RFC 5869 §2.3.
    previous = hmacSha256(prk, Buffer.concat([previous, infoBytes, Uint8Array.of(i)]));
    blocks.push(previous as Buffer);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * SHA-256 of a text, base64: the same digest node:crypto's createHash gives, through the runtime's
 * own hasher. Every keyring read checks an item's metadata digest with it (_external-item.ts metaDigest):
 * node:crypto cost `env` on the keyring about 4 MiB of memory and, measured, several
 * milliseconds to load (issue 18).
 */
export function sha256Base64(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("base64");
}

/**
 * Equal strings, in time that depends only on their length (a MAC's length is public): the
 * comparison node:crypto's timingSafeEqual makes, over char codes, without loading node:crypto.
 */
export function sameMac(actual: string, expected: string): boolean {
  if (actual.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= actual.charCodeAt(i) ^ expected.charCodeAt(i);
  return diff === 0;
}

export const MAC_FIELD = "mac";
const MAC_PREFIX = "hmac-sha256:";

function macInput(id: string, generation: number, record: StoredCredential): string {
  const { [MAC_FIELD]: _omit, ...rest } = record as unknown as Record<string, unknown>;
  return `authctl:v2:record\n${id}\n${generation}\n${canonicalJson(rest as unknown as StoredCredential)}`;
}

export function recordMac(macKey: Buffer, id: string, generation: number, record: StoredCredential): string {
  return MAC_PREFIX + hmacSha256(macKey, macInput(id, generation, record)).toString("base64");
}

export function verifyRecordMac(
  macKey: Buffer,
  id: string,
  generation: number,
  record: StoredCredential,
): boolean {
  const found = (record as unknown as Record<string, unknown>)[MAC_FIELD];
  if (typeof found !== "string") return false;
  return sameMac(found, recordMac(macKey, id, generation, record));
}

/** The error for a record that does not verify: that credential alone is unusable (`damaged`). */
export function unauthenticated(storePath: string, id: string, why: string): SealedValueError {
  return new SealedValueError(storePath, id, `credentials store ${storePath}: the record of ${id} ${why}`);
}
