import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  createReadStream,
  fsyncSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  writeSync,
  chmodSync,
} from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { version as currentVersion } from "../../package.json";
import type { Deps, Env } from "../deps.ts";
import { AuthctlError, HttpError, NetworkError } from "../errors.ts";
import {
  createPlatformProbe,
  detectTarget,
  isCompiledBinary,
  readBinaryVersion,
  releaseAssetName,
  upgradeTargetPath,
} from "../io/platform.ts";
import { describeIoError } from "../store/atomic-write.ts";

/**
 * `authctl upgrade [--version V]`: the same download, check and install as install.sh, over the
 * running binary. Nothing is replaced until the new file has matched SHA256SUMS and run
 * `--version` here; the swap is one rename(2) in the binary's own directory.
 */
export interface UpgradeOptions {
  version?: string;
}

const DEFAULT_RELEASES = "https://github.com/authctl/authctl/releases";
const INSTALL_HINT = "curl -fsSL https://github.com/authctl/authctl/releases/latest/download/install.sh | sh";

/** How to reinstall from where this upgrade downloads: a mirror set in AUTHCTL_DOWNLOAD_URL holds install.sh too. */
export function installHint(env: Env): string {
  const quote = (text: string) =>
    /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
  const mirror = env.AUTHCTL_DOWNLOAD_URL?.replace(/\/+$/, "");
  if (mirror) return `curl -fsSL ${quote(`${mirror}/install.sh`)} | AUTHCTL_DOWNLOAD_URL=${quote(mirror)} sh`;
  const releases = env.AUTHCTL_RELEASES_URL?.replace(/\/+$/, "");
  if (releases)
    return `curl -fsSL ${quote(`${releases}/latest/download/install.sh`)} | AUTHCTL_RELEASES_URL=${quote(releases)} sh`;
  return INSTALL_HINT;
}

/** The download directory, chosen exactly as install.sh chooses it. */
export function resolveDownloadBase(env: Env, version: string | undefined): string {
  const releases = (env.AUTHCTL_RELEASES_URL || DEFAULT_RELEASES).replace(/\/+$/, "");
  const base = env.AUTHCTL_DOWNLOAD_URL
    ? env.AUTHCTL_DOWNLOAD_URL.replace(/\/+$/, "")
    : version
      ? `${releases}/download/v${version}`
      : `${releases}/latest/download`;
  // The checksum proves only that the file matches SHA256SUMS from the same server: both must come
  // over TLS. Plain http is accepted for loopback mirrors (tests, local caches).
  if (!safeHop(base))
    throw new AuthctlError("USAGE", `AUTHCTL_DOWNLOAD_URL must be an https:// URL (got: ${base})`);
  return base;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * https, or plain http to this machine. The URL is parsed, never pattern-matched:
 * `http://127.0.0.1:x@127.0.0.2/` is user info in front of the host 127.0.0.2 (issue 13.10).
 */
export function safeHop(url: string | URL): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === "https:") return true;
  return (
    parsed.protocol === "http:" && !parsed.username && !parsed.password && LOOPBACK_HOSTS.has(parsed.hostname)
  );
}

/** Where a package manager put the binary; it must upgrade it, or its records go stale. */
export function packageManagerOf(path: string): { name: string; hint: string } | undefined {
  const p = path.split(sep).join("/");
  if (p.includes("/Cellar/") || p.startsWith("/opt/homebrew/"))
    return { name: "Homebrew", hint: "brew upgrade authctl" };
  if (p.includes("/node_modules/"))
    return {
      name: "npm (a node_modules directory)",
      hint: "npm update -g authctl (or your project's package manager)",
    };
  if (p.startsWith("/nix/store/")) return { name: "Nix", hint: "upgrade it through Nix" };
  if (p.startsWith("/snap/")) return { name: "snap", hint: "snap refresh authctl" };
  if (/^\/(usr\/)?(s?bin|lib|lib64|libexec|share)\//.test(p)) {
    return {
      name: "the system package manager",
      hint: "upgrade it with your system's package manager (apt, dnf, pacman, apk, …)",
    };
  }
  return undefined;
}

