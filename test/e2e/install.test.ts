import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPlatformProbe, detectTarget, RELEASE_TARGETS, releaseAssetName } from "../../src/io/platform.ts";
import { createRelease, fakeBinary, RELEASE_TLS, sha256, startReleaseServer, type ReleaseFiles, type ReleaseServer } from "../fakes/release-server.ts";
import { BINARY, ensureBinary, ROOT, writeScript } from "../helpers/binary.ts";

/**
 * install.sh and `authctl upgrade` against a fake GitHub release server on 127.0.0.1. install.sh
 * is piped into the shell on stdin, as `curl … | sh` does (no TTY, no file). Release assets are
 * stand-in scripts that print their version, except where the real binary has to run.
 */
const INSTALL_SH = readFileSync(join(ROOT, "install.sh"), "utf8");
// Absolute paths: some tests give the shell a PATH without the shells on it.
const SHELLS = [["sh"], ["dash"], ["busybox", "sh"]].flatMap(([cmd, ...args]) => {
  const path = Bun.which(cmd!);
  return path ? [{ name: [cmd, ...args].join(" "), argv: [path, ...args] }] : [];
});
const HOST_ASSET = releaseAssetName(detectTarget({}, createPlatformProbe()));

/** Every target gets a stand-in, so the tests pass whichever build this machine is detected as. */
function standIns(version: string): ReleaseFiles {
  return Object.fromEntries(RELEASE_TARGETS.map((t) => [releaseAssetName(t), fakeBinary(version)]));
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], env: Record<string, string>, stdin?: string): Promise<Run> {
  const proc = Bun.spawn(argv, { env, stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, stdout, stderr };
}

let server: ReleaseServer;
let tmp: string;
let installDir: string;
let baseEnv: Record<string, string>;

beforeAll(() => {
  server = startReleaseServer("0.2.0", {
    "0.1.0": createRelease(standIns("0.1.0")),
    "0.2.0": createRelease(standIns("0.2.0")),
    "0.3.0": createRelease(standIns("0.3.0"), { tamper: RELEASE_TARGETS.map(releaseAssetName) }),
  });
});
afterAll(() => server.stop());
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "authctl-install-"));
  installDir = join(tmp, "bin");
  mkdirSync(join(tmp, "home"));
  baseEnv = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: join(tmp, "home"),
    AUTHCTL_RELEASES_URL: server.releasesUrl,
    AUTHCTL_INSTALL_DIR: installDir,
    AUTHCTL_HOME: join(tmp, "authctl-home"),
    NO_COLOR: "1",
    // authctl falls back to ASCII arrows without a UTF-8 locale; the messages below use "→".
    LANG: "C.UTF-8",
  };
  server.requests.length = 0;
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const installed = () => join(installDir, "authctl");
const installScript = (shell: string[], env: Record<string, string> = {}) => run([...shell], { ...baseEnv, ...env }, INSTALL_SH);
const versionOf = async (path: string) => (await run([path, "--version"], baseEnv)).stdout.trim();

