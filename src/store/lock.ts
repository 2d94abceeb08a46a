/**
 * A cross-process lock that needs nothing but the file system, so it works in a compiled Bun
 * binary on Linux and macOS: a lock file created with O_EXCL holding `{pid, host, time, nonce}`.
 * A holder killed with SIGKILL leaves the file behind; waiters break it when the holder is
 * provably dead (same host, no such pid), has not touched it for `staleMs`, or died between
 * creating it and writing it (empty file older than two seconds).
 *
 * Breaking and releasing happen under a second, short-lived guard file (`<lock>.break`), so that
 * two waiters that both judge a lock stale cannot each delete a lock the other then created, and a
 * slow holder cannot delete a lock someone else took after breaking its own. The guard is held for
 * a few system calls; one left by a crash is itself broken after five seconds.
 */
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from "../lazy-fs.ts";
import { AuthctlError, errorCode } from "../errors.ts";
import { dirname } from "../lazy-path.ts";
import { processEffects } from "../io/process-probe.ts";
import { describeIoError } from "./atomic-write.ts";
import type { StoreEffects } from "./effects.ts";

export type LockOptions = {
  timeoutMs: number;
  staleMs: number;
  /** The clock, pid, host, liveness probe and exit hook; the real ones unless a test gives its own. */
  effects?: StoreEffects;
};

export interface LockHandle {
  readonly path: string;
  /** True while the lock file is still ours (nobody broke it as stale). */
  isHeld(): boolean;
  /** Removes the lock file if it is still ours. Safe to call twice. */
  release(): void;
}

type LockOwner = { pid: number; host: string; time: number; nonce: string };
export type LockInfo = { raw: string; owner: LockOwner | undefined; mtimeMs: number; ino: number };

const EMPTY_LOCK_STALE_MS = 2_000;
const GUARD_STALE_MS = 5_000;
const GUARD_WAIT_MS = GUARD_STALE_MS + 1_000;

/** Nonces of the locks this process holds, with their paths: released on exit, and our own pid is not proof of life for others. */
const heldLocks = new Map<string, string>();
let exitHookInstalled = false;
let realEffects: StoreEffects | undefined;
const effectsOf = (options: { effects?: StoreEffects }): StoreEffects =>
  options.effects ?? (realEffects ??= processEffects());

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or someone else's business now.
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockOwner> | null;
    // A pid of 0 or below would make kill(pid, 0) probe a whole process group.
    if (!value || !Number.isSafeInteger(value.pid) || (value.pid ?? 0) <= 0) return undefined;
    if (typeof value.host !== "string" || typeof value.nonce !== "string" || typeof value.time !== "number")
      return undefined;
    return value as LockOwner;
  } catch {
    return undefined;
  }
}

/** Content and status read through one descriptor, so they describe the same file. Undefined when there is none. */
export function readLock(path: string): LockInfo | undefined {
  let fd: number;
  try {
    // Non-blocking and not through a link: a FIFO (or anything but a file) put at the lock's path
    // is refused below; opened plainly, it would block every authctl until someone writes to it.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    if (errorCode(error) === "ELOOP") throw notAFile(path);
    throw new AuthctlError("STORE_IO", `could not read lock ${path}: ${describeIoError(error)}`, {
      cause: error,
    });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw notAFile(path);
    const raw = readFileSync(fd, "utf8");
    return { raw, owner: parseOwner(raw), mtimeMs: stat.mtimeMs, ino: stat.ino };
  } finally {
    closeSync(fd);
  }
}

function notAFile(path: string): AuthctlError {
  return new AuthctlError(
    "STORE_IO",
    `the store's lock ${path} is not a regular file; authctl will not wait on it`,
    { hint: `remove it: rm ${path}` },
  );
}

function isStale(info: LockInfo, staleMs: number, fx: StoreEffects): boolean {
  const age = fx.now() - info.mtimeMs;
  if (!info.owner) return age > EMPTY_LOCK_STALE_MS;
  if (age > staleMs) return true;
  if (info.owner.host !== fx.hostname()) return false;
  // Our own pid in a lock we do not hold is a dead earlier process whose pid we inherited.
  if (info.owner.pid === fx.pid) return !heldLocks.has(info.owner.nonce);
  return !fx.isProcessAlive(info.owner.pid);
}

function newOwner(fx: StoreEffects): LockOwner {
  return { pid: fx.pid, host: fx.hostname(), time: fx.now(), nonce: crypto.randomUUID() };
}

/**
 * Runs fn while holding `<lock>.break`. Undefined when the guard could not be had in time. A guard
 * whose holder died (same rules as the lock, five seconds by age) is removed without re-checking
 * under a further guard: that needs a crash inside a few system calls and two racing waiters.
 */
function withGuard<T>(lockPath: string, fn: () => T, fx: StoreEffects): { value: T } | undefined {
  const guard = `${lockPath}.break`;
  const deadline = fx.now() + GUARD_WAIT_MS;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(guard, "wx", 0o600);
      writeSync(fd, JSON.stringify(newOwner(fx)));
      closeSync(fd);
      break;
    } catch (error) {
      if (fd !== undefined) {
        closeSync(fd);
        removeQuietly(guard);
      }
      if (fd !== undefined || errorCode(error) !== "EEXIST") return undefined;
    }
    try {
      const info = readLock(guard);
      if (info && isStale(info, GUARD_STALE_MS, fx)) unlinkSync(guard);
      else if (info) sleepSync(2);
    } catch {
      // Gone between the calls, or unreadable: try again.
    }
    if (fx.now() >= deadline) return undefined;
  }
  try {
    return { value: fn() };
  } finally {
    removeQuietly(guard);
  }
}

