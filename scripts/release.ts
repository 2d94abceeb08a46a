#!/usr/bin/env bun
/**
 * Cross-compiles the release binaries into dist/release/ (or `--outdir=`), named
 * `authctl-<os>-<arch>[-musl|-baseline][.exe]`, plus `SHA256SUMS` (the format `sha256sum -c`
 * reads) and a copy of install.sh, so the release's download directory is also where
 * `curl -fsSL <base>/install.sh | sh` fetches the installer from.
 *
 *   bun scripts/release.ts                         # all eight targets
 *   bun scripts/release.ts --targets=linux-x64     # a subset (names as in TARGETS)
 *   bun scripts/release.ts --jobs=1                # builds at once (default 2)
 *
 * Each target is built by scripts/build.ts (same flags as the dev build: --compile --minify
 * --bytecode), so the released binary starts as fast as the one the benchmarks measure.
 * Cross-compiling fetches the target's Bun runtime from the npm registry on first use.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Release name → Bun compile target. The names are the contract install.sh and upgrade rely on. */
export const TARGETS: Record<string, string> = {
  "linux-x64": "bun-linux-x64",
  "linux-x64-baseline": "bun-linux-x64-baseline",
  "linux-arm64": "bun-linux-arm64",
  "linux-x64-musl": "bun-linux-x64-musl",
  "linux-arm64-musl": "bun-linux-arm64-musl",
  "darwin-x64": "bun-darwin-x64",
  "darwin-arm64": "bun-darwin-arm64",
  "windows-x64": "bun-windows-x64",
};

export function releaseFileName(name: string): string {
  return `authctl-${name}${name.startsWith("windows-") ? ".exe" : ""}`;
}

const root = join(import.meta.dir, "..");
const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const outdir = option("outdir") ?? join(root, "dist", "release");
const jobs = Math.max(1, Number(option("jobs") ?? 2));
const wanted = option("targets")?.split(",").filter(Boolean) ?? Object.keys(TARGETS);
const unknown = wanted.filter((name) => !(name in TARGETS));
if (unknown.length) {
  console.error(
    `release: unknown target(s): ${unknown.join(", ")} (known: ${Object.keys(TARGETS).join(", ")})`,
  );
  process.exit(2);
}

// A stale binary from an earlier run must not end up in SHA256SUMS or next to it.
mkdirSync(outdir, { recursive: true });
for (const entry of readdirSync(outdir)) {
  if (entry.startsWith("authctl-") || entry === "SHA256SUMS" || entry === "install.sh")
    rmSync(join(outdir, entry), { force: true });
}

const started = performance.now();
// Every target takes the start-up profile of a host build of this source (scripts/build.ts):
// recorded once here rather than once per target, which cost each of the eight builds a host
// build and its runs (the release test's setup went from 12 s to 41 s in CI when each recorded).
const profileDir = mkdtempSync(join(tmpdir(), "authctl-release-profile-"));
const recorded = Bun.spawnSync(
  [
    process.execPath,
    join(root, "scripts", "build.ts"),
    `--outfile=${join(profileDir, "probe")}`,
    `--profile-dir=${join(profileDir, "orders")}`,
    "--record-only",
  ],
  { cwd: root, stdout: "pipe", stderr: "pipe" },
);
if (recorded.exitCode !== 0) {
  console.error(`release: recording the start-up profile failed:\n${recorded.stderr.toString()}`);
  process.exit(1);
}
const failures: string[] = [];
const queue = [...wanted];
async function worker(): Promise<void> {
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const t0 = performance.now();
    const outfile = join(outdir, releaseFileName(name));
    const proc = Bun.spawn(
      [
        process.execPath,
        join(root, "scripts", "build.ts"),
        `--target=${TARGETS[name]}`,
        `--outfile=${outfile}`,
        `--profile-dir=${join(profileDir, "orders")}`,
      ],
      {
        cwd: root,
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const [stdout, stderr] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ]);
    if ((await proc.exited) !== 0) {
      failures.push(name);
      console.error(`release: ${name} failed:\n${stdout}${stderr}`);
    } else {
      console.error(`release: ${releaseFileName(name)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
}
await Promise.all(Array.from({ length: jobs }, worker));
rmSync(profileDir, { recursive: true, force: true });
if (failures.length) {
  console.error(`release: ${failures.length} target(s) failed: ${failures.join(", ")}`);
  process.exit(1);
}

copyFileSync(join(root, "install.sh"), join(outdir, "install.sh"));
const files = [...wanted.map(releaseFileName), "install.sh"].sort();
const lines: string[] = [];
for (const file of files) {
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(await Bun.file(join(outdir, file)).arrayBuffer());
  lines.push(`${hasher.digest("hex")}  ${file}`);
}
writeFileSync(join(outdir, "SHA256SUMS"), `${lines.join("\n")}\n`);
console.error(
  `release: ${files.length} files and SHA256SUMS in ${outdir} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
);