describe.each(SHELLS.map((shell) => [shell.name, shell.argv] as const))("install.sh under %s", (_name, shell) => {
  test("a fresh install puts the newest release in the install dir, 0755, and says it is not on PATH", async () => {
    const result = await installScript([...shell]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    expect(statSync(installed()).mode & 0o777).toBe(0o755);
    expect(await versionOf(installed())).toBe("0.2.0");
    expect(result.stderr).toContain(`authctl 0.2.0 installed to ${installed()}`);
    expect(result.stderr).toContain(`export PATH="${installDir}:$PATH"`);
    expect(readdirSync(installDir)).toEqual(["authctl"]);
    // GitHub's latest/download redirect is followed to the versioned file.
    expect(server.requests.map((r) => r.path)).toContain(`/releases/download/v0.2.0/${HOST_ASSET}`);
    expect(server.requests[0]!.userAgent).toMatch(/^curl\//);
  });

  test("AUTHCTL_VERSION installs that version over an existing binary; no PATH hint when the dir is on PATH", async () => {
    mkdirSync(installDir);
    writeScript(installDir, "authctl", fakeBinary("0.0.9"));
    const result = await installScript([...shell], { AUTHCTL_VERSION: "v0.1.0", PATH: `${installDir}:${baseEnv.PATH}` });
    expect(result.code).toBe(0);
    expect(await versionOf(installed())).toBe("0.1.0");
    expect(result.stderr).not.toContain("not on your PATH");
    expect(server.requests.map((r) => r.path)).toEqual(["/releases/download/v0.1.0/SHA256SUMS", `/releases/download/v0.1.0/${HOST_ASSET}`]);
    expect(readdirSync(installDir)).toEqual(["authctl"]);
  });

  test("a binary that does not match SHA256SUMS is refused and the old one is left untouched", async () => {
    mkdirSync(installDir);
    writeScript(installDir, "authctl", fakeBinary("0.0.9"));
    const before = readFileSync(installed());
    const result = await installScript([...shell], { AUTHCTL_DOWNLOAD_URL: server.downloadUrl("0.3.0") });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`authctl install: error: checksum mismatch for ${HOST_ASSET}: expected`);
    expect(result.stderr).toContain("nothing was installed");
    expect(readFileSync(installed()).equals(before)).toBe(true);
    expect(readdirSync(installDir)).toEqual(["authctl"]);
  });

  test("a version that does not exist (404) fails naming the URL and the version, and installs nothing", async () => {
    const result = await installScript([...shell], { AUTHCTL_VERSION: "9.9.9" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not download ${server.releasesUrl}/download/v9.9.9/SHA256SUMS`);
    expect(result.stderr).toContain("is 9.9.9 a released version?");
    expect(() => statSync(installDir)).toThrow();
  });

  test("without curl it downloads with (busybox) wget, on a system of busybox tools only", async () => {
    const tools = join(tmp, "tools");
    mkdirSync(tools);
    for (const tool of ["wget", "sha256sum", "awk", "uname", "id", "mktemp", "rm", "mkdir", "cp", "chmod", "mv", "grep", "cat"]) {
      symlinkSync(Bun.which("busybox")!, join(tools, tool));
    }
    const result = await installScript([...shell], { PATH: tools });
    expect(result.stderr).not.toContain("curl");
    expect(result.code).toBe(0);
    expect(await versionOf(installed())).toBe("0.2.0");
    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.every((r) => /wget/i.test(r.userAgent))).toBe(true);
  });

  // Tests run as root, which ignores permission bits; these two conditions the kernel refuses
  // even to root: a directory path that runs through a regular file (ENOTDIR), and procfs,
  // which exists but takes no new files.
  test("an install dir that cannot be created (a path under a regular file) fails and says so", async () => {
    writeFileSync(join(tmp, "file"), "");
    const result = await installScript([...shell], { AUTHCTL_INSTALL_DIR: join(tmp, "file", "bin") });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot create the install directory ${join(tmp, "file", "bin")}`);
    expect(result.stderr).toContain("AUTHCTL_INSTALL_DIR");
  });

  test("an install dir that exists but takes no files (/proc) fails and says so", async () => {
    const result = await installScript([...shell], { AUTHCTL_INSTALL_DIR: "/proc" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("cannot write to /proc");
  });
});

describe("install.sh platform detection (uname faked on PATH)", () => {
  async function installAs(uname: { s: string; m: string }, extra: Record<string, string> = {}) {
    const fakes = join(tmp, "fakes");
    mkdirSync(fakes, { recursive: true });
    writeScript(fakes, "uname", `#!/bin/sh\ncase "$1" in -s) echo ${uname.s};; -m) echo ${uname.m};; esac\n`);
    writeScript(fakes, "sysctl", `#!/bin/sh\n[ "$2" = sysctl.proc_translated ] && echo "\${FAKE_ROSETTA:-0}"\n`);
    return installScript([Bun.which("sh")!], { PATH: `${fakes}:${baseEnv.PATH}`, ...extra });
  }
  const asked = () => server.requests.map((r) => r.path.split("/").pop()).find((f) => f !== "SHA256SUMS");

  test("macOS on Apple Silicon gets darwin-arm64, also from an x64 shell under Rosetta", async () => {
    expect((await installAs({ s: "Darwin", m: "arm64" })).code).toBe(0);
    expect(asked()).toBe("authctl-darwin-arm64");
    server.requests.length = 0;
    expect((await installAs({ s: "Darwin", m: "x86_64" }, { FAKE_ROSETTA: "1" })).code).toBe(0);
    expect(asked()).toBe("authctl-darwin-arm64");
    server.requests.length = 0;
    expect((await installAs({ s: "Darwin", m: "x86_64" })).code).toBe(0);
    expect(asked()).toBe("authctl-darwin-x64");
  });

  test("Linux on aarch64 gets an arm64 build (musl when this system is musl)", async () => {
    expect((await installAs({ s: "Linux", m: "aarch64" })).code).toBe(0);
    expect(asked()).toBe(HOST_ASSET.includes("musl") ? "authctl-linux-arm64-musl" : "authctl-linux-arm64");
  });

  test("install.sh picks the same build for this machine as authctl upgrade does", async () => {
    expect((await installScript([Bun.which("sh")!])).code).toBe(0);
    expect(asked()).toBe(HOST_ASSET);
  });

  test("an unsupported OS or CPU, or an unknown AUTHCTL_TARGET, fails before downloading anything", async () => {
    const bsd = await installAs({ s: "FreeBSD", m: "amd64" });
    expect(bsd.code).toBe(1);
    expect(bsd.stderr).toContain("unsupported operating system: FreeBSD");
    const riscv = await installAs({ s: "Linux", m: "riscv64" });
    expect(riscv.code).toBe(1);
    expect(riscv.stderr).toContain("unsupported CPU architecture: riscv64");
    const forced = await installScript([Bun.which("sh")!], { AUTHCTL_TARGET: "linux-mips" });
    expect(forced.code).toBe(1);
    expect(forced.stderr).toContain("AUTHCTL_TARGET=linux-mips is not a release target");
    expect(server.requests).toEqual([]);
  });

  test("a plain-http download URL other than loopback is refused before any download", async () => {
    const result = await installScript([Bun.which("sh")!], { AUTHCTL_DOWNLOAD_URL: "http://example.com/authctl" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("AUTHCTL_DOWNLOAD_URL must be an https:// URL");
  });
});

/**
 * The release over TLS with the test CA, and a plain-http server on 127.0.0.2 that stands for a
 * foreign host on the path: /hop/<file> on the TLS server redirects there, and it redirects back to
 * https, to release 6.6.6 (a foreign binary). Only the first and last hop are https.
 */
describe("downloads over TLS (test CA)", () => {
  let tls: ReleaseServer;
  let foreign: ReleaseServer;
  const BUSYBOX_TOOLS = ["sha256sum", "awk", "uname", "id", "mktemp", "rm", "mkdir", "cp", "chmod", "mv", "grep", "cat"];
  beforeAll(() => {
    tls = startReleaseServer("0.2.0", { "0.2.0": createRelease(standIns("0.2.0")), "6.6.6": createRelease(standIns("6.6.6")) }, { tls: true });
    foreign = startReleaseServer("6.6.6", { "6.6.6": createRelease(standIns("6.6.6")) }, { hostname: "127.0.0.2" });
    for (const file of [...RELEASE_TARGETS.map(releaseAssetName), "SHA256SUMS"]) {
      tls.redirects.set(`/hop/${file}`, `${foreign.url}/hop/${file}`);
      foreign.redirects.set(`/hop/${file}`, `${tls.url}/releases/download/v6.6.6/${file}`);
    }
  });
  afterAll(() => (tls.stop(), foreign.stop()));
  beforeEach(() => {
    tls.requests.length = 0;
    foreign.requests.length = 0;
    // GNU wget reads its CA file from a wgetrc; curl from CURL_CA_BUNDLE; authctl from NODE_EXTRA_CA_CERTS.
    writeFileSync(join(tmp, "wgetrc"), `ca_certificate = ${RELEASE_TLS.caPath}\n`);
  });

  /** A PATH of BusyBox tools (no curl) with the given wget. */
  function toolsWith(wget: string): string {
    const tools = join(tmp, "tools");
    mkdirSync(tools);
    for (const tool of BUSYBOX_TOOLS) symlinkSync(Bun.which("busybox")!, join(tools, tool));
    symlinkSync(wget, join(tools, "wget"));
    return tools;
  }
  const sh = () => [Bun.which("sh")!];
  const gnuWget = Bun.which("wget") && /GNU Wget/.test(Bun.spawnSync(["wget", "--version"]).stdout.toString()) ? Bun.which("wget")! : undefined;

  test.skipIf(!Bun.which("busybox"))("BusyBox wget, which does not verify certificates, is refused for https, naming curl; nothing is downloaded", async () => {
    const result = await installScript(sh(), { PATH: toolsWith(Bun.which("busybox")!), AUTHCTL_DOWNLOAD_URL: tls.downloadUrl("0.2.0") });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("an https download needs curl or GNU wget 1.18 or newer; the wget here is BusyBox wget");
    expect(result.stderr).toContain("install curl (apt-get install curl");
    expect(tls.requests).toEqual([]);
    expect(() => statSync(installDir)).toThrow();
  });

  test.skipIf(!gnuWget)("GNU wget installs over TLS from a server whose CA it trusts (--https-only, TLS 1.2 or newer)", async () => {
    const result = await installScript(sh(), { PATH: toolsWith(gnuWget!), WGETRC: join(tmp, "wgetrc"), AUTHCTL_DOWNLOAD_URL: tls.downloadUrl("0.2.0") });
    expect(result.stderr).toContain(`authctl 0.2.0 installed to ${installed()}`);
    expect(result.code).toBe(0);
    expect(tls.requests.every((r) => /wget/i.test(r.userAgent))).toBe(true);
  });

  test.skipIf(!gnuWget)("GNU wget: a certificate it does not trust fails with wget's reason, and nothing is installed", async () => {
    const result = await installScript(sh(), { PATH: toolsWith(gnuWget!), AUTHCTL_DOWNLOAD_URL: tls.downloadUrl("0.2.0") });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not download ${tls.downloadUrl("0.2.0")}/SHA256SUMS`);
    expect(result.stderr).toContain("wget: ERROR: The certificate of '127.0.0.1' is not trusted");
    expect(() => statSync(installDir)).toThrow();
  });

  test.skipIf(!gnuWget)("GNU wget: a redirect chain https → http → https is refused, and the foreign binary is not installed", async () => {
    const result = await installScript(sh(), { PATH: toolsWith(gnuWget!), WGETRC: join(tmp, "wgetrc"), AUTHCTL_DOWNLOAD_URL: `${tls.url}/hop` });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`refusing ${tls.url}/hop/SHA256SUMS: a redirect left https (${foreign.url}/hop/SHA256SUMS); nothing was installed`);
    expect(() => statSync(installDir)).toThrow();
  });

  test("curl: the same redirect chain is refused at the http hop", async () => {
    const result = await installScript(sh(), { CURL_CA_BUNDLE: RELEASE_TLS.caPath, AUTHCTL_DOWNLOAD_URL: `${tls.url}/hop` });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not download ${tls.url}/hop/SHA256SUMS`);
    expect(foreign.requests).toEqual([]);
    expect(() => statSync(installDir)).toThrow();
  });

  test("a loopback-looking http URL whose host is elsewhere (http://127.0.0.1:x@127.0.0.2/…) is refused before any download", async () => {
    const sneaky = `http://127.0.0.1:x@127.0.0.2:${new URL(foreign.url).port}/releases/download/v6.6.6`;
    const result = await installScript(sh(), { AUTHCTL_DOWNLOAD_URL: sneaky });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`AUTHCTL_DOWNLOAD_URL must be an https:// URL (got: ${sneaky})`);
    expect(foreign.requests).toEqual([]);
    expect(() => statSync(installDir)).toThrow();
  });

  describe("authctl upgrade", () => {
    let copy: string;
    beforeAll(() => ensureBinary());
    beforeEach(() => {
      mkdirSync(installDir);
      copy = join(installDir, "authctl");
      copyFileSync(BINARY, copy);
      chmodSync(copy, 0o755);
    });
    const upgradeEnv = (extra: Record<string, string>) => ({ ...baseEnv, NODE_EXTRA_CA_CERTS: RELEASE_TLS.caPath, ...extra });

    test("installs over TLS from a server whose CA is trusted (NODE_EXTRA_CA_CERTS)", async () => {
      const result = await run([copy, "upgrade"], upgradeEnv({ AUTHCTL_DOWNLOAD_URL: tls.downloadUrl("0.2.0") }));
      expect(result.stderr).toContain(`authctl 0.1.0 → 0.2.0 (${copy})`);
      expect(result.code).toBe(0);
    });

    test("a redirect chain https → http → https is refused at the http hop; the binary is untouched", async () => {
      const before = sha256(readFileSync(copy));
      const result = await run([copy, "upgrade"], upgradeEnv({ AUTHCTL_DOWNLOAD_URL: `${tls.url}/hop` }));
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`authctl: refusing SHA256SUMS: ${tls.url}/hop/SHA256SUMS redirected to ${foreign.url}/hop/SHA256SUMS, which is not https; nothing was changed`);
      expect(foreign.requests).toEqual([]);
      expect(sha256(readFileSync(copy))).toBe(before);
      expect(readdirSync(installDir)).toEqual(["authctl"]);
    });

    test("a loopback-looking http URL whose host is elsewhere is refused before any download", async () => {
      const sneaky = `http://127.0.0.1:x@127.0.0.2:${new URL(foreign.url).port}/releases/download/v6.6.6`;
      const result = await run([copy, "upgrade"], upgradeEnv({ AUTHCTL_DOWNLOAD_URL: sneaky }));
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("AUTHCTL_DOWNLOAD_URL must be an https:// URL");
      expect(foreign.requests).toEqual([]);
    });
  });
});

describe("authctl upgrade", () => {
  let copy: string;
  beforeAll(async () => {
    await ensureBinary();
  });
  beforeEach(() => {
    mkdirSync(installDir);
    copy = join(installDir, "authctl");
    copyFileSync(BINARY, copy);
    chmodSync(copy, 0o755);
  });

  test("the running binary replaces itself with the newest release after checking its checksum", async () => {
    const result = await run([copy, "upgrade"], baseEnv);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`authctl 0.1.0 → 0.2.0 (${copy})`);
    expect(await versionOf(copy)).toBe("0.2.0");
    expect(statSync(copy).mode & 0o777).toBe(0o755);
    expect(readdirSync(installDir)).toEqual(["authctl"]);
    expect(server.requests.map((r) => r.path)).toContain(`/releases/download/v0.2.0/${HOST_ASSET}`);
  });

  test("a config.toml that does not parse does not block the upgrade (it may be what the upgrade fixes)", async () => {
    const home = join(tmp, "broken-home");
    mkdirSync(home, { recursive: true, mode: 0o700 });
    writeFileSync(join(home, "config.toml"), "[providers.x\nstore = ");
    expect((await run([copy, "status"], { ...baseEnv, AUTHCTL_HOME: home })).code).toBe(1);
    const target = writeScript(tmp, "broken-config-authctl", fakeBinary("0.0.9"));
    const result = await run([copy, "upgrade", "--version", "0.3.0"], { ...baseEnv, AUTHCTL_HOME: home, AUTHCTL_UPGRADE_TARGET: target, AUTHCTL_DOWNLOAD_URL: server.downloadUrl("0.1.0") });
    expect(result.stderr).not.toContain("config.toml");
    expect(result.code).toBe(0);
    expect(await versionOf(target)).toBe("0.1.0");
  });

  test("--version and AUTHCTL_UPGRADE_TARGET (the test hook) upgrade another file to that version", async () => {
    const target = writeScript(tmp, "other-authctl", fakeBinary("0.0.9"));
    const result = await run([copy, "upgrade", "--version", "0.3.0"], { ...baseEnv, AUTHCTL_UPGRADE_TARGET: target, AUTHCTL_DOWNLOAD_URL: server.downloadUrl("0.1.0") });
    expect(result.code).toBe(0);
    expect(await versionOf(target)).toBe("0.1.0");
  });

  test("a tampered binary is refused and the running binary is left untouched", async () => {
    const before = sha256(readFileSync(copy));
    const result = await run([copy, "upgrade", "--version", "0.3.0"], baseEnv);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`authctl: checksum mismatch for ${HOST_ASSET}: expected`);
    expect(result.stderr).toContain("nothing was changed");
    expect(sha256(readFileSync(copy))).toBe(before);
    expect(await versionOf(copy)).toBe("0.1.0");
    expect(readdirSync(installDir)).toEqual(["authctl"]);
  });

  test("a version that does not exist fails with the HTTP status and changes nothing", async () => {
    const result = await run([copy, "upgrade"], { ...baseEnv, AUTHCTL_VERSION: "9.9.9" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not download SHA256SUMS: ${server.releasesUrl}/download/v9.9.9/SHA256SUMS answered HTTP 404`);
    expect(result.stderr).toContain("is 9.9.9 a released version?");
    expect(readdirSync(installDir)).toEqual(["authctl"]);
  });

  test("a binary that already matches the release is left alone", async () => {
    server.releases.set("0.1.5", createRelease({ [HOST_ASSET]: readFileSync(BINARY) }));
    const result = await run([copy, "upgrade", "--version", "0.1.5"], baseEnv);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("is already version 0.1.5");
    expect(server.requests.map((r) => r.path)).toEqual(["/releases/download/v0.1.5/SHA256SUMS"]);
    server.releases.delete("0.1.5");
  });

  test("a binary installed by a package manager (in a node_modules) is refused before any download", async () => {
    mkdirSync(join(tmp, "node_modules", "authctl", "bin"), { recursive: true });
    const target = writeScript(join(tmp, "node_modules", "authctl", "bin"), "authctl", fakeBinary("0.0.9"));
    const result = await run([copy, "upgrade"], { ...baseEnv, AUTHCTL_UPGRADE_TARGET: target });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${target} was installed by npm`);
    expect(result.stderr).toContain("npm update -g authctl");
    expect(await versionOf(target)).toBe("0.0.9");
    expect(server.requests).toEqual([]);
  });

  test("a binary in a directory that takes no files (/proc, even for root) is refused before any download", async () => {
    const result = await run([copy, "upgrade"], { ...baseEnv, AUTHCTL_UPGRADE_TARGET: "/proc/version" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("cannot replace /proc/version: /proc is not writable");
    expect(server.requests).toEqual([]);
  });
});