export function parseSha256Sums(text: string, file: string): string | undefined {
  for (const line of text.split("\n")) {
    const match = /^([0-9a-fA-F]{64}) [ *](.+?)\r?$/.exec(line.trim() ? line : "");
    if (match && match[2] === file) return match[1]!.toLowerCase();
  }
  return undefined;
}

/** A release's SHA256SUMS is under 1 KiB (one line per build); anything past this is not one. */
const MAX_SUMS_BYTES = 64 * 1024;

/**
 * SHA256SUMS read up to MAX_SUMS_BYTES. `response.text()` had no bound: a mirror (or a captive
 * portal, a misconfigured proxy) that streamed without end grew authctl's memory for the whole
 * ten-minute download timeout.
 */
async function readSums(response: Response, url: string, cancel: AbortSignal): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body ?? []) {
      size += chunk.length;
      if (size > MAX_SUMS_BYTES) {
        await response.body?.cancel().catch(() => {});
        throw new AuthctlError(
          "PROTOCOL",
          `${url} is larger than ${MAX_SUMS_BYTES / 1024} KiB, which no SHA256SUMS is; nothing was changed`,
          { hint: "check AUTHCTL_DOWNLOAD_URL (or the network's proxy), then try again" },
        );
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (cancel.aborted) throw cancel.reason;
    if (error instanceof AuthctlError) throw error;
    throw new NetworkError(
      `could not download SHA256SUMS from ${url}: ${describeIoError(error)}`,
      {},
      { cause: error },
    );
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const MAX_REDIRECTS = 10;

/**
 * GET with redirects followed by hand: every hop must be https (or loopback), not only the last
 * one. With `redirect: "follow"`, https → http → https looked like https at the end, and anyone on
 * the path of the http hop chose both the binary and its checksum (issue 13.10).
 */
async function get(
  deps: Deps,
  url: string,
  what: string,
  version: string | undefined,
  cancel: AbortSignal,
): Promise<Response> {
  // On deps' clock like every other timeout (a test's fake clock fires it).
  const signal = AbortSignal.any([deps.timeoutSignal(10 * 60_000), cancel]);
  let current = url;
  for (let hops = 0; ; hops++) {
    let response: Response;
    try {
      response = await deps.fetch(current, { redirect: "manual", signal });
    } catch (error) {
      if (cancel.aborted) throw cancel.reason;
      throw new NetworkError(
        `could not download ${what} from ${current}: ${(error as Error).message}`,
        { host: new URL(current).host },
        { cause: error },
      );
    }
    if ([301, 302, 303, 307, 308].includes(response.status)) {
      await response.body?.cancel();
      const location = response.headers.get("location");
      let next: URL | undefined;
      try {
        next = location ? new URL(location, current) : undefined;
      } catch {}
      if (!next)
        throw new AuthctlError(
          "PROTOCOL",
          `could not download ${what}: ${current} answered HTTP ${response.status} without a usable Location`,
        );
      if (!safeHop(next)) {
        throw new AuthctlError(
          "PROTOCOL",
          `refusing ${what}: ${current} redirected to ${next.href}, which is not https; nothing was changed`,
          {
            hint: "try again on another network; a redirect must never leave https",
          },
        );
      }
      if (hops >= MAX_REDIRECTS)
        throw new AuthctlError(
          "PROTOCOL",
          `could not download ${what}: more than ${MAX_REDIRECTS} redirects from ${url}`,
        );
      current = next.href;
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new HttpError(
        "PROTOCOL",
        `could not download ${what}: ${current} answered HTTP ${response.status}`,
        { status: response.status },
        {
          hint: version
            ? `is ${version} a released version? see ${DEFAULT_RELEASES}`
            : `see ${DEFAULT_RELEASES}`,
        },
      );
    }
    return response;
  }
}

/**
 * True when `candidate` is a lower semantic version than `current` (semver.org §11: the numbers
 * first, then a pre-release below its release). Text that is not a version is never "older".
 */
export function isOlderVersion(candidate: string, current: string): boolean {
  const parse = (text: string) =>
    /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(text.trim());
  const a = parse(candidate);
  const b = parse(current);
  if (!a || !b) return false;
  for (let i = 1; i <= 3; i++) {
    const diff = Number(a[i]) - Number(b[i]);
    if (diff !== 0) return diff < 0;
  }
  if (a[4] === b[4]) return false;
  if (a[4] === undefined) return false;
  if (b[4] === undefined) return true;
  const x = a[4].split(".");
  const y = b[4].split(".");
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    const nx = /^\d+$/.test(x[i]!);
    const ny = /^\d+$/.test(y[i]!);
    if (nx && ny) return Number(x[i]) < Number(y[i]);
    if (nx !== ny) return nx;
    return x[i]! < y[i]!;
  }
  return x.length < y.length;
}

/** Takes `deps`, not a Context: a config.toml that does not parse must not block the upgrade that fixes it. */
export async function upgrade(deps: Deps, options: UpgradeOptions): Promise<void> {
  const env = deps.env;
  const pinned = (options.version ?? env.AUTHCTL_VERSION)?.replace(/^v/, "") || undefined;
  const version = pinned === "latest" ? undefined : pinned;

  if (!env.AUTHCTL_UPGRADE_TARGET && !isCompiledBinary()) {
    throw new AuthctlError(
      "USAGE",
      "upgrade replaces an installed authctl binary; this one runs from source under bun",
      {
        hint: `install the binary: ${installHint(env)}`,
      },
    );
  }
  const target = upgradeTargetPath(env);
  let real: string;
  try {
    real = realpathSync(target);
  } catch (error) {
    throw new AuthctlError(
      "STORE_IO",
      `cannot find the binary to replace (${target}): ${describeIoError(error)}`,
      { cause: error },
    );
  }
  const manager = packageManagerOf(real) ?? packageManagerOf(target);
  if (manager) {
    throw new AuthctlError(
      "USAGE",
      `${real} was installed by ${manager.name}; authctl will not replace it behind its back`,
      { hint: manager.hint },
    );
  }

  let asset: string;
  try {
    asset = releaseAssetName(detectTarget(env, createPlatformProbe()));
  } catch (error) {
    throw new AuthctlError("USAGE", (error as Error).message, { hint: installHint(env) });
  }
  const base = resolveDownloadBase(env, version);

  // The staging file is created before the binary is downloaded: a directory we cannot write to
  // is reported after SHA256SUMS (a few hundred bytes), not after 100 MB. SHA256SUMS comes first so
  // that a binary that is already the newest says so even where it cannot be replaced (a
  // root-owned /usr/local/bin/authctl upgraded by its user). The staging file sits next to the
  // binary so the swap is a rename.
  const dir = dirname(real);
  const staged = join(dir, `.${basename(real)}.upgrade-${randomBytes(6).toString("hex")}`);
  let fd = -1;
  let unwritable: AuthctlError | undefined;
  try {
    fd = openSync(staged, "wx", 0o700);
  } catch (error) {
    unwritable = new AuthctlError(
      "STORE_IO",
      `cannot replace ${real}: ${dir} is not writable (${describeIoError(error)})`,
      {
        hint: `run upgrade as the user who owns ${dir} (e.g. with sudo), or reinstall: ${installHint(env)}`,
        cause: error,
      },
    );
  }
  let replaced = false;
  // Ctrl-C, SIGTERM or SIGHUP (a closed terminal) during the download would otherwise kill the
  // process with the staging file still next to the binary: a hidden partial file of up to the
  // binary's size (over 100 MB) left behind by every interrupted upgrade. The signal cancels the
  // download instead, and the finally below removes the file.
  const cancel = new AbortController();
  const unsubscribe = deps.onInterrupt(() =>
    cancel.abort(new AuthctlError("CANCELLED", "upgrade cancelled; nothing was changed")),
  );
  try {
    const sums = await readSums(
      await get(deps, `${base}/SHA256SUMS`, "SHA256SUMS", version, cancel.signal),
      `${base}/SHA256SUMS`,
      cancel.signal,
    );
    const expected = parseSha256Sums(sums, asset);
    if (!expected)
      throw new AuthctlError("PROTOCOL", `${base}/SHA256SUMS has no entry for ${asset}; nothing was changed`);

    if ((await sha256File(real)) === expected) {
      deps.ui.success(
        `authctl ${currentVersion} is already ${version ? `version ${version}` : "the newest release"} (${real})`,
      );
      return;
    }
    if (unwritable) throw unwritable;

    const response = await get(deps, `${base}/${asset}`, asset, version, cancel.signal);
    const size = Number(response.headers.get("content-length") ?? 0);
    deps.ui.info(`downloading ${asset}${size ? ` (${(size / 1e6).toFixed(0)} MB)` : ""} from ${base}`);
    const hash = createHash("sha256");
    try {
      for await (const chunk of response.body!) {
        hash.update(chunk);
        for (let offset = 0; offset < chunk.length; ) offset += writeSync(fd, chunk, offset);
      }
      fsyncSync(fd);
    } catch (error) {
      if (cancel.signal.aborted) throw cancel.signal.reason;
      throw new NetworkError(
        `downloading ${asset} failed: ${describeIoError(error)}; nothing was changed`,
        {},
        { cause: error },
      );
    }
    closeSync(fd);
    fd = -1;
    const actual = hash.digest("hex");
    if (actual !== expected) {
      throw new AuthctlError(
        "PROTOCOL",
        `checksum mismatch for ${asset}: expected ${expected}, got ${actual}; nothing was changed`,
        {
          hint: "the download was corrupted or tampered with; try again, and report it if it persists",
        },
      );
    }
    chmodSync(staged, 0o755);
    const newVersion = readBinaryVersion(staged);
    if (newVersion === undefined) {
      throw new AuthctlError(
        "PROTOCOL",
        `the downloaded ${asset} does not run on this machine; nothing was changed`,
        {
          hint: "AUTHCTL_TARGET picks another build (e.g. linux-x64-baseline, linux-x64-musl)",
        },
      );
    }
    // Without --version (or AUTHCTL_VERSION) the user asked for the newest release: a "latest"
    // that is older than this binary (a stale mirror or CDN cache, a release tag moved back, a
    // mirror replaying an old release with known bugs) is refused rather than installed as an
    // upgrade. Going back on purpose stays one flag away.
    if (!version && isOlderVersion(newVersion, currentVersion)) {
      throw new AuthctlError(
        "PROTOCOL",
        `the newest release at ${base} is ${newVersion}, older than this authctl ${currentVersion}; nothing was changed`,
        { hint: `to go back to ${newVersion} on purpose: authctl upgrade --version ${newVersion}` },
      );
    }
    // A signal during the trial run (a blocking spawn) is seen only now: still before the swap.
    if (cancel.signal.aborted) throw cancel.signal.reason;
    swap(staged, real, deps.platform);
    replaced = true;
    deps.ui.success(`authctl ${currentVersion} → ${newVersion} (${real})`);
  } finally {
    unsubscribe();
    if (fd >= 0) closeSync(fd);
    if (!replaced && !unwritable) rmSync(staged, { force: true });
  }
}

/**
 * rename(2) over the old file: processes already running keep the old inode, new ones get the
 * new file. Windows cannot rename over a running .exe but can rename it aside first.
 */
function swap(staged: string, target: string, platform: NodeJS.Platform): void {
  const aside = `${target}.old`;
  try {
    if (platform === "win32") {
      rmSync(aside, { force: true });
      renameSync(target, aside);
      try {
        renameSync(staged, target);
      } catch (error) {
        renameSync(aside, target);
        throw error;
      }
    } else renameSync(staged, target);
  } catch (error) {
    throw new AuthctlError(
      "STORE_IO",
      `cannot replace ${target}: ${describeIoError(error)}; the old binary is still in place`,
      { cause: error },
    );
  }
}
