import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { Env } from "../deps.ts";

/**
 * Which release build fits this machine, the same way install.sh decides: OS, CPU, musl or glibc,
 * AVX2 (the default x64 build needs it; older CPUs get -baseline), and Rosetta 2 (an x64 process
 * on Apple Silicon gets the native arm64 build). `AUTHCTL_TARGET` skips detection.
 */
export const RELEASE_TARGETS = [
  "linux-x64",
  "linux-x64-baseline",
  "linux-arm64",
  "linux-x64-musl",
  "linux-arm64-musl",
  "darwin-x64",
  "darwin-arm64",
  "windows-x64",
] as const;
export type ReleaseTarget = (typeof RELEASE_TARGETS)[number];

export function releaseAssetName(target: ReleaseTarget): string {
  return `authctl-${target}${target.startsWith("windows-") ? ".exe" : ""}`;
}

export interface PlatformProbe {
  platform: string;
  arch: string;
  exists(path: string): boolean;
  /** Entries of a directory; [] when unreadable. */
  list(dir: string): string[];
  readText(path: string): string | undefined;
  /** stdout+stderr of a command; undefined when it cannot run. */
  run(argv: string[]): string | undefined;
}

export function createPlatformProbe(): PlatformProbe {
  return {
    platform: process.platform,
    arch: process.arch,
    exists: (path) => existsSync(path),
    list(dir) {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    },
    readText(path) {
      try {
        return readFileSync(path, "utf8");
      } catch {
        return undefined;
      }
    },
    run(argv) {
      try {
        const proc = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", timeout: 5000 });
        return proc.stdout.toString() + proc.stderr.toString();
      } catch {
        return undefined;
      }
    },
  };
}

const GLIBC_LOADERS = [
  "/lib64/ld-linux-x86-64.so.2",
  "/lib/ld-linux-x86-64.so.2",
  "/lib/ld-linux-aarch64.so.1",
];

/** The loader on disk names the libc; when both or neither are there, musl's ldd names itself. */
export function isMusl(probe: PlatformProbe): boolean {
  const glibc = GLIBC_LOADERS.some((path) => probe.exists(path));
  const musl = probe.list("/lib").some((name) => /^ld-musl-.*\.so\.1$/.test(name));
  if (musl !== glibc) return musl;
  return /musl/.test(probe.run(["ldd", "--version"]) ?? "");
}

export function detectTarget(env: Env, probe: PlatformProbe): ReleaseTarget {
  const forced = env.AUTHCTL_TARGET;
  if (forced) {
    if (!(RELEASE_TARGETS as readonly string[]).includes(forced)) {
      throw new Error(
        `AUTHCTL_TARGET=${forced} is not a release target (one of: ${RELEASE_TARGETS.join(", ")})`,
      );
    }
    return forced as ReleaseTarget;
  }
  const os = probe.platform === "win32" ? "windows" : probe.platform;
  if (os !== "linux" && os !== "darwin" && os !== "windows")
    throw new Error(`unsupported operating system: ${probe.platform}`);
  let arch = probe.arch;
  if (arch !== "x64" && arch !== "arm64") throw new Error(`unsupported CPU architecture: ${arch}`);
  if (
    os === "darwin" &&
    arch === "x64" &&
    probe.run(["sysctl", "-n", "sysctl.proc_translated"])?.trim() === "1"
  )
    arch = "arm64";
  if (os === "windows") return "windows-x64";
  if (os === "darwin") return `darwin-${arch}` as ReleaseTarget;
  if (isMusl(probe)) return `linux-${arch}-musl` as ReleaseTarget;
  if (arch === "x64" && !/\bavx2\b/.test(probe.readText("/proc/cpuinfo") ?? "")) return "linux-x64-baseline";
  return `linux-${arch}` as ReleaseTarget;
}

/**
 * The binary `authctl upgrade` replaces: this process's executable. AUTHCTL_UPGRADE_TARGET is a
 * test hook that names another file, so that tests never touch the runner's own executable.
 */
export function upgradeTargetPath(env: Env): string {
  return env.AUTHCTL_UPGRADE_TARGET || process.execPath;
}

/** True inside a `bun build --compile` binary; false under `bun src/main.ts` (execPath is bun). */
export function isCompiledBinary(): boolean {
  return Bun.main.startsWith("/$bunfs/") || /^[A-Z]:[\\/]~BUN[\\/]/i.test(Bun.main);
}

/** Runs `file --version`; the trimmed output, or undefined when it does not run. */
export function readBinaryVersion(file: string): string | undefined {
  try {
    const proc = Bun.spawnSync([file, "--version"], { stdout: "pipe", stderr: "pipe", timeout: 15_000 });
    return proc.exitCode === 0 ? proc.stdout.toString().trim() : undefined;
  } catch {
    return undefined;
  }
}
