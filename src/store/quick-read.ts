/**
 * The lock-free reads of `env`, `token` and `exec` (credentials.toml, config.toml and the directory
 * that holds them) through Bun's own file API. node:fs costs a compiled binary about 5 MiB of
 * memory, a fifth of the smallest Bun program (scripts/bench.ts); `Bun.file().stat()`, `exists()`
 * and `bytes()` cost about 3 MiB together.
 *
 * Only the usual case is answered here: a file that is absent, or regular, this user's (or
 * root's) and not writable by others, in a directory of the same kind. For anything else (another
 * owner, a mode to refuse or to tighten, a FIFO or a directory in a file's place, an I/O error)
 * these functions return USE_NODE_FS and the caller reads again through node:fs (trust.ts,
 * file-store.ts, config.ts), which refuses or repairs it with the messages it always had. So
 * every check keeps one implementation, and only the answer "all is well" is found twice.
 *
 * One difference remains, and it is harmless: node:fs opens the store non-blocking and checks the
 * descriptor it reads (fstat), where Bun reads by name after the stat said "regular file". A
 * FIFO put there in between would hang the read; only the directory's owner (this user, or root:
 * the trust checks refuse a directory others may write) can do that.
 */
import type { Stats } from "node:fs";
import { errorCode } from "../errors.ts";
import { isTrustedStat } from "./trust.ts";

export const USE_NODE_FS: unique symbol = Symbol("use node:fs");

/** Stats of `path`: undefined when nothing is there, USE_NODE_FS for any other failure. */
async function quickStat(path: string): Promise<Stats | undefined | typeof USE_NODE_FS> {
  try {
    return await Bun.file(path).stat();
  } catch (error) {
    const code = errorCode(error);
    return code === "ENOENT" || code === "ENOTDIR" ? undefined : USE_NODE_FS;
  }
}

/**
 * Stats of a file that is usually absent (config.toml), without the rejected promise a stat of a
 * missing file costs (an exception: about 1.5 MiB more in a compiled binary, measured).
 * `exists()` is false for a directory too, whose size is not 0.
 */
async function quickStatOften(path: string): Promise<Stats | undefined | typeof USE_NODE_FS> {
  const file = Bun.file(path);
  if (!(await file.exists()) && file.size === 0) return undefined;
  return quickStat(path);
}

/** A trusted directory (or none), and a regular trusted file in it (or none); otherwise USE_NODE_FS. */
function usable(dir: Stats | undefined | typeof USE_NODE_FS, file: Stats | undefined | typeof USE_NODE_FS) {
  if (dir === USE_NODE_FS || file === USE_NODE_FS) return false;
  // A file where the directory should be (AUTHCTL_HOME naming the store file): node:fs says so.
  if (dir && (!dir.isDirectory() || !isTrustedStat(dir))) return false;
  return !file || (file.isFile() && isTrustedStat(file));
}

export interface QuickText {
  /** The file's text; undefined when there is no file. */
  text: string | undefined;
  /** The file's and the directory's modes, for the caller's own checks (file-store.ts tightens 0644). */
  fileMode?: number;
  dirMode?: number;
}

/**
 * credentials.toml or config.toml in `dir`, in the usual case (see above), or USE_NODE_FS. `often`:
 * the file is usually absent. `decode`: as the node:fs reader decodes the file, so the text is the
 * same (the store's `fatal` decoder sends bytes that are not UTF-8 to node:fs, which refuses them).
 */
export async function readQuickly(
  dir: string,
  path: string,
  options: QuickReadOptions,
): Promise<QuickText | typeof USE_NODE_FS> {
  await turnAhead();
  return takeAhead(aheadKey(dir, path, options), () => readNow(dir, path, options));
}

/**
 * readQuickly, started now (or the read already started) and left in place for the next reader
 * with the same arguments, who takes it once (readQuickly; a later read is a new one). Bun's file
 * API answers on its thread pool: reads-ahead.ts starts the hot path's reads as the process begins,
 * the usual-case lane looks at them first, and when it hands over, the full path's readers take
 * the same reads instead of reading again. Never rejects (a failure is USE_NODE_FS).
 */
