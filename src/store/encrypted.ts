/**
 * The encrypted backend's sealing: secret fields of credentials.toml become
 * `enc:v1:<base64(nonce | ciphertext | tag)>`, AES-256-GCM with a random 96-bit nonce per value
 * (NIST SP 800-38D §8.2.2: random nonces are safe far beyond the number of values a store holds)
 * and the provider id and field name as additional data, so a sealed value moved to another
 * field or provider fails authentication instead of being handed out there. Everything else in
 * a record (the endpoints and hosts that decide where a secret goes) is authenticated by the
 * record's MAC (see _integrity.ts).
 *
 * The key is a random 32-byte file `key` (0600) beside the store, or, when the store is sealed
 * with a passphrase, scrypt(passphrase, salt) (RFC 7914) with the salt and parameters recorded in
 * the file. A sealed check value (`key_check`) tells a wrong key apart from an altered value.
 * Which of the two seals a store is recorded in it (`key_source`); changing it is the explicit
 * `authctl store seal --with …`, never a side effect of AUTHCTL_PASSPHRASE being set.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  writeSync,
} from "../lazy-fs.ts";
import { join } from "../lazy-path.ts";
import { AuthctlError, errorCode } from "../errors.ts";
import { describeIoError } from "./atomic-write.ts";
import { SealedValueError, StoreKeyError } from "./errors.ts";
import { openAesGcm, openAheadAesGcm, sealAesGcm } from "./_aead.ts";
import { isSealed, KEY_FILE, KEY_PARAM_FIELDS, type KeyParams, SEALED_PREFIX } from "./sealed.ts";
import { hmacSha256 } from "./_integrity.ts";
import { listStrings } from "./_secret-fields.ts";
import type { StoredCredential } from "./types.ts";

export { isSealed, KEY_FILE, KEY_PARAM_FIELDS, type KeyParams, SEALED_PREFIX };

/**
 * node:crypto loads on first use: it costs a compiled binary about 4 MB of memory (measured with
 * /usr/bin/time), and \`env\` on a plain file store never needs it.
 */
const nodeCrypto = () => require("node:crypto") as typeof import("node:crypto");

/** Format 1 (no record MACs) checked the key with this; format 2 with its own, so a file cannot be passed off as the other. */
const KEY_CHECK = {
  1: { text: "authctl key check v1", aad: "authctl:v1:key-check" },
  2: { text: "authctl key check v2", aad: "authctl:v2:key-check" },
} as const;
/**
 * RFC 7914 §2 parameters for new stores: N = 2^17, r = 8, p = 1 (128 MiB; four times the work of 2^15), OWASP's
 * minimum for scrypt (Password Storage Cheat Sheet). Stores record theirs; files written before
 * they were recorded used N = 2^15 and keep opening with it, and are re-derived with these at
 * their next write.
 */
const SCRYPT_DEFAULT = { N: 131_072, r: 8, p: 1 } as const;
const SCRYPT_LEGACY = { N: 32_768, r: 8, p: 1 } as const;
type ScryptParams = { N: number; r: number; p: number };
/** The weakest passphrase that seals a store: long enough that an offline guesser paying one scrypt derivation per try gets nowhere. */
export const PASSPHRASE_RULE = "at least 12 characters, with at least 5 different ones";

export interface SealingKey {
  source: "file" | "passphrase";
  key: Buffer;
  /** The key of the record MACs, derived from `key` (never the sealing key itself). */
  macKey: Buffer;
  /** What to write at the top of the store so the next reader finds and checks this key. */
  params: KeyParams;
}

function sealingKey(source: "file" | "passphrase", key: Buffer, params: KeyParams): SealingKey {
  return {
    source,
    key,
    macKey: hmacSha256(key, "authctl:v2:record-mac-key"),
    params,
  };
}

function aad(id: string, field: string): Buffer {
  return Buffer.from(`authctl:v1:${id}:${field}`, "utf8");
}

const sealWith = sealAesGcm;
const openWith = openAesGcm;

export function sealValue(key: SealingKey, id: string, field: string, plaintext: string): string {
  return sealWith(key.key, plaintext, aad(id, field));
}

/** Opens one sealed value; a value that does not authenticate is an error naming the file and field, never garbage. */
export function openValue(
  key: SealingKey,
  id: string,
  field: string,
  sealed: string,
  storePath: string,
): string {
  const plain = openWith(key.key, sealed, aad(id, field));
  if (plain === undefined) {
    throw new SealedValueError(
      storePath,
      id,
      `credentials store ${storePath}: the sealed value of ${id}.${field} does not authenticate (it was altered or damaged)`,
      field,
    );
  }
  return plain;
}

