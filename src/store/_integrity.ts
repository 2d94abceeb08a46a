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
 * node:crypto loads on first use: it costs a compiled binary about 4 MB of memory (measured with
 * /usr/bin/time), and \`env\` on a plain file store never needs it.
 */
const nodeCrypto = () => require("node:crypto") as typeof import("node:crypto");

export const MAC_FIELD = "mac";
const MAC_PREFIX = "hmac-sha256:";

function macInput(id: string, generation: number, record: StoredCredential): string {
  const { [MAC_FIELD]: _omit, ...rest } = record as unknown as Record<string, unknown>;
  return `authctl:v2:record\n${id}\n${generation}\n${canonicalJson(rest as unknown as StoredCredential)}`;
}

export function recordMac(macKey: Buffer, id: string, generation: number, record: StoredCredential): string {
  return (
    MAC_PREFIX +
    nodeCrypto()
      .createHmac("sha256", macKey)
      .update(macInput(id, generation, record))
      .digest("base64")
  );
}

export function verifyRecordMac(
  macKey: Buffer,
  id: string,
  generation: number,
  record: StoredCredential,
): boolean {
  const found = (record as unknown as Record<string, unknown>)[MAC_FIELD];
  if (typeof found !== "string") return false;
  const expected = Buffer.from(recordMac(macKey, id, generation, record));
  const actual = Buffer.from(found);
  return actual.length === expected.length && nodeCrypto().timingSafeEqual(actual, expected);
}

/** The error for a record that does not verify: that credential alone is unusable (`damaged`). */
export function unauthenticated(storePath: string, id: string, why: string): SealedValueError {
  return new SealedValueError(storePath, id, `credentials store ${storePath}: the record of ${id} ${why}`);
}
