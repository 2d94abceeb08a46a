/**
 * Project files: `.authctl.toml`, found from the working directory upward, selects the credentials
 * `env` and `exec` hand out when no provider is named:
 *
 *     providers = ["openrouter@work", "anthropic"]
 *
 * A cloned repository must not decide which of a person's credentials a command hands out, so a
 * project file is used only once `authctl allow` recorded its real path and SHA-256 (as `direnv
 * allow` records an .envrc); a changed file needs a new `allow`. It may select credentials and
 * nothing else: any other key (an endpoint, an `env` map, a store) is an error, so a project can
 * never say where a credential goes.
 *
 * This runs on the hot path (`env` and `exec` without providers): finding the file is two stat
 * calls per directory up the tree, and the file, the hash and the allow list are read only when
 * one is found. SHA-256 comes from Bun.CryptoHasher, which needs no module (node:crypto costs a
 * compiled binary about 4 MB of memory, see _integrity.ts).
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  realpathSync,
  statSync,
} from "../lazy-fs.ts";
import { basename, dirname, join } from "../lazy-path.ts";
import { parse, TomlError } from "smol-toml";
import { AuthctlError } from "../errors.ts";
import { parseAccountRef } from "../store/accounts.ts";
import { USE_NODE_FS } from "../store/quick-read.ts";
import { myUid } from "../store/trust.ts";

export const PROJECT_FILE_NAME = ".authctl.toml";

/** A project file as read: where it is, what it selects, and the digest `allow` records. */
export interface ProjectFile {
  /** As found (the working directory's spelling). */
  path: string;
  /**
   * The key of the allow list: the real path of the directory it was found in, and its name
   * there. A symbolic link's target is not the key: a link elsewhere to an allowed file would
   * otherwise carry that file's trust (and its selection) to a directory nobody allowed.
   */
  realPath: string;
  sha256: string;
  providers: string[];
}

function statQuietly(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    // A directory we may not search (EACCES), a loop: nothing to be found there.
    return undefined;
  }
}

/** A project file the search passed over: another user's (see findProjectFile). */
export interface ForeignProjectFile {
  path: string;
  owner: number;
}