/** The recorded scrypt parameters (format-1 files without them: the old defaults), refused when out of bounds. */
function scryptParams(params: KeyParams, storePath: string): ScryptParams {
  if (params.kdf_n === undefined && params.kdf_r === undefined && params.kdf_p === undefined)
    return SCRYPT_LEGACY;
  const { kdf_n: N, kdf_r: r, kdf_p: p } = params;
  // Bounds keep an altered file from asking for gigabytes or hours (a denial of service, not a key).
  const ok =
    Number.isSafeInteger(N) &&
    N! >= 16_384 &&
    N! <= 1_048_576 &&
    (N! & (N! - 1)) === 0 &&
    Number.isSafeInteger(r) &&
    r! >= 1 &&
    r! <= 32 &&
    Number.isSafeInteger(p) &&
    p! >= 1 &&
    p! <= 16 &&
    128 * r! * N! <= 512 * 1024 * 1024;
  if (!ok) {
    throw new AuthctlError(
      "STORE_CORRUPT",
      `credentials store ${storePath} records scrypt parameters out of bounds (kdf_n, kdf_r, kdf_p)`,
      {
        hint: "restore the file from a backup",
      },
    );
  }
  return { N: N!, r: r!, p: p! };
}

function deriveFromPassphrase(passphrase: string, salt: Buffer, params: ScryptParams): Buffer {
  return nodeCrypto().scryptSync(passphrase.normalize("NFC"), salt, 32, {
    ...params,
    maxmem: 128 * params.r * params.N + 16 * 1024 * 1024,
  });
}

/** Refuses a passphrase too weak to seal a store with (opening an existing store never checks this). */
export function checkPassphraseStrength(passphrase: string): void {
  const chars = [...passphrase.normalize("NFC")];
  if (chars.length < 12 || new Set(chars).size < 5) {
    throw new AuthctlError(
      "CONFIG_INVALID",
      `AUTHCTL_PASSPHRASE is too weak to seal the credential store: use ${PASSPHRASE_RULE}`,
      {
        hint: "a few random words make a good passphrase",
      },
    );
  }
}

/**
 * Reads the key file, through one descriptor: a FIFO or device there is refused, not waited on.
 * A key file other users can read is tightened to 0600 when it is ours, with a warning: whoever
 * read it can open every sealed value of this store and of its backups.
 */
function readKeyFile(keyPath: string, warn: (message: string) => void): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(keyPath, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw new AuthctlError("STORE_IO", `could not read key file ${keyPath}: ${describeIoError(error)}`, {
      cause: error,
    });
  }
  let bytes: Buffer;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new AuthctlError("STORE_CORRUPT", `key file ${keyPath} is not a regular file`, {
        hint: "move it aside and restore the key file",
      });
    }
    if (process.platform !== "win32" && stat.mode & 0o077) {
      const mode = `0${(stat.mode & 0o777).toString(8)}`;
      if (stat.uid === process.getuid?.()) {
        try {
          chmodSync(keyPath, 0o600);
          warn(
            `key file ${keyPath} was open to other users (mode ${mode}): changed to 0600. Anyone who read it can open the sealed values; log in again to replace them`,
          );
        } catch {
          warn(`key file ${keyPath} is open to other users (mode ${mode}): run chmod 600 ${keyPath}`);
        }
      } else {
        warn(`key file ${keyPath} is open to other users (mode ${mode}): run chmod 600 ${keyPath}`);
      }
    }
    bytes = readFileSync(fd);
  } catch (error) {
    if (error instanceof AuthctlError) throw error;
    throw new AuthctlError("STORE_IO", `could not read key file ${keyPath}: ${describeIoError(error)}`, {
      cause: error,
    });
  } finally {
    closeSync(fd);
  }
  if (bytes.length !== 32) {
    throw new AuthctlError(
      "STORE_CORRUPT",
      `key file ${keyPath} is not a 32-byte key (${bytes.length} bytes)`,
      {
        hint: "restore the key file from where you keep it; without it the sealed values cannot be opened ('authctl store reset' starts over)",
      },
    );
  }
  return bytes;
}

