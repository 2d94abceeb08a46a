/**
 * The plain-file credential store: `$AUTHCTL_HOME/credentials.toml`, mode 0600 in a 0700
 * directory. Reads take no lock (the file is only ever replaced by rename, so a reader sees a
 * whole old or whole new file); every change is a locked read-modify-write, so concurrent
 * authctl processes neither lose each other's changes nor refresh a rotating token twice.
 */
import { readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { AuthctlError } from "../errors.ts";
import { describeIoError, ensurePrivateDirectory, errorCode, removeLeftoverTempFiles, writeFileAtomic } from "./atomic-write.ts";
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
  return { credentials: Object.create(null), preserved: Object.create(null) };
}

export function createFileStore(home: string, options: FileStoreOptions = {}): CredentialStore {
  const path = join(home, CREDENTIALS_FILE);
  const lockPath = `${path}.lock`;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const staleLockMs = options.staleLockMs ?? DEFAULT_STALE_LOCK_MS;

  return {
    path,

    read(): StoreSnapshot {
      const text = readStoreText(path);
      if (text === undefined) return { credentials: Object.create(null), path, exists: false, warnings: [] };
      const { credentials } = parseCredentialsFile(text, path);
      return { credentials, path, exists: true, warnings: modeWarnings(path) };
    },

    async update<T>(fn: (credentials: Credentials) => T | Promise<T>): Promise<T> {
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
        const before = serializeCredentialsFile(document);
        const result = await fn(document.credentials);
        const after = serializeCredentialsFile(document);
        if (after === before) return result;

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
        return result;
      } finally {
        lock.release();
      }
    },
  };
}
