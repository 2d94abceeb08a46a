/**
 * The encrypted backend's sealing: secret fields of credentials.toml become
 * `enc:v1:<base64(nonce | ciphertext | tag)>`, AES-256-GCM with a random 96-bit nonce per value
 * (NIST SP 800-38D §8.2.2: random nonces are safe far beyond the number of values a store holds)
 * and the provider id and field name as additional data, so a sealed value moved to another
 * field or provider fails authentication instead of being handed out there.
 *
 * The key is a random 32-byte file `key` (0600) beside the store, or, when AUTHCTL_PASSPHRASE is
 * set, scrypt(passphrase, salt) (RFC 7914) with the salt and parameters stored in the file. A
 * sealed check value (`key_check`) tells a wrong key apart from an altered value.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { AuthctlError, errorCode } from "../errors.ts";
import { describeIoError } from "./atomic-write.ts";

export const SEALED_PREFIX = "enc:v1:";
export const KEY_FILE = "key";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_CHECK_TEXT = "authctl key check v1";
const KEY_CHECK_AAD = "authctl:v1:key-check";
/** RFC 7914 §2 parameters: 2^15 × 8 × 128 bytes = 32 MiB, about 50–100 ms per derivation. */
const SCRYPT = { N: 32_768, r: 8, p: 1 } as const;

/** The store-level fields of credentials.toml that describe the key (top-level, beside `version`). */
export interface KeyParams {
  key_source?: "file" | "passphrase";
  kdf?: string;
  kdf_salt?: string;
  key_check?: string;
}

export interface SealingKey {
  source: "file" | "passphrase";
  key: Buffer;
  /** What to write at the top of the store so the next reader finds and checks this key. */
  params: KeyParams;
}

export function isSealed(value: unknown): value is string {
  return typeof value === "string" && value.startsWith(SEALED_PREFIX);
}

function aad(id: string, field: string): Buffer {
  return Buffer.from(`authctl:v1:${id}:${field}`, "utf8");
}

function sealWith(key: Buffer, plaintext: string, additional: Buffer): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(additional);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return SEALED_PREFIX + Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64");
}

/** The plaintext, or undefined when the value does not authenticate (altered, or another key). */
function openWith(key: Buffer, sealed: string, additional: Buffer): string | undefined {
  const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), "base64");
  if (raw.length < NONCE_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, NONCE_BYTES));
    decipher.setAAD(additional);
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
    // Authenticated, so these are the bytes that were sealed; fatal decoding is a last guard.
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  } catch {
    return undefined;
  }
}

export function sealValue(key: SealingKey, id: string, field: string, plaintext: string): string {
  return sealWith(key.key, plaintext, aad(id, field));
}

/** Opens one sealed value; a value that does not authenticate is an error naming the file and field, never garbage. */
export function openValue(key: SealingKey, id: string, field: string, sealed: string, storePath: string): string {
  const plain = openWith(key.key, sealed, aad(id, field));
  if (plain === undefined) {
    throw new AuthctlError(
      "STORE_CORRUPT",
      `credentials store ${storePath}: the sealed value of ${id}.${field} does not authenticate (it was altered or damaged)`,
      { hint: `run 'authctl login ${id}' to store it again`, detail: { path: storePath, provider: id, field, damaged: true } },
    );
  }
  return plain;
}

function deriveFromPassphrase(passphrase: string, salt: Buffer): Buffer {
  return scryptSync(passphrase.normalize("NFC"), salt, 32, { ...SCRYPT, maxmem: 64 * 1024 * 1024 });
}

function readKeyFile(keyPath: string): Buffer | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(keyPath);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw new AuthctlError("STORE_IO", `could not read key file ${keyPath}: ${describeIoError(error)}`, { cause: error });
  }
  if (bytes.length !== 32) {
    throw new AuthctlError("STORE_CORRUPT", `key file ${keyPath} is not a 32-byte key (${bytes.length} bytes)`, {
      hint: "restore the key file from where you keep it; without it the sealed values cannot be opened",
    });
  }
  return bytes;
}

