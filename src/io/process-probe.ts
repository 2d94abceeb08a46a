/**
 * The process facts the store's lock needs (see store/effects.ts), for real: kill(pid, 0), the
 * Linux zombie state, this process's pid and host, and its exit hook.
 */
import { errorCode } from "../errors.ts";
import type { StoreEffects } from "../store/effects.ts";

/**
 * A killed process stays a zombie until its parent reaps it, and kill(pid, 0) still finds it. In a
 * container whose pid 1 does not reap orphans that lasts forever, so Linux zombies count as dead.
 */
function isZombie(pid: number): boolean {
  if (process.platform !== "linux") return false;
  try {
    // node:fs on first use: a lock is only judged by a writer, and `env` loads this module.
    const { readFileSync } = require("node:fs") as typeof import("node:fs");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

/** True unless `pid` provably does not exist on this host (or is a zombie). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return errorCode(error) !== "ESRCH";
  }
  return !isZombie(pid);
}

let host: string | undefined;

/** The real effects. node:os is loaded on first use: only a writer takes the lock, and `env` never writes (node:os costs a compiled binary about 2 MB of memory). */
export function processEffects(): StoreEffects {
  return {
    now: () => Date.now(),
    hostname: () => (host ??= (require("node:os") as typeof import("node:os")).hostname()),
    pid: process.pid,
    isProcessAlive,
    onExit: (fn) => void process.on("exit", fn),
  };
}