export function readShared(
  dir: string,
  path: string,
  options: QuickReadOptions,
): Promise<QuickText | typeof USE_NODE_FS> {
  const key = aheadKey(dir, path, options);
  return (
    (ahead.get(key) as Promise<QuickText | typeof USE_NODE_FS> | undefined) ??
    startAhead(key, () => readNow(dir, path, options, aheadDirStat(dir)))
  );
}

export interface QuickReadOptions {
  often?: "absent";
  decode: { fatal?: boolean; ignoreBOM?: boolean };
}

/** config.toml as config.ts reads it, and credentials.toml as file-store.ts does. */
export const CONFIG_READ: QuickReadOptions = { often: "absent", decode: { ignoreBOM: true } };
export const STORE_READ: QuickReadOptions = { decode: { fatal: true } };

/**
 * Whether work started ahead outside Bun's file API waits on turns of the event loop (turnAhead).
 * The keyring's conversation (keyring-backend.ts startKeyringAhead) does: the bus's answers are
 * read, and its next call sent, only when the process waits for I/O, and `env` seldom does (a
 * read started ahead that is done comes back without the loop looking at sockets).
 */
let turnsWanted = false;

export function wantTurns(): void {
  turnsWanted = true;
}

/**
 * A turn of the event loop when work started ahead wants one (a few hundredths of a millisecond
 * when nothing is waiting), nothing otherwise. Taken where the hot path is about to spend a while
 * on the CPU: as each read started ahead is taken (readQuickly: before config.toml, and before
 * credentials.toml is parsed) and once the store is parsed (backend-store.ts).
 */
export function turnAhead(): Promise<void> | undefined {
  return turnsWanted ? Bun.sleep(0) : undefined;
}

/** Reads started early (readShared, readKeyShared), by what they read; each is taken once. */
const ahead = new Map<string, Promise<unknown>>();

function startAhead<T>(key: string, read: () => Promise<T>): Promise<T | typeof USE_NODE_FS> {
  const started = read().catch((): typeof USE_NODE_FS => USE_NODE_FS);
  ahead.set(key, started);
  return started;
}

/** The read started early under `key`, once; otherwise a read now. */
function takeAhead<T>(key: string, read: () => Promise<T>): Promise<T> {
  const early = ahead.get(key) as Promise<T> | undefined;
  if (!early) return read();
  ahead.delete(key);
  return early;
}

function aheadKey(dir: string, path: string, options: QuickReadOptions): string {
  return `text\0${dir}\0${path}\0${options.often ?? ""}\0${options.decode.fatal ? 1 : 0}${options.decode.ignoreBOM ? 1 : 0}`;
}

/**
 * The reads started ahead together (config.toml and credentials.toml, in one directory) share one
 * stat of that directory: each stat is a round trip through Bun's thread pool (issue 18). A read
 * made later stats the directory again (it may have changed since).
 */
let aheadDir: { dir: string; stat: ReturnType<typeof quickStat> } | undefined;
function aheadDirStat(dir: string): ReturnType<typeof quickStat> {
  if (aheadDir?.dir !== dir) aheadDir = { dir, stat: quickStat(dir) };
  return aheadDir.stat;
}

async function readNow(
  dir: string,
  path: string,
  options: QuickReadOptions,
  dirStatAhead?: ReturnType<typeof quickStat>,
): Promise<QuickText | typeof USE_NODE_FS> {
  const [dirStat, fileStat] = await Promise.all([
    dirStatAhead ?? quickStat(dir),
    options.often === "absent" ? quickStatOften(path) : quickStat(path),
  ]);
  if (!usable(dirStat, fileStat) || dirStat === USE_NODE_FS || fileStat === USE_NODE_FS) return USE_NODE_FS;
  if (!fileStat) return { text: undefined };
  let text: string;
  try {
    text = await Bun.file(path).text();
  } catch {
    return USE_NODE_FS;
  }
  // Bun's text() decodes as a default TextDecoder does (a byte-order mark dropped, bytes that are
  // not UTF-8 replaced by U+FFFD) without one: a TextDecoder costs a compiled binary about 0.5 MiB
  // of memory (issue 18). Where that could differ from `decode`, node:fs reads the file instead: any
  // U+FFFD (a `fatal` decoder refuses what it replaced), and a byte-order mark `ignoreBOM` keeps
  // (the text is then 3 bytes shorter than the file).
  if (text.includes("\uFFFD")) return USE_NODE_FS;
  // A text as long as the file is ASCII with no mark dropped (every other character takes more
  // than one byte): the usual config.toml is answered without counting.
  if (options.decode.ignoreBOM && text.length !== fileStat.size && utf8Length(text) !== fileStat.size)
    return USE_NODE_FS;
  return { text, fileMode: Number(fileStat.mode), dirMode: dirStat ? Number(dirStat.mode) : undefined };
}

