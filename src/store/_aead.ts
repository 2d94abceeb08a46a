/**
 * The one AES-256-GCM wire format for sealed values, shared by the encrypted file (encrypted.ts)
 * and the team store (etcd/seal.ts): `enc:v1:` + base64(nonce | ciphertext | tag), a random
 * 96-bit nonce per value (NIST SP 800-38D §8.2.2: random nonces are safe far beyond the number of
 * values a store holds) and a 128-bit tag. What each store binds a value to (its additional data)
 * stays with that store: this file only seals and opens.
 */

/**
 * node:crypto loads on first use: it costs a compiled binary about 4 MB of memory (measured with
 * /usr/bin/time), and `env` on a plain file store never needs it.
 */
const nodeCrypto = () => require("node:crypto") as typeof import("node:crypto");

import { SEALED_PREFIX } from "./sealed.ts";

export { SEALED_PREFIX };
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function sealAesGcm(key: Buffer, plaintext: string, additional: Buffer): string {
  const nonce = nodeCrypto().randomBytes(NONCE_BYTES);
  const cipher = nodeCrypto().createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(additional);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return SEALED_PREFIX + Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64");
}

/**
 * Values opened ahead of the synchronous reader, by key (the very Buffer it will be called with),
 * then by sealed text and additional data. `env`, `token` and `exec` open the encrypted store's
 * values with crypto.subtle (asynchronous) before the store's synchronous read asks for them:
 * node:crypto costs a compiled binary about 8 MiB of memory where crypto.subtle costs about 3
 * (scripts/bench.ts; issue 18). Both are the runtime's AES-256-GCM (BoringSSL) on the same wire
 * format, so an answer found here is the one node:crypto would give; anything not opened ahead is
 * opened by node:crypto as before.
 */
const openedAhead = new WeakMap<Buffer, Map<string, string | undefined>>();

function aheadKey(sealed: string, additional: Buffer): string {
  return `${additional.toString("base64")}:${sealed}`;
}

/** Opens these values with crypto.subtle, for openAesGcm to answer from without node:crypto. */
export async function openAheadAesGcm(
  key: Buffer,
  values: Array<{ sealed: string; additional: Buffer }>,
): Promise<void> {
  const subtle = globalThis.crypto.subtle;
  const aesKey = await subtle.importKey("raw", new Uint8Array(key), "AES-GCM", false, ["decrypt"]);
  let opened = openedAhead.get(key);
  if (!opened) openedAhead.set(key, (opened = new Map()));
  const done = opened;
  await Promise.all(
    values.map(async ({ sealed, additional }) => {
      const id = aheadKey(sealed, additional);
      if (!done.has(id)) done.set(id, await openWithSubtle(subtle, aesKey, sealed, additional));
    }),
  );
}

async function openWithSubtle(
  subtle: SubtleCrypto,
  aesKey: CryptoKey,
  sealed: string,
  additional: Buffer,
): Promise<string | undefined> {
  if (!sealed.startsWith(SEALED_PREFIX)) return undefined;
  const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), "base64");
  if (raw.length < NONCE_BYTES + TAG_BYTES) return undefined;
  try {
    // WebCrypto takes the tag at the end of the ciphertext, as the wire format has it.
    const plain = await subtle.decrypt(
      {
        name: "AES-GCM",
        iv: raw.subarray(0, NONCE_BYTES),
        additionalData: new Uint8Array(additional),
        tagLength: 128,
      },
      aesKey,
      raw.subarray(NONCE_BYTES),
    );
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  } catch {
    return undefined;
  }
}

/** The plaintext, or undefined when the value does not authenticate (altered, or another key). */
export function openAesGcm(key: Buffer, sealed: string, additional: Buffer): string | undefined {
  const ahead = openedAhead.get(key);
  if (ahead) {
    const id = aheadKey(sealed, additional);
    if (ahead.has(id)) return ahead.get(id);
  }
  if (!sealed.startsWith(SEALED_PREFIX)) return undefined;
  const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), "base64");
  if (raw.length < NONCE_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = nodeCrypto().createDecipheriv("aes-256-gcm", key, raw.subarray(0, NONCE_BYTES));
    decipher.setAAD(additional);
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const plain = Buffer.concat([
      decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)),
      decipher.final(),
    ]);
    // Authenticated, so these are the bytes that were sealed; fatal decoding is a last guard.
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  } catch {
    return undefined;
  }
}
