/**
 * The plain-file credential store: `$AUTHCTL_HOME/credentials.toml`, mode 0600 in a 0700
 * directory. Reads take no lock (the file is only ever replaced by rename, so a reader sees a
 * whole old or whole new file); every change is a locked read-modify-write, so concurrent
 * authctl processes neither lose each other's changes nor refresh a rotating token twice.
 */
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
} from "../lazy-fs.ts";
import { basename, dirname, join } from "../lazy-path.ts";
import { AuthctlError, errorCode } from "../errors.ts";
import {
  describeIoError,
  ensurePrivateDirectory,
  removeLeftoverTempFiles,
  writeFileAtomic,
} from "./atomic-write.ts";
import { CREDENTIALS_FILE, type CredentialsDocument, parseCredentialsFile } from "./credentials-file.ts";
import { serializeCredentialsFile } from "./credentials-file-write.ts";
import { processEffects } from "../io/process-probe.ts";
import { acquireLock } from "./lock.ts";
import { readQuickly, STORE_READ, USE_NODE_FS } from "./quick-read.ts";
import { assertMayCreateIn, assertTrusted, ownerOfNearest } from "./trust.ts";
import type { FileStoreOptions } from "./types.ts";

export { CREDENTIALS_FILE };
const DEFAULT_LOCK_TIMEOUT_MS = 15_000;
const DEFAULT_STALE_LOCK_MS = 120_000;

function ioError(action: string, path: string, error: unknown): AuthctlError {
  return new AuthctlError("STORE_IO", `could not ${action} ${path}: ${describeIoError(error)}`, {
    cause: error,
  });
}

