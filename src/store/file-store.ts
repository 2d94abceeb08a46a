/**
 * The plain-file credential store: `$AUTHCTL_HOME/credentials.toml`, mode 0600 in a 0700
 * directory. Reads take no lock (the file is only ever replaced by rename, so a reader sees a
 * whole old or whole new file); every change is a locked read-modify-write, so concurrent
 * authctl processes neither lose each other's changes nor refresh a rotating token twice.
 */
import { readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { AuthctlError, errorCode } from "../errors.ts";
import { describeIoError, ensurePrivateDirectory, removeLeftoverTempFiles, writeFileAtomic } from "./atomic-write.ts";
import { type CredentialsDocument, parseCredentialsFile, serializeCredentialsFile } from "./credentials-file.ts";
import { acquireLock, isProcessAlive } from "./lock.ts";
import type { Credentials, CredentialStore, FileStoreOptions, StoreSnapshot } from "./types.ts";

export const CREDENTIALS_FILE = "credentials.toml";
const DEFAULT_LOCK_TIMEOUT_MS = 15_000;
const DEFAULT_STALE_LOCK_MS = 120_000;

function ioError(action: string, path: string, error: unknown): AuthctlError {
  return new AuthctlError("STORE_IO", `could not ${action} ${path}: ${describeIoError(error)}`, { cause: error });
}

/** The store's text, or undefined when there is no store. Bytes that are not UTF-8 are refused, not replaced. */
function readStoreText(path: string): string | undefined {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw ioError("read credentials store", path, error);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new AuthctlError("STORE_CORRUPT", `credentials store ${path} is not UTF-8 text`, {
      hint: "fix or move the file aside; authctl will not overwrite it",
      cause: error,
      detail: { path },
    });
  }
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

/** Warnings for a store other users could read or change. The file's mode is fixed by the next write. */
function modeWarnings(path: string): string[] {
  if (process.platform === "win32") return [];
  const warnings: string[] = [];
  try {
    const mode = statSync(path).mode;
    if (mode & 0o077) {
      const how = mode & 0o044 ? "readable" : "writable";
      warnings.push(`${basename(path)} is ${how} by other users (mode ${octal(mode)}): run chmod 600 ${path}`);
    }
    const dir = dirname(path);
    const dirMode = statSync(dir).mode;
    if (dirMode & 0o077) {
      warnings.push(`${dir} is open to other users (mode ${octal(dirMode)}): run chmod 700 ${dir}`);
    }
  } catch {
    // Gone since it was read: nothing to warn about.
  }
  return warnings;
}

function emptyDocument(): CredentialsDocument {
  return { version: 1, credentials: Object.create(null), preserved: Object.create(null) };
}

/** What a backend gets while it holds the store's lock: the document as on disk, and a way to replace it. */
export interface LockedStoreFile {
  /** The document read under the lock (a fresh copy: the caller may change it). */
  document: CredentialsDocument;
  /** True when the file existed when the lock was taken. */
  existed: boolean;
  /** Atomically replaces the file with `document`; does nothing when the text would not change. */
  write(document: CredentialsDocument): void;
  /** True when writing `document` would leave the file as it is. */
  unchanged(document: CredentialsDocument): boolean;
}

/**
 * The file every backend keeps its index in: `credentials.toml`, read lock-free and replaced
 * atomically under the cross-process lock. The plain-file store is this file and nothing more;
 * the encrypted and keyring backends seal or move the secret fields around it.
 */
export interface StoreFile {
  readonly path: string;
  readonly home: string;
  readDocument(): { document: CredentialsDocument; exists: boolean; warnings: string[] };
  withLock<T>(fn: (locked: LockedStoreFile) => T | Promise<T>): Promise<T>;
}

export function createStoreFile(home: string, options: FileStoreOptions = {}): StoreFile {
  const path = join(home, CREDENTIALS_FILE);
  const lockPath = `${path}.lock`;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const staleLockMs = options.staleLockMs ?? DEFAULT_STALE_LOCK_MS;

  return {
    path,
    home,
    readDocument() {
      const text = readStoreText(path);
      if (text === undefined) return { document: emptyDocument(), exists: false, warnings: [] };
      return { document: parseCredentialsFile(text, path), exists: true, warnings: modeWarnings(path) };
    },

    async withLock<T>(fn: (locked: LockedStoreFile) => T | Promise<T>): Promise<T> {
      try {
        ensurePrivateDirectory(home);
      } catch (error) {
        throw ioError("create", home, error);
      }
      const lock = await acquireLock(lockPath, { timeoutMs: lockTimeoutMs, staleMs: staleLockMs });
      try {
        // Re-read under the lock: the snapshot the caller decided on may be out of date.
        const text = readStoreText(path);
        const document = text === undefined ? emptyDocument() : parseCredentialsFile(text, path);
        let onDisk = text === undefined ? serializeCredentialsFile(emptyDocument()) : serializeCredentialsFile(document);
        const write = (next: CredentialsDocument): void => {
          const after = serializeCredentialsFile(next);
          if (after === onDisk) return;
          // Never write what the next read would reject.
          try {
            parseCredentialsFile(after, path);
          } catch (error) {
            throw new AuthctlError("INTERNAL", "the credential store would not read back; nothing was written", { cause: error });
          }
          if (!lock.isHeld()) {
            throw new AuthctlError("STORE_LOCKED", `lost the lock on ${path} (another process judged it stale); nothing was written`, {
              hint: "run the command again",
            });
          }
          // Any temporary file present while we hold the lock belongs to a writer that died.
          removeLeftoverTempFiles(path, (pid, ageMs) => pid === process.pid || ageMs > staleLockMs || !isProcessAlive(pid));
          writeFileAtomic(path, after);
          onDisk = after;
        };
        const unchanged = (next: CredentialsDocument): boolean => serializeCredentialsFile(next) === onDisk;
        return await fn({ document, existed: text !== undefined, write, unchanged });
      } finally {
        lock.release();
      }
    },
  };
}

/** The plain-file store: secrets in clear in a 0600 file. */
export function createFileStore(home: string, options: FileStoreOptions = {}): CredentialStore {
  const file = createStoreFile(home, options);
  const read = (): StoreSnapshot => {
    const { document, exists, warnings } = file.readDocument();
    const backends: Record<string, "file"> = Object.create(null);
    for (const id of Object.keys(document.credentials)) backends[id] = "file";
    return { credentials: document.credentials, backends, path: file.path, exists, warnings };
  };
  return {
    path: file.path,
    backend: "file",
    read,
    async readSecrets(id: string) {
      return read().credentials[id];
    },
    update<T>(fn: (credentials: Credentials) => T | Promise<T>): Promise<T> {
      return file.withLock(async (locked) => {
        const result = await fn(locked.document.credentials);
        locked.write(locked.document);
        return result;
      });
    },
  };
}