/** How many bytes `text` takes in UTF-8 (a lone surrogate as U+FFFD's 3, as encoders write it). */
function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

/**
 * A key file in the usual case: a regular file of `size` bytes that only its owner may read or
 * write. USE_NODE_FS for anything else (no file, another mode, size or kind, an I/O error, Windows):
 * the caller then reads it through node:fs, which refuses, repairs or reports it (encrypted.ts).
 */
export async function readKeyQuickly(path: string, size: number): Promise<Uint8Array | typeof USE_NODE_FS> {
  return takeAhead(`key\0${path}\0${size}`, () => readKeyNow(path, size));
}

/**
 * readKeyQuickly, leaving the read in place for the next reader with the same arguments (as
 * readShared): the usual-case lane (actions/usual-case.ts) opens a store sealed with its key file
 * first, and when it hands over, the full path's quick read takes the same read. Starts it when
 * nothing did (AUTHCTL_STORE unset, and the store turned out to be sealed).
 */
export function readKeyShared(path: string, size: number): Promise<Uint8Array | typeof USE_NODE_FS> {
  const key = `key\0${path}\0${size}`;
  return (
    (ahead.get(key) as Promise<Uint8Array | typeof USE_NODE_FS> | undefined) ??
    startAhead(key, () => readKeyNow(path, size))
  );
}

async function readKeyNow(path: string, size: number): Promise<Uint8Array | typeof USE_NODE_FS> {
  if (process.platform === "win32") return USE_NODE_FS;
  const stat = await quickStat(path);
  if (stat === USE_NODE_FS || !stat?.isFile() || Number(stat.mode) & 0o077 || stat.size !== size)
    return USE_NODE_FS;
  try {
    const bytes = await Bun.file(path).bytes();
    return bytes.length === size ? bytes : USE_NODE_FS;
  } catch {
    return USE_NODE_FS;
  }
}

/**
 * One of the team store's files (etcd/): `etcd-seen.json`, the seal key file and the TLS files
 * config.toml names, in the usual case: a regular file of this user's (or root's) that others
 * cannot write. USE_NODE_FS for anything else (no file, a directory or FIFO in its place, another
 * owner, a mode others may write, an I/O error, Windows): the caller then reads it with
 * `readFileSync`, exactly as it did before, which decides what that case means (a missing
 * etcd-seen.json is "nothing seen yet", a missing ca_file is an error naming it). Never rejects.
 */
export async function readFileQuickly(path: string): Promise<Uint8Array | typeof USE_NODE_FS> {
  const read = await readTrusted(path, (file) => file.bytes());
  return read === USE_NODE_FS || read.content.length !== read.size ? USE_NODE_FS : read.content;
}

/**
 * readFileQuickly as text: `readFileSync(path, "utf8")`'s text, or USE_NODE_FS. Bun's text() drops
 * a byte-order mark and replaces bytes that are not UTF-8 where readFileSync keeps the mark (as
 * U+FEFF): a text with U+FFFD in it, or shorter in UTF-8 than the file, goes to node:fs instead.
 */
export async function readTextQuickly(path: string): Promise<string | typeof USE_NODE_FS> {
  const read = await readTrusted(path, (file) => file.text());
  if (read === USE_NODE_FS || read.content.includes("\uFFFD")) return USE_NODE_FS;
  return utf8Length(read.content) === read.size ? read.content : USE_NODE_FS;
}

async function readTrusted<T>(
  path: string,
  read: (file: ReturnType<typeof Bun.file>) => Promise<T>,
): Promise<{ content: T; size: number } | typeof USE_NODE_FS> {
  try {
    if (process.platform === "win32") return USE_NODE_FS;
    const stat = await quickStat(path);
    if (stat === USE_NODE_FS || !stat?.isFile() || !isTrustedStat(stat)) return USE_NODE_FS;
    return { content: await read(Bun.file(path)), size: stat.size };
  } catch {
    return USE_NODE_FS;
  }
}
