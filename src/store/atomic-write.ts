/**
 * Replacing a file that holds secrets without ever exposing or truncating it: the new content
 * goes to a temporary file in the same directory, created 0600 before any byte is written, is
 * flushed to disk, then renamed over the target (rename(2) is atomic within a file system), and
 * the directory entry is flushed too. Readers see the old file or the new one, never a mix.
 */
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "../lazy-fs.ts";
import { basename, dirname, join } from "../lazy-path.ts";
import { AuthctlError, errorCode } from "../errors.ts";

const IS_WINDOWS = process.platform === "win32";

/** "EACCES: permission denied" from a Node fs error, without the path (the caller names it). */
export function describeIoError(error: unknown): string {
  if (error instanceof Error) return error.message.split(",", 1)[0] ?? error.message;
  return String(error);
}

/** Creates `dir` (and missing parents) as 0700. A directory that already exists is left as it is. */
export function ensurePrivateDirectory(dir: string): void {
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode passes through the umask; a directory we created gets exactly 0700.
  if (created !== undefined && !IS_WINDOWS) chmodSync(dir, 0o700);
}

/**
 * A symlinked store (dotfile managers do this) is written through the link, so the link survives
 * and the temporary file lands on the same file system as the real file.
 */
function resolveTarget(target: string): string {
  try {
    if (lstatSync(target).isSymbolicLink()) return realpathSync(target);
  } catch {
    // Missing file or dangling link: write at the path as given.
  }
  return target;
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function tempPrefix(target: string): string {
  return `${basename(target)}.tmp-`;
}

/** Flushes the directory entry of a rename. Best effort: some platforms cannot open a directory. */
function syncDirectory(dir: string): void {
  if (IS_WINDOWS) return;
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // The rename has happened; failing the command now would report a write that succeeded.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Atomically replaces `target` with `data` (mode 0600, directory 0700). Throws STORE_IO; leaves no temporary file behind. */
export function writeFileAtomic(target: string, data: string): void {
  const finalPath = resolveTarget(target);
  const dir = dirname(finalPath);
  const temp = join(dir, `${tempPrefix(finalPath)}${process.pid}-${randomSuffix()}`);
  let fd: number | undefined;
  let created = false;
  try {
    ensurePrivateDirectory(dir);
    // "wx" is O_CREAT|O_EXCL: the file is new, ours, and born with mode 0600 before any byte.
    fd = openSync(temp, "wx", 0o600);
    created = true;
    // The umask can only remove bits; fchmod makes the mode exactly 0600 whatever it was.
    if (!IS_WINDOWS) fchmodSync(fd, 0o600);
    const bytes = new TextEncoder().encode(data);
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, finalPath);
  } catch (error) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Already failing; the original error is the one to report.
      }
    }
    if (created) {
      try {
        unlinkSync(temp);
      } catch {
        // Renamed already, or gone.
      }
    }
    throw new AuthctlError("STORE_IO", `could not write ${target}: ${describeIoError(error)}`, {
      hint: `check the permissions of ${dir} and the free space on its disk`,
      cause: error,
    });
  }
  syncDirectory(dir);
}

/**
 * Removes temporary files a killed writer left next to `target` (they hold secrets). `isLeftover`
 * gets the writer's pid from the name and the file's age; call this only while holding the store's
 * lock, so that no live writer is using one of them.
 */
export function removeLeftoverTempFiles(
  target: string,
  isLeftover: (pid: number, ageMs: number) => boolean,
): void {
  const finalPath = resolveTarget(target);
  const dir = dirname(finalPath);
  const prefix = tempPrefix(finalPath);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split("-", 1)[0]);
    if (!Number.isSafeInteger(pid) || pid <= 0) continue;
    try {
      const path = join(dir, name);
      if (isLeftover(pid, Date.now() - statSync(path).mtimeMs)) unlinkSync(path);
    } catch {
      // Gone already, or not ours to remove: harmless either way.
    }
  }
}