/** Creates the key file with O_EXCL, 0600 from birth. Call only under the store's lock. */
function createKeyFile(keyPath: string): Buffer {
  const key = nodeCrypto().randomBytes(32);
  let fd: number | undefined;
  try {
    fd = openSync(keyPath, "wx", 0o600);
    writeSync(fd, key);
    fsyncSync(fd);
  } catch (error) {
    throw new AuthctlError("STORE_IO", `could not create key file ${keyPath}: ${describeIoError(error)}`, {
      cause: error,
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return key;
}

function checkKey(key: Buffer, params: KeyParams, format: 1 | 2): boolean {
  // Format 2 always has a check value; only format-1 files written before it existed lack one.
  if (!isSealed(params.key_check)) return format === 1;
  return openWith(key, params.key_check, Buffer.from(KEY_CHECK[format].aad)) === KEY_CHECK[format].text;
}

/** The key as a format-2 store records it: a format-2 check value (the same one when it still fits, so an unchanged store is not rewritten). */
function withCheck(source: "file" | "passphrase", key: Buffer, params: KeyParams): SealingKey {
  const reuse = params.key_source === source && checkKey(key, params, 2);
  const check = reuse ? params.key_check! : sealWith(key, KEY_CHECK[2].text, Buffer.from(KEY_CHECK[2].aad));
  const out: KeyParams = { key_source: source };
  if (source === "passphrase")
    Object.assign(out, {
      kdf: params.kdf,
      kdf_salt: params.kdf_salt,
      kdf_n: params.kdf_n,
      kdf_r: params.kdf_r,
      kdf_p: params.kdf_p,
    });
  out.key_check = check;
  return sealingKey(source, key, out);
}

function mismatch(storePath: string, keyPath: string): AuthctlError {
  return new AuthctlError(
    "CONFIG_INVALID",
    `credentials store ${storePath} is sealed with the key file ${keyPath}, but AUTHCTL_PASSPHRASE is set`,
    {
      hint: "unset AUTHCTL_PASSPHRASE to keep using the key file, or run 'authctl store seal --with passphrase' to seal the store with the passphrase instead",
    },
  );
}

export interface KeyOptions {
  home: string;
  storePath: string;
  passphrase: string | undefined;
  /** The store's format: 1 (before record MACs) or 2. Decides which check value must open. */
  format: 1 | 2;
  warn(message: string): void;
  /** `store seal --with …` is under way: a passphrase set for a key-file store is the new source, not a mismatch. */
  change?: "file" | "passphrase";
  /** The key file's bytes, read ahead without node:fs (backend-store.ts readQuickly); else read here. */
  keyFile?: Buffer;
}

/**
 * The key that opens the store's sealed values, as its top-level fields describe it. Throws a
 * clear error naming the store when it is missing or wrong, or when AUTHCTL_PASSPHRASE is set
 * for a store the key file seals (a mismatch, never silently resolved).
 */
export function loadOpeningKey(params: KeyParams, options: KeyOptions): SealingKey {
  const { home, storePath, passphrase, format } = options;
  const keyPath = join(home, KEY_FILE);
  if (params.key_source === "passphrase") {
    if (!passphrase) {
      throw new StoreKeyError(
        "passphrase",
        "missing",
        `credentials store ${storePath} is sealed with a passphrase`,
        "set AUTHCTL_PASSPHRASE to it (if it is lost, 'authctl store reset' starts over, and says what that loses)",
      );
    }
    if (typeof params.kdf_salt !== "string" || params.kdf !== "scrypt") {
      throw new AuthctlError(
        "STORE_CORRUPT",
        `credentials store ${storePath} names no usable key derivation (kdf, kdf_salt)`,
      );
    }
    const key = deriveFromPassphrase(
      passphrase,
      Buffer.from(params.kdf_salt, "base64"),
      scryptParams(params, storePath),
    );
    if (!checkKey(key, params, format)) {
      throw new StoreKeyError(
        "passphrase",
        "wrong",
        `AUTHCTL_PASSPHRASE does not open credentials store ${storePath} (wrong passphrase)`,
        "set AUTHCTL_PASSPHRASE to the passphrase the store was sealed with",
      );
    }
    return sealingKey("passphrase", key, params);
  }
  if (passphrase && !options.change) throw mismatch(storePath, keyPath);
  const key = options.keyFile ?? readKeyFile(keyPath, options.warn);
  if (!key) {
    throw new StoreKeyError(
      "key-file",
      "missing",
      `credentials store ${storePath} holds sealed values but the key file ${keyPath} is missing`,
      "restore the key file; if it is lost, 'authctl store reset' starts a new store (it lists what is lost) and 'authctl login' stores them again",
    );
  }
  if (!checkKey(key, params, format)) {
    throw new StoreKeyError(
      "key-file",
      "wrong",
      `key file ${keyPath} does not open credentials store ${storePath} (wrong key)`,
      "restore the key file the store was sealed with (or 'authctl store reset' to start over)",
    );
  }
  return sealingKey("file", key, params);
}

/**
 * Opens ahead, with crypto.subtle (see _aead.ts), what loadOpeningKey and the encrypted backend
 * will open synchronously with this key: the check value and every sealed value of these records,
 * with the additional data each is opened with. So `env` on a sealed store loads no node:crypto.
 */
export async function openStoreAhead(
  key: Buffer,
  params: KeyParams,
  format: 1 | 2,
  records: Record<string, StoredCredential>,
): Promise<void> {
  const values: Array<{ sealed: string; additional: Buffer }> = [];
  if (isSealed(params.key_check))
    values.push({ sealed: params.key_check, additional: Buffer.from(KEY_CHECK[format].aad) });
  for (const [id, raw] of Object.entries(records)) {
    for (const [field, value] of listStrings(raw))
      if (isSealed(value)) values.push({ sealed: value, additional: aad(id, field) });
  }
  await openAheadAesGcm(key, values);
}

/** True when the store's passphrase derivation is weaker than what new stores get. */
function isWeakDerivation(params: KeyParams): boolean {
  return (
    params.kdf_n === undefined || params.kdf_n < SCRYPT_DEFAULT.N || (params.kdf_r ?? 0) < SCRYPT_DEFAULT.r
  );
}

/**
 * A fresh salt and today's parameters. A new seal (a first login, `store seal`) refuses a weak
 * passphrase; re-deriving an existing store's key with stronger parameters only says it is weak,
 * so that a refresh never fails on a rule the store was created before.
 */
function newPassphraseKey(passphrase: string, strict: boolean, warn: (message: string) => void): SealingKey {
  if (strict) checkPassphraseStrength(passphrase);
  else {
    try {
      checkPassphraseStrength(passphrase);
    } catch (error) {
      warn(
        `${(error as Error).message}; run 'authctl store seal --with key-file', then 'authctl store seal --with passphrase' with a stronger one`,
      );
    }
  }
  const salt = nodeCrypto().randomBytes(16);
  const key = deriveFromPassphrase(passphrase, salt, SCRYPT_DEFAULT);
  return withCheck("passphrase", key, {
    kdf: "scrypt",
    kdf_salt: salt.toString("base64"),
    kdf_n: SCRYPT_DEFAULT.N,
    kdf_r: SCRYPT_DEFAULT.r,
    kdf_p: SCRYPT_DEFAULT.p,
  });
}

/**
 * The key new values are sealed with. A store that is sealed already keeps its source (the key
 * file, or the passphrase: re-derived with today's scrypt parameters when its own are weaker);
 * a new one is sealed with AUTHCTL_PASSPHRASE when set, else the key file, created on first use.
 * `change` is `store seal --with …`: the one way to switch. Call under the lock.
 */
export function loadSealingKey(params: KeyParams, options: KeyOptions, opening?: SealingKey): SealingKey {
  const { home, storePath, passphrase, change } = options;
  const keyPath = join(home, KEY_FILE);
  const current = opening?.source;
  const source = change ?? current ?? (passphrase ? "passphrase" : "file");
  if (source === "passphrase") {
    if (!passphrase) {
      throw new AuthctlError("USAGE", "sealing the store with a passphrase needs AUTHCTL_PASSPHRASE", {
        hint: `set AUTHCTL_PASSPHRASE (${PASSPHRASE_RULE})`,
      });
    }
    if (current === "passphrase" && opening && !change) {
      return isWeakDerivation(opening.params)
        ? newPassphraseKey(passphrase, false, options.warn)
        : withCheck("passphrase", opening.key, opening.params);
    }
    return newPassphraseKey(passphrase, true, options.warn);
  }
  if (passphrase && !change) throw mismatch(storePath, keyPath);
  if (current === "file" && opening) return withCheck("file", opening.key, params);
  return withCheck("file", readKeyFile(keyPath, options.warn) ?? createKeyFile(keyPath), params);
}