/** Creates the key file with O_EXCL, 0600 from birth. Call only under the store's lock. */
function createKeyFile(keyPath: string): Buffer {
  const key = randomBytes(32);
  let fd: number | undefined;
  try {
    fd = openSync(keyPath, "wx", 0o600);
    writeSync(fd, key);
    fsyncSync(fd);
  } catch (error) {
    throw new AuthctlError("STORE_IO", `could not create key file ${keyPath}: ${describeIoError(error)}`, { cause: error });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return key;
}

function checkKey(key: Buffer, params: KeyParams): boolean {
  if (!isSealed(params.key_check)) return true;
  return openWith(key, params.key_check, Buffer.from(KEY_CHECK_AAD)) === KEY_CHECK_TEXT;
}

function withCheck(source: "file" | "passphrase", key: Buffer, params: KeyParams): SealingKey {
  // The same check value as before when it still fits, so an unchanged store is not rewritten.
  const reuse = params.key_source === source && isSealed(params.key_check) && checkKey(key, params);
  const check = reuse ? params.key_check! : sealWith(key, KEY_CHECK_TEXT, Buffer.from(KEY_CHECK_AAD));
  const out: KeyParams = { key_source: source, key_check: check };
  if (source === "passphrase") {
    out.kdf = params.kdf;
    out.kdf_salt = params.kdf_salt;
  }
  return { source, key, params: out };
}

/**
 * The key that opens the store's sealed values, as its top-level fields describe it. Throws a
 * clear error naming the store when it is missing or wrong.
 */
export function loadOpeningKey(home: string, storePath: string, params: KeyParams, passphrase: string | undefined): SealingKey {
  if (params.key_source === "passphrase") {
    if (!passphrase) {
      throw new AuthctlError("STORE_CORRUPT", `credentials store ${storePath} is sealed with a passphrase`, {
        hint: "set AUTHCTL_PASSPHRASE to it",
      });
    }
    if (typeof params.kdf_salt !== "string" || params.kdf !== "scrypt") {
      throw new AuthctlError("STORE_CORRUPT", `credentials store ${storePath} names no usable key derivation (kdf, kdf_salt)`);
    }
    const key = deriveFromPassphrase(passphrase, Buffer.from(params.kdf_salt, "base64"));
    if (!checkKey(key, params)) {
      throw new AuthctlError("STORE_CORRUPT", `AUTHCTL_PASSPHRASE does not open credentials store ${storePath} (wrong passphrase)`, {
        hint: "set AUTHCTL_PASSPHRASE to the passphrase the store was sealed with",
      });
    }
    return { source: "passphrase", key, params };
  }
  const keyPath = join(home, KEY_FILE);
  const key = readKeyFile(keyPath);
  if (!key) {
    throw new AuthctlError("STORE_CORRUPT", `credentials store ${storePath} holds sealed values but the key file ${keyPath} is missing`, {
      hint: "restore the key file; without it the sealed values cannot be opened ('authctl login' stores them again)",
    });
  }
  if (!checkKey(key, params)) {
    throw new AuthctlError("STORE_CORRUPT", `key file ${keyPath} does not open credentials store ${storePath} (wrong key)`, {
      hint: "restore the key file the store was sealed with",
    });
  }
  return { source: "file", key, params };
}

/**
 * The key new values are sealed with: from AUTHCTL_PASSPHRASE when set (same salt as before when
 * the store already uses it), else the key file, created on first use. Call under the lock.
 */
export function loadSealingKey(home: string, params: KeyParams, passphrase: string | undefined, opening?: SealingKey): SealingKey {
  if (passphrase) {
    if (opening?.source === "passphrase") return withCheck("passphrase", opening.key, opening.params);
    const salt = randomBytes(16);
    const key = deriveFromPassphrase(passphrase, salt);
    return withCheck("passphrase", key, { kdf: "scrypt", kdf_salt: salt.toString("base64") });
  }
  if (opening?.source === "file") return withCheck("file", opening.key, params);
  const keyPath = join(home, KEY_FILE);
  return withCheck("file", readKeyFile(keyPath) ?? createKeyFile(keyPath), params);
}