function statEntryQuietly(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/**
 * The owner of a project file found at `path` when it is neither this user nor root, else
 * undefined. Both the directory entry and, for a symbolic link, the file it leads to count:
 * another user's link to one of this user's files is still theirs to replace.
 */
function foreignOwner(
  path: string,
  target: { uid: number | bigint },
  me: number | undefined,
): number | undefined {
  if (me === undefined) return undefined;
  for (const uid of [statEntryQuietly(path)?.uid, target.uid]) {
    if (uid !== undefined && Number(uid) !== me && Number(uid) !== 0) return Number(uid);
  }
  return undefined;
}

/**
 * The nearest `.authctl.toml` from `cwd` upward, as git looks for `.git`:
 *  - the search ends at the filesystem root;
 *  - it does not cross into a parent on another file system (git's default without
 *    GIT_DISCOVERY_ACROSS_FILESYSTEM): the mount point's own directory is the last one searched,
 *    so a volume mounted under someone else's tree is not steered by a file above it;
 *  - when the working directory is inside the user's home, the home directory is the last one
 *    searched: `/home/.authctl.toml` is not the user's to decide (and is not searched for).
 * Only a regular file counts (a symbolic link to one included), and only one of this user's or
 * root's: another user's is passed over as if absent, and the search goes on upward. Outside
 * $HOME the search reaches shared directories (/tmp, /srv, a checkout in /var), where anyone may
 * put a `.authctl.toml`; it is never used unallowed, but an unknown file makes `env` and `exec`
 * fail (exit 1), so another local user could stop them in every directory below theirs. Git
 * refuses a repository owned by someone else (safe.directory, CVE-2022-24765) because a .git
 * runs code; a project file selects, so passing over it is enough, and stopping at it instead
 * would let it hide the user's own project file above it (and `env` would then hand out every
 * credential instead of the project's selection). Files passed over are added to `foreign`, for
 * `allow` and `deny` to name.
 */
export function findProjectFile(
  cwd: string,
  userHome?: string,
  foreign?: ForeignProjectFile[],
): string | undefined {
  const me = myUid();
  const homes = new Set<string>();
  if (userHome) {
    homes.add(userHome.replace(/\/+$/, "") || "/");
    try {
      homes.add(realpathSync(userHome));
    } catch {
      // A HOME that does not exist bounds nothing.
    }
  }
  let dir = cwd;
  let device = statQuietly(dir)?.dev;
  for (;;) {
    const path = join(dir, PROJECT_FILE_NAME);
    const candidate = statQuietly(path);
    if (candidate?.isFile()) {
      const owner = foreignOwner(path, candidate, me);
      if (owner === undefined) return path;
      foreign?.push({ path, owner });
    }
    if (homes.has(dir)) return undefined;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    const parentDevice = statQuietly(parent)?.dev;
    if (device !== undefined && parentDevice !== undefined && parentDevice !== device) return undefined;
    dir = parent;
    device = parentDevice;
  }
}

/**
 * findProjectFile's usual answer, "there is none", found through Bun's file API: the search is
 * a stat per directory up the tree, and node:fs costs a compiled binary about 5 MiB of memory
 * (`env` without a provider, issue 18). Anything else returns USE_NODE_FS and the caller asks
 * findProjectFile, which decides: a file there (a project needs node:fs to be read, hashed and
 * checked anyway), a directory that does not stat, a HOME that does not, or a directory that is
 * the user's home under another spelling than $HOME (findProjectFile compares real paths).
 */
export async function findNoProjectFileQuickly(
  cwd: string,
  userHome?: string,
): Promise<undefined | typeof USE_NODE_FS> {
  const stat = async (path: string) => {
    try {
      return await Bun.file(path).stat();
    } catch {
      return undefined;
    }
  };
  // $HOME without trailing slashes, as findProjectFile spells it (a loop: no regex on the hot path).
  let end = userHome?.length ?? 0;
  while (end > 0 && userHome!.charCodeAt(end - 1) === 47) end--;
  const home = userHome ? userHome.slice(0, end) || "/" : undefined;
  // The directories the walk below may visit, from cwd up to the root (textual parents, as
  // findProjectFile walks), and every answer it may need, asked at once: Bun's file API answers on
  // its thread pool, and a round trip per step cost `env` ~0.2 ms per directory (issue 18). The
  // walk then decides on these answers exactly as it did one step at a time; what it asks beyond
  // where it stops (the directories above $HOME) is only looked at, never used.
  const dirs: string[] = [];
  for (let dir = cwd; ; ) {
    dirs.push(dir);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const [homeStat, stats, files] = await Promise.all([
    userHome ? stat(userHome) : undefined,
    Promise.all(dirs.map(stat)),
    // exists() is false for a directory and for nothing there, true for a file (or a link to one).
    Promise.all(dirs.map((dir) => Bun.file(join(dir, PROJECT_FILE_NAME)).exists())),
  ]);
  if (userHome && !homeStat) return USE_NODE_FS;
  for (let i = 0; ; i++) {
    const dir = dirs[i]!;
    const dirStat = stats[i];
    if (!dirStat) return USE_NODE_FS;
    if (files[i]) return USE_NODE_FS;
    if (dir === home) return undefined;
    if (homeStat && dirStat.dev === homeStat.dev && dirStat.ino === homeStat.ino) return USE_NODE_FS;
    // The root: its parent is itself.
    if (i + 1 === dirs.length) return undefined;
    const parentStat = stats[i + 1];
    if (!parentStat) return USE_NODE_FS;
    if (parentStat.dev !== dirStat.dev) return undefined;
  }
}

function invalid(path: string, what: string, hint?: string): AuthctlError {
  return new AuthctlError("CONFIG_INVALID", `project file ${path}: ${what}`, {
    hint,
    detail: { projectFile: path },
  });
}

/** A project file holds one short line; anything near this size is not one (and is not read into memory). */
export const MAX_PROJECT_FILE_BYTES = 64 * 1024;

/** The allow list's key for a project file found at `path` (see ProjectFile.realPath). */
export function projectKey(path: string): string {
  return join(realpathSync(dirname(path)), basename(path));
}

/**
 * The file's bytes, read from one descriptor: opened without blocking (a FIFO put there after the
 * search found a regular file does not hang the command), checked to be a regular file of at most
 * MAX_PROJECT_FILE_BYTES on that descriptor, so what is hashed and parsed is that file.
 */
function readBounded(path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error("not a regular file");
    if (stat.size > MAX_PROJECT_FILE_BYTES)
      throw new Error(`larger than ${MAX_PROJECT_FILE_BYTES / 1024} KiB`);
    const buffer = Buffer.alloc(MAX_PROJECT_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > MAX_PROJECT_FILE_BYTES)
        throw new Error(`larger than ${MAX_PROJECT_FILE_BYTES / 1024} KiB`);
    }
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/** Hex SHA-256 of the file's bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

/**
 * Reads and checks a project file. Throws CONFIG_INVALID naming the file (and the key) for
 * anything but `providers = [ "<provider>[@<account>]", … ]`.
 */
export function readProjectFile(path: string): ProjectFile {
  let bytes: Buffer;
  let realPath: string;
  try {
    bytes = readBounded(path);
    realPath = projectKey(path);
  } catch (error) {
    throw invalid(path, `cannot be read (${(error as Error).message.split(",", 1)[0]})`);
  }
  const sha256 = sha256Hex(bytes);
  let root: Record<string, unknown>;
  try {
    root = parse(bytes.toString("utf8").replace(/^\uFEFF/, ""));
  } catch (error) {
    const where = error instanceof TomlError ? ` (line ${error.line}, column ${error.column})` : "";
    throw invalid(path, `does not parse as TOML${where}`, 'it holds one line: providers = ["openrouter"]');
  }
  for (const key of Object.keys(root)) {
    if (key !== "providers")
      throw invalid(
        path,
        `'${key}' is not allowed in a project file (only 'providers'): a project selects credentials, it never says where they go`,
        `remove '${key}'; endpoints and providers belong in your own config.toml`,
      );
  }
  const list = root.providers;
  if (!Array.isArray(list) || list.some((entry) => typeof entry !== "string"))
    throw invalid(
      path,
      list === undefined ? "names no providers" : "'providers' must be a list of provider ids",
      'write providers = ["openrouter@work", "anthropic"]',
    );
  const providers: string[] = [];
  for (const entry of list as string[]) {
    try {
      parseAccountRef(entry);
    } catch (error) {
      throw invalid(path, `'${entry}' in providers: ${(error as Error).message}`);
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9-]*(@|$)/.test(entry))
      throw invalid(path, `'${entry}' in providers is not a provider id`);
    if (!providers.includes(entry)) providers.push(entry);
  }
  return { path, realPath, sha256, providers };
}