/** The store's text, or undefined when there is no store. Bytes that are not UTF-8 are refused, not replaced. */
function readStoreText(path: string): string | undefined {
  let bytes: Uint8Array;
  let fd: number;
  try {
    // Non-blocking: a FIFO put in the store's place is refused below instead of hanging the read.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw ioError("read credentials store", path, error);
  }
  try {
    if (!fstatSync(fd).isFile()) {
      throw new AuthctlError("STORE_CORRUPT", `credentials store ${path} is not a regular file`, {
        hint: `move it aside (authctl will not use it): mv ${path} ${path}.moved`,
      });
    }
    bytes = readFileSync(fd);
  } catch (error) {
    if (error instanceof AuthctlError) throw error;
    throw ioError("read credentials store", path, error);
  } finally {
    closeSync(fd);
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

/**
 * A store other users could read: the file and the directory are tightened (0600, 0700) when they
 * are ours, with one warning saying so, so that the next command has nothing to say. Files other
 * users may write never get here (trust.ts refuses them).
 */
function fixModes(path: string): string[] {
  if (process.platform === "win32") return [];
  const warnings: string[] = [];
  const me = process.getuid?.();
  const tighten = (target: string, mode: number, wanted: number, what: string) => {
    if (!(mode & 0o077)) return;
    const was = octal(mode);
    try {
      if (statSync(target).uid !== me) throw new Error("not ours");
      chmodSync(target, wanted);
      warnings.push(`${what} was open to other users (mode ${was}): changed to ${octal(wanted)}`);
    } catch {
      warnings.push(
        `${what} is open to other users (mode ${was}): run chmod ${wanted.toString(8)} ${target}`,
      );
    }
  };
  try {
    tighten(path, statSync(path).mode, 0o600, path);
    const dir = dirname(path);
    tighten(dir, statSync(dir).mode, 0o700, dir);
  } catch {
    // Gone since it was read: nothing to warn about.
  }
  return warnings;
}

/** The lock must be a file authctl can create and remove: a FIFO there would hang every waiter. */
function assertRegularOrAbsent(lockPath: string): void {
  try {
    if (lstatSync(lockPath).isFile()) return;
  } catch (error) {
    if (errorCode(error) === "ENOENT") return;
    throw ioError("check the lock", lockPath, error);
  }
  throw new AuthctlError(
    "STORE_IO",
    `the store's lock ${lockPath} is not a regular file; authctl will not wait on it`,
    { hint: `remove it: rm ${lockPath}` },
  );
}

function emptyDocument(): CredentialsDocument {
  return { version: 1, credentials: Object.create(null), preserved: Object.create(null) };
}

/** What a backend gets while it holds the store's lock: the document as on disk, and a way to replace it. */
export interface LockedStoreFile {
  /** The document read under the lock (a fresh copy: the caller may change it). */
  document: CredentialsDocument;
  /** Atomically replaces the file with `document`; does nothing when the text would not change. */
  write(document: CredentialsDocument): void;
  /** True when writing `document` would leave the file as it is. */
  unchanged(document: CredentialsDocument): boolean;
}

export interface StoreFileRead {
  document: CredentialsDocument;
  exists: boolean;
  warnings: string[];
}

/**
 * The file every backend keeps its index in: `credentials.toml`, read lock-free and replaced
 * atomically under the cross-process lock. The plain-file store is this file and nothing more;
 * the encrypted and keyring backends seal or move the secret fields around it.
 */
export interface StoreFile {
  readonly path: string;
  readonly home: string;
  readDocument(): StoreFileRead;
  /**
   * readDocument without node:fs in the usual case (store/quick-read.ts), for `env`, `token` and
   * `exec`; anything unusual is read by readDocument itself. Reads the file every time, as readDocument does.
   */
  readDocumentQuickly(): Promise<StoreFileRead>;
  withLock<T>(fn: (locked: LockedStoreFile) => T | Promise<T>): Promise<T>;
  /**
   * Throws unless a write could succeed, without taking the lock or writing anything: the store
   * and its directory are this user's and not writable by others, the directory (or the parent it
   * would be created in) is writable, and the lock is not something other than a file.
   */
  assertWritable(): void;
  /**
   * Under the lock, renames the store to `credentials.toml.reset-<time>` without reading it (it may
   * not open or even parse): `store reset`. Returns the new name, undefined when there was no store.
   */
  moveAside(now: Date): Promise<string | undefined>;
}

export function createStoreFile(home: string, options: FileStoreOptions = {}): StoreFile {
  const path = join(home, CREDENTIALS_FILE);
  const lockPath = `${path}.lock`;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const staleLockMs = options.staleLockMs ?? DEFAULT_STALE_LOCK_MS;
  let fx = options.effects;
  const effects = () => (fx ??= processEffects());
  const lockOptions = () => ({ timeoutMs: lockTimeoutMs, staleMs: staleLockMs, effects: effects() });

  const readDocument = (): StoreFileRead => {
    assertTrusted(home, "authctl's directory", "directory");
    assertTrusted(path, "credentials.toml");
    const text = readStoreText(path);
    if (text === undefined) return { document: emptyDocument(), exists: false, warnings: [] };
    return { document: parseCredentialsFile(text, path), exists: true, warnings: fixModes(path) };
  };

  return {
    path,
    home,
    readDocument,
    async readDocumentQuickly() {
      const read = await readQuickly(home, path, STORE_READ);
      if (read === USE_NODE_FS) return readDocument();
      if (read.text === undefined) return { document: emptyDocument(), exists: false, warnings: [] };
      const document = parseCredentialsFile(read.text, path);
      // Modes to tighten: fixModes does it (and says so) through node:fs, as readDocument would.
      const open = ((read.fileMode ?? 0) | (read.dirMode ?? 0)) & 0o077;
      return { document, exists: true, warnings: open ? fixModes(path) : [] };
    },

    assertWritable() {
      assertTrusted(home, "authctl's directory", "directory");
      assertTrusted(path, "credentials.toml");
      assertMayCreateIn(home, "authctl's directory");
      const target = existsSync(home) ? home : ownerOfNearest(home)?.path;
      if (target) {
        try {
          accessSync(target, constants.W_OK);
        } catch (error) {
          throw new AuthctlError(
            "STORE_IO",
            `cannot save credentials: ${target} is not writable (${describeIoError(error)})`,
            {
              hint: existsSync(home)
                ? `check the permissions of ${home}, or set AUTHCTL_HOME to a writable directory`
                : `set AUTHCTL_HOME to a writable directory`,
              cause: error,
            },
          );
        }
      }
      assertRegularOrAbsent(lockPath);
    },

    async moveAside(now: Date): Promise<string | undefined> {
      if (!existsSync(path)) return undefined;
      const lock = await acquireLock(lockPath, lockOptions());
      try {
        const stamp = now
          .toISOString()
          .replace(/[-:]/g, "")
          .replace(/\.\d+Z$/, "Z");
        const aside = `${path}.reset-${stamp}`;
        try {
          renameSync(path, aside);
        } catch (error) {
          if (errorCode(error) === "ENOENT") return undefined;
          throw ioError("move aside", path, error);
        }
        return aside;
      } finally {
        lock.release();
      }
    },

    async withLock<T>(fn: (locked: LockedStoreFile) => T | Promise<T>): Promise<T> {
      assertTrusted(home, "authctl's directory", "directory");
      assertTrusted(path, "credentials.toml");
      assertMayCreateIn(home, "authctl's directory");
      try {
        ensurePrivateDirectory(home);
      } catch (error) {
        throw ioError("create", home, error);
      }
      const lock = await acquireLock(lockPath, lockOptions());
      try {
        // Re-read under the lock: the snapshot the caller decided on may be out of date.
        const text = readStoreText(path);
        const document = text === undefined ? emptyDocument() : parseCredentialsFile(text, path);
        let onDisk =
          text === undefined ? serializeCredentialsFile(emptyDocument()) : serializeCredentialsFile(document);
        const write = (next: CredentialsDocument): void => {
          const after = serializeCredentialsFile(next);
          if (after === onDisk) return;
          // Never write what the next read would reject.
          try {
            parseCredentialsFile(after, path);
          } catch (error) {
            throw new AuthctlError(
              "INTERNAL",
              "the credential store would not read back; nothing was written",
              { cause: error },
            );
          }
          if (!lock.isHeld()) {
            throw new AuthctlError(
              "STORE_LOCKED",
              `lost the lock on ${path} (another process judged it stale); nothing was written`,
              {
                hint: "run the command again",
              },
            );
          }
          // Any temporary file present while we hold the lock belongs to a writer that died.
          removeLeftoverTempFiles(
            path,
            (pid, ageMs) => pid === effects().pid || ageMs > staleLockMs || !effects().isProcessAlive(pid),
          );
          writeFileAtomic(path, after);
          onDisk = after;
        };
        const unchanged = (next: CredentialsDocument): boolean => serializeCredentialsFile(next) === onDisk;
        return await fn({ document, write, unchanged });
      } finally {
        lock.release();
      }
    },
  };
}
