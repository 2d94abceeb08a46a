/**
 * Keeps secrets out of core dumps (issue 13.12): a crash of `exec --proxy` or of a login waiting
 * for the browser would otherwise write the keys and tokens it holds to disk.
 *
 * - Linux: prctl(PR_SET_DUMPABLE, 0). The kernel writes no core for a non-dumpable process, and the
 *   same flag stops other processes of the same user from attaching with ptrace or reading
 *   /proc/<pid>/mem. It is reset by execve, so a child runs as it would without authctl.
 * - Linux and macOS: the soft RLIMIT_CORE goes to 0 (the hard limit stays, so it can go back).
 *   Limits are inherited across execve, so `restoreCoreLimit()` puts the old one back before a
 *   child is started.
 *
 * Through bun:ffi, which costs about 8 ms per process (dlopen and compiling the call stubs;
 * measured on 2 cores against a 14 ms hello-world): too much for `env`, `token` and `exec`, which
 * run before every agent launch and hold a secret for a few milliseconds. main.ts calls this for
 * every other command, and `exec` before it starts a proxy or stays the parent of its child.
 */
import { existsSync, readdirSync } from "../lazy-fs.ts";

const PR_SET_DUMPABLE = 4;
/** RLIMIT_CORE is 4 on Linux (x86-64 and arm64) and on macOS. */
const RLIMIT_CORE = 4;

let savedCoreLimit: BigUint64Array | undefined;
let setCoreLimit: ((limit: BigUint64Array) => void) | undefined;
let hardened: Promise<boolean> | undefined;

/** Resolves true when the process is protected; false where the platform offers no way (never throws). */
export function hardenProcess(platform: NodeJS.Platform = process.platform): Promise<boolean> {
  hardened ??= harden(platform).catch(() => false);
  return hardened;
}

async function harden(platform: NodeJS.Platform): Promise<boolean> {
  const libc = platform === "linux" ? linuxLibc() : platform === "darwin" ? "libSystem.B.dylib" : undefined;
  if (!libc) return false;
  const { dlopen, FFIType, ptr } = await import("bun:ffi");
  const symbols = {
    getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    ...(platform === "linux"
      ? {
          prctl: {
            args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64],
            returns: FFIType.i32,
          },
        }
      : {}),
  } as const;
  const lib = dlopen(libc, symbols);
  const call = lib.symbols as unknown as {
    getrlimit(resource: number, limit: unknown): number;
    setrlimit(resource: number, limit: unknown): number;
    prctl?(option: number, a: number, b: number, c: number, d: number): number;
  };
  let ok = true;
  if (call.prctl) ok = call.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) === 0;
  // struct rlimit { rlim_t rlim_cur; rlim_t rlim_max; }: two 64-bit values on every 64-bit target.
  const current = new BigUint64Array(2);
  if (call.getrlimit(RLIMIT_CORE, ptr(current)) === 0) {
    savedCoreLimit = current;
    setCoreLimit = (limit) => void call.setrlimit(RLIMIT_CORE, ptr(limit));
    const zero = new BigUint64Array([0n, current[1]!]);
    ok = call.setrlimit(RLIMIT_CORE, ptr(zero)) === 0 && ok;
  }
  return ok;
}

/** The core-file limit this process started with, for a child about to be started. */
export function restoreCoreLimit(): void {
  if (savedCoreLimit && setCoreLimit) setCoreLimit(savedCoreLimit);
}

/** glibc's soname, or musl's libc (its loader is the library); the first that exists. */
function linuxLibc(): string | undefined {
  let musl: string | undefined;
  try {
    musl = readdirSync("/lib").find((name) => /^ld-musl-.*\.so\.1$/.test(name));
  } catch {}
  if (
    musl &&
    !["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib/ld-linux-x86-64.so.2"].some((path) =>
      existsSync(path),
    )
  )
    return `/lib/${musl}`;
  return "libc.so.6";
}
