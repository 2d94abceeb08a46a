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
import { StoreKeyError } from "./errors.ts";
import { sealAesGcm } from "./_aead.ts";
import { isSealed, KEY_FILE, KEY_PARAM_FIELDS, type KeyParams, SEALED_PREFIX } from "./sealed.ts";
import {
  aad,
  checkKey,
  KEY_CHECK,
  openingKeyFromFile,
  openStoreAhead,
  openValue,
  type SealingKey,
  sealingKey,
} from "./opening.ts";

export { isSealed, KEY_FILE, KEY_PARAM_FIELDS, type KeyParams, SEALED_PREFIX };
// The opening half lives in opening.ts (the usual case of `env` opens a key-file store with it).
export { openStoreAhead, openValue, type SealingKey };

/**
 * node:crypto loads on first use: it costs a compiled binary about 4 MB of memory (measured with
 * /usr/bin/time), and \`env\` on a plain file store never needs it.
 */
const nodeCrypto = () => require("node:crypto") as typeof import("node:crypto");

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

const sealWith = sealAesGcm;

export function sealValue(key: SealingKey, id: string, field: string, plaintext: string): string {
  return sealWith(key.key, plaintext, aad(id, field));
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
  return openingKeyFromFile(
    options.keyFile ?? readKeyFile(keyPath, options.warn),
    params,
    format,
    storePath,
    keyPath,
  );
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