/** Removes the lock if it is still the stale file we looked at. True when the caller should retry at once. */
export function breakStaleLock(
  path: string,
  observed: LockInfo,
  staleMs: number,
  effects?: StoreEffects,
): boolean {
  const fx = effectsOf({ effects });
  const outcome = withGuard(
    path,
    () => {
      const now = readLock(path);
      if (!now) return true;
      if (now.ino !== observed.ino || now.raw !== observed.raw || !isStale(now, staleMs, fx)) return false;
      unlinkSync(path);
      return true;
    },
    fx,
  );
  return outcome?.value ?? false;
}

function installExitHook(fx: StoreEffects): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Covers process.exit() while an update is in flight. SIGKILL cannot be covered; staleness handles it.
  fx.onExit(() => {
    for (const [nonce, path] of heldLocks) {
      try {
        if (readLock(path)?.owner?.nonce === nonce) unlinkSync(path);
      } catch {
        // Exiting anyway.
      }
    }
  });
}

function lockedError(path: string, info: LockInfo | undefined, now: number): AuthctlError {
  const owner = info?.owner;
  const by = owner
    ? `another authctl process (pid ${owner.pid} on ${owner.host}, for ${Math.max(0, Math.round((now - owner.time) / 1000))}s)`
    : "another process";
  return new AuthctlError("STORE_LOCKED", `credentials store lock ${path} is held by ${by}`, {
    hint: `if no authctl is running, delete ${path}`,
    detail: { path, pid: owner?.pid, host: owner?.host },
  });
}

function tryCreate(path: string, staleMs: number, fx: StoreEffects): LockHandle | undefined {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (error) {
    if (errorCode(error) === "EEXIST") return undefined;
    // logout, switch and store migrate meet a read-only store here first (login checks before it
    // asks for anything): say what to do, as every other write failure does.
    const dir = dirname(path);
    throw new AuthctlError("STORE_IO", `could not create lock ${path}: ${describeIoError(error)}`, {
      hint:
        errorCode(error) === "EROFS"
          ? `${dir} is on a read-only file system here: run this where it can be written (systemd: ReadWritePaths=), or set AUTHCTL_HOME to a writable directory`
          : `check the permissions of ${dir} and the free space on its disk`,
      cause: error,
    });
  }
  const owner = newOwner(fx);
  try {
    writeSync(fd, JSON.stringify(owner));
  } catch (error) {
    // Left behind, an empty lock would be judged stale after two seconds; removing it is quicker.
    removeQuietly(path);
    throw new AuthctlError("STORE_IO", `could not write lock ${path}: ${describeIoError(error)}`, {
      cause: error,
    });
  } finally {
    closeSync(fd);
  }
  heldLocks.set(owner.nonce, path);
  installExitHook(fx);

  const isHeld = () => readLock(path)?.owner?.nonce === owner.nonce;
  // Touching the lock while fn runs (a slow refresh) keeps it from looking abandoned to other hosts.
  const beat = () => {
    try {
      if (isHeld()) utimesSync(path, new Date(fx.now()), new Date(fx.now()));
    } catch {
      // A missed beat only matters after staleMs.
    }
  };
  // Clamped: timers treat delays beyond 2^31-1 ms as 1 ms.
  const heartbeat = setInterval(beat, Math.min(Math.max(250, staleMs / 4), 600_000));
  heartbeat.unref?.();

  let released = false;
  return {
    path,
    isHeld,
    release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      heldLocks.delete(owner.nonce);
      const removeIfOurs = () => {
        if (readLock(path)?.owner?.nonce === owner.nonce) unlinkSync(path);
      };
      try {
        // Under the guard, so that a waiter breaking our lock (we were slow) and taking a new one
        // cannot have its lock removed by us. Without the guard, check-then-unlink is the fallback.
        if (!withGuard(path, removeIfOurs, fx)) removeIfOurs();
      } catch {
        // Failing here would hide fn's outcome; a lock left behind is broken once we have exited.
      }
    },
  };
}

/** Takes the lock at `path`, waiting up to `timeoutMs` (then STORE_LOCKED) and breaking stale locks. */
export async function acquireLock(path: string, options: LockOptions): Promise<LockHandle> {
  const fx = effectsOf(options);
  const deadline = fx.now() + options.timeoutMs;
  let delay = 5;
  let last: LockInfo | undefined;
  let quickRetries = 0;
  for (;;) {
    const handle = tryCreate(path, options.staleMs, fx);
    if (handle) return handle;
    const info = readLock(path);
    if (info) last = info;
    // Released or broken just now: try again without sleeping, a few times.
    if (
      (!info || (isStale(info, options.staleMs, fx) && breakStaleLock(path, info, options.staleMs, fx))) &&
      quickRetries++ < 3
    ) {
      continue;
    }
    quickRetries = 0;
    if (fx.now() >= deadline) throw lockedError(path, last, fx.now());
    const wait = Math.min(delay, deadline - fx.now()) * (0.75 + Math.random() / 2);
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait)));
    delay = Math.min(50, delay * 1.5);
  }
}
