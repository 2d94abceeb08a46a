import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createPlatformProbe,
  detectTarget,
  RELEASE_TARGETS,
  releaseAssetName,
} from "../../src/io/platform.ts";
import {
  createRelease,
  fakeBinary,
  RELEASE_TLS,
  sha256,
  startReleaseServer,
  type ReleaseFiles,
  type ReleaseServer,
} from "../fakes/release-server.ts";
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

/**
 * The start of an ELF executable for the other CPU (x86-64 here: AArch64, and the reverse): execve
 * refuses it, as it would a download of the wrong build. Shells then try it as a script and fail.
 */
function foreignExecutable(): Uint8Array {
  const bytes = new Uint8Array(4096);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  const view = new DataView(bytes.buffer);
  view.setUint16(16, 2, true); // ET_EXEC
  view.setUint16(18, process.arch === "arm64" ? 0x3e : 0xb7, true); // EM_X86_64 / EM_AARCH64
  view.setUint32(20, 1, true);
  return bytes;
}

/**
 * Runs argv in a private mount namespace after `setup` (mounts a tmpfs over /usr/local/bin, a file
 * over /proc/cpuinfo): the machine's own directories are never touched. Root only.
 */
function inMountNamespace(
  setup: string,
  argv: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<Run> {
  return run(
    [
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      `${setup} || exit 99; exec "$@"`,
      "sh",
      ...argv,
    ],
    env,
    stdin,
  );
}
const CAN_UNSHARE = process.getuid?.() === 0 && Bun.spawnSync(["unshare", "--mount", "true"]).exitCode === 0;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function run(
  argv: string[],
  env: Record<string, string>,
  stdin?: string,
  timeout = 60_000,
): Promise<Run> {
  const proc = Bun.spawn(argv, {
    env,
    stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
    stdout: "pipe",
    stderr: "pipe",
    timeout,
  });
  const [stdout, stderr] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
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
    // SHA256SUMS lists another file only: every build is unverifiable.
    "0.4.0": { ...standIns("0.4.0"), SHA256SUMS: `${sha256("x")}  authctl-other\n` },
    "0.5.0": createRelease(
      Object.fromEntries(RELEASE_TARGETS.map((t) => [releaseAssetName(t), foreignExecutable()])),
    ),
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
const installScript = (shell: string[], env: Record<string, string> = {}) =>
  run([...shell], { ...baseEnv, ...env }, INSTALL_SH);
const versionOf = async (path: string) => (await run([path, "--version"], baseEnv)).stdout.trim();

describe.each(SHELLS.map((shell) => [shell.name, shell.argv] as const))(
  "install.sh under %s",
  (_name, shell) => {
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

    test("a newest release older than the authctl already installed is refused unless AUTHCTL_VERSION asks for it", async () => {
      mkdirSync(installDir);
      writeScript(installDir, "authctl", fakeBinary("0.10.0"));
      const refused = await installScript([...shell]);
      expect(refused.stderr).toContain(
        `authctl install: error: the newest release at ${server.releasesUrl}/latest/download is 0.2.0, older than the authctl 0.10.0 at ${installed()}; nothing was installed`,
      );
      expect(refused.stderr).toContain("AUTHCTL_VERSION=0.2.0");
      expect(refused.code).toBe(1);
      expect(await versionOf(installed())).toBe("0.10.0");
      expect(readdirSync(installDir)).toEqual(["authctl"]);

      const pinned = await installScript([...shell], { AUTHCTL_VERSION: "0.2.0" });
      expect(pinned.code).toBe(0);
      expect(await versionOf(installed())).toBe("0.2.0");
    });

    test("AUTHCTL_VERSION installs that version over an existing binary; no PATH hint when the dir is on PATH", async () => {
      mkdirSync(installDir);
      writeScript(installDir, "authctl", fakeBinary("0.0.9"));
      const result = await installScript([...shell], {
        AUTHCTL_VERSION: "v0.1.0",
        PATH: `${installDir}:${baseEnv.PATH}`,
      });
      expect(result.code).toBe(0);
      expect(await versionOf(installed())).toBe("0.1.0");
      expect(result.stderr).not.toContain("not on your PATH");
      expect(server.requests.map((r) => r.path)).toEqual([
        "/releases/download/v0.1.0/SHA256SUMS",
        `/releases/download/v0.1.0/${HOST_ASSET}`,
      ]);
      expect(readdirSync(installDir)).toEqual(["authctl"]);
    });

    test("a binary that does not match SHA256SUMS is refused and the old one is left untouched", async () => {
      mkdirSync(installDir);
      writeScript(installDir, "authctl", fakeBinary("0.0.9"));
      const before = readFileSync(installed());
      const result = await installScript([...shell], { AUTHCTL_DOWNLOAD_URL: server.downloadUrl("0.3.0") });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `authctl install: error: checksum mismatch for ${HOST_ASSET}: expected`,
      );
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
      for (const tool of [
        "wget",
        "sha256sum",
        "awk",
        "uname",
        "id",
        "mktemp",
        "rm",
        "rmdir",
        "mkdir",
        "cp",
        "chmod",
        "mv",
        "grep",
        "cat",
      ]) {
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

    test("an install path that is a directory (or a link to one) is refused before any download; nothing is moved into it", async () => {
      mkdirSync(join(installDir, "authctl"), { recursive: true });
      const result = await installScript([...shell]);
      expect(result.stderr).toContain(
        `authctl install: error: ${installDir}/authctl is a directory; nothing was installed`,
      );
      expect(result.code).toBe(1);
      expect(readdirSync(join(installDir, "authctl"))).toEqual([]);
      expect(server.requests).toEqual([]);

      rmSync(join(installDir, "authctl"), { recursive: true });
      mkdirSync(join(tmp, "elsewhere"));
      symlinkSync(join(tmp, "elsewhere"), join(installDir, "authctl"));
      const linked = await installScript([...shell]);
      expect(linked.code).toBe(1);
      expect(readdirSync(join(tmp, "elsewhere"))).toEqual([]);
    });

    test("an install dir that exists but takes no files (/proc) fails and says so before downloading anything", async () => {
      const result = await installScript([...shell], { AUTHCTL_INSTALL_DIR: "/proc" });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("cannot write to /proc");
      expect(server.requests).toEqual([]);
    });

    test("installing the build that is already there says so, downloads only SHA256SUMS and changes nothing", async () => {
      expect((await installScript([...shell], { AUTHCTL_VERSION: "0.2.0" })).code).toBe(0);
      const before = statSync(installed());
      server.requests.length = 0;
      const again = await installScript([...shell], { AUTHCTL_VERSION: "0.2.0" });
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(
        `authctl 0.2.0 is already installed at ${installed()} (it matches SHA256SUMS); nothing was changed`,
      );
      expect(server.requests.map((r) => r.path)).toEqual(["/releases/download/v0.2.0/SHA256SUMS"]);
      expect(statSync(installed()).ino).toBe(before.ino);
      expect(readdirSync(installDir)).toEqual(["authctl"]);
    });

    test("a build that SHA256SUMS does not list is refused (no unverified binary), and the old one is left untouched", async () => {
      mkdirSync(installDir);
      writeScript(installDir, "authctl", fakeBinary("0.0.9"));
      const result = await installScript([...shell], { AUTHCTL_VERSION: "0.4.0" });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`SHA256SUMS has no entry for ${HOST_ASSET}; nothing was installed`);
      expect(await versionOf(installed())).toBe("0.0.9");
      expect(readdirSync(installDir)).toEqual(["authctl"]);
    });

    test("a build that does not run on this machine (an executable for another CPU) is refused, and the old one is left untouched", async () => {
      mkdirSync(installDir);
      writeScript(installDir, "authctl", fakeBinary("0.0.9"));
      const result = await installScript([...shell], { AUTHCTL_VERSION: "0.5.0" });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `the downloaded ${HOST_ASSET} does not run on this machine; nothing was installed`,
      );
      expect(result.stderr).toContain("AUTHCTL_TARGET picks another build");
      expect(await versionOf(installed())).toBe("0.0.9");
      expect(readdirSync(installDir)).toEqual(["authctl"]);
    });

    test("a failed download leaves no install directory behind (it is created first, to check it, and removed again)", async () => {
      const nested = join(tmp, "new", "deeper", "bin");
      const result = await installScript([...shell], {
        AUTHCTL_INSTALL_DIR: nested,
        AUTHCTL_VERSION: "9.9.9",
      });
      expect(result.code).toBe(1);
      expect(() => statSync(join(tmp, "new"))).toThrow();
    });
  },
);

describe("install.sh platform detection (uname faked on PATH)", () => {
  async function installAs(uname: { s: string; m: string }, extra: Record<string, string> = {}) {
    const fakes = join(tmp, "fakes");
    mkdirSync(fakes, { recursive: true });
    writeScript(fakes, "uname", `#!/bin/sh\ncase "$1" in -s) echo ${uname.s};; -m) echo ${uname.m};; esac\n`);
    writeScript(
      fakes,
      "sysctl",
      `#!/bin/sh\n[ "$2" = sysctl.proc_translated ] && echo "\${FAKE_ROSETTA:-0}"\n`,
    );
    return installScript([Bun.which("sh")!], { PATH: `${fakes}:${baseEnv.PATH}`, ...extra });
  }
  // Every stand-in is the same script, so a second install into the same directory would find the
  // build already there and download nothing: each case starts from an empty directory.
  const asked = () => {
    rmSync(installDir, { recursive: true, force: true });
    return server.requests.map((r) => r.path.split("/").pop()).find((f) => f !== "SHA256SUMS");
  };

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
    const result = await installScript([Bun.which("sh")!], {
      AUTHCTL_DOWNLOAD_URL: "http://example.com/authctl",
    });
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
  const BUSYBOX_TOOLS = [
    "sha256sum",
    "awk",
    "uname",
    "id",
    "mktemp",
    "rm",
    "rmdir",
    "mkdir",
    "cp",
    "chmod",
    "mv",
    "grep",
    "cat",
  ];
  beforeAll(() => {
    tls = startReleaseServer(
      "0.2.0",
      { "0.2.0": createRelease(standIns("0.2.0")), "6.6.6": createRelease(standIns("6.6.6")) },
      { tls: true },
    );
    foreign = startReleaseServer(
      "6.6.6",
      { "6.6.6": createRelease(standIns("6.6.6")) },
      { hostname: "127.0.0.2" },
    );
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
  const gnuWget =
    Bun.which("wget") && /GNU Wget/.test(Bun.spawnSync(["wget", "--version"]).stdout.toString())
      ? Bun.which("wget")!
      : undefined;

  test.skipIf(!Bun.which("busybox"))(
    "BusyBox wget, which does not verify certificates, is refused for https, naming curl; nothing is downloaded",
    async () => {
      const result = await installScript(sh(), {
        PATH: toolsWith(Bun.which("busybox")!),
        AUTHCTL_DOWNLOAD_URL: tls.downloadUrl("0.2.0"),
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        "an https download needs curl or GNU wget 1.18 or newer; the wget here is BusyBox wget",
      );
      expect(result.stderr).toContain("install curl (apt-get install curl");
      expect(tls.requests).toEqual([]);
      expect(() => statSync(installDir)).toThrow();
    },
  );

  test.skipIf(!gnuWget)(
    "GNU wget installs over TLS from a server whose CA it trusts (--https-only, TLS 1.2 or newer)",
    async () => {
      const result = await installScript(sh(), {
        PATH: toolsWith(gnuWget!),
        WGETRC: join(tmp, "wgetrc"),
        AUTHCTL_DOWNLOAD_URL: tls.downloadUrl("0.2.0"),
      });
      expect(result.stderr).toContain(`authctl 0.2.0 installed to ${installed()}`);
      expect(result.code).toBe(0);
      expect(tls.requests.every((r) => /wget/i.test(r.userAgent))).toBe(true);
    },
  );

  test.skipIf(!gnuWget)(
    "GNU wget: a certificate it does not trust fails with wget's reason, and nothing is installed",
    async () => {
      const result = await installScript(sh(), {
        PATH: toolsWith(gnuWget!),
        AUTHCTL_DOWNLOAD_URL: tls.downloadUrl("0.2.0"),
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`could not download ${tls.downloadUrl("0.2.0")}/SHA256SUMS`);
      expect(result.stderr).toContain("wget: ERROR: The certificate of '127.0.0.1' is not trusted");
      expect(() => statSync(installDir)).toThrow();
    },
  );

  test.skipIf(!gnuWget)(
    "GNU wget: a redirect chain https → http → https is refused, and the foreign binary is not installed",
    async () => {
      const result = await installScript(sh(), {
        PATH: toolsWith(gnuWget!),
        WGETRC: join(tmp, "wgetrc"),
        AUTHCTL_DOWNLOAD_URL: `${tls.url}/hop`,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `refusing ${tls.url}/hop/SHA256SUMS: a redirect left https (${foreign.url}/hop/SHA256SUMS); nothing was installed`,
      );
      expect(() => statSync(installDir)).toThrow();
    },
  );

  test("curl: the same redirect chain is refused at the http hop", async () => {
    const result = await installScript(sh(), {
      CURL_CA_BUNDLE: RELEASE_TLS.caPath,
      AUTHCTL_DOWNLOAD_URL: `${tls.url}/hop`,
    });
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
    const upgradeEnv = (extra: Record<string, string>) => ({
      ...baseEnv,
      NODE_EXTRA_CA_CERTS: RELEASE_TLS.caPath,
      ...extra,
    });

    test("installs over TLS from a server whose CA is trusted (NODE_EXTRA_CA_CERTS)", async () => {
      const result = await run(
        [copy, "upgrade"],
        upgradeEnv({ AUTHCTL_DOWNLOAD_URL: tls.downloadUrl("0.2.0") }),
      );
      expect(result.stderr).toContain(`authctl 0.1.0 → 0.2.0 (${copy})`);
      expect(result.code).toBe(0);
    });

    test("a redirect chain https → http → https is refused at the http hop; the binary is untouched", async () => {
      const before = sha256(readFileSync(copy));
      const result = await run([copy, "upgrade"], upgradeEnv({ AUTHCTL_DOWNLOAD_URL: `${tls.url}/hop` }));
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `authctl: refusing SHA256SUMS: ${tls.url}/hop/SHA256SUMS redirected to ${foreign.url}/hop/SHA256SUMS, which is not https; nothing was changed`,
      );
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
    const result = await run([copy, "upgrade", "--version", "0.3.0"], {
      ...baseEnv,
      AUTHCTL_HOME: home,
      AUTHCTL_UPGRADE_TARGET: target,
      AUTHCTL_DOWNLOAD_URL: server.downloadUrl("0.1.0"),
    });
    expect(result.stderr).not.toContain("config.toml");
    expect(result.code).toBe(0);
    expect(await versionOf(target)).toBe("0.1.0");
  });

  test("--version and AUTHCTL_UPGRADE_TARGET (the test hook) upgrade another file to that version", async () => {
    const target = writeScript(tmp, "other-authctl", fakeBinary("0.0.9"));
    const result = await run([copy, "upgrade", "--version", "0.3.0"], {
      ...baseEnv,
      AUTHCTL_UPGRADE_TARGET: target,
      AUTHCTL_DOWNLOAD_URL: server.downloadUrl("0.1.0"),
    });
    expect(result.code).toBe(0);
    expect(await versionOf(target)).toBe("0.1.0");
  });

  test.each([["SIGINT"], ["SIGTERM"]] as const)(
    "%s during the download cancels it (exit 2) and leaves no partial file next to the binary",
    async (signal) => {
      // A mirror that sends the binary slowly and never finishes: the upgrade is mid-download.
      const stalling = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch(req) {
          if (new URL(req.url).pathname.endsWith("/SHA256SUMS"))
            return new Response(`${"a".repeat(64)}  ${HOST_ASSET}\n`);
          return new Response(
            new ReadableStream({
              async pull(controller) {
                controller.enqueue(new Uint8Array(64 * 1024));
                await Bun.sleep(20);
              },
            }),
          );
        },
      });
      try {
        const before = sha256(readFileSync(copy));
        const proc = Bun.spawn([copy, "upgrade"], {
          env: { ...baseEnv, AUTHCTL_DOWNLOAD_URL: `http://127.0.0.1:${stalling.port}/v` },
          stdout: "pipe",
          stderr: "pipe",
          timeout: 60_000,
        });
        const partial = () =>
          readdirSync(installDir)
            .filter((name) => name !== "authctl")
            .some((name) => statSync(join(installDir, name)).size > 0);
        for (const deadline = Date.now() + 30_000; !partial(); ) {
          if (Date.now() > deadline) throw new Error("the download never started");
          await Bun.sleep(20);
        }
        proc.kill(signal);
        const stderr = await new Response(proc.stderr).text();
        expect(stderr).toContain("authctl: upgrade cancelled; nothing was changed");
        expect(await proc.exited).toBe(2);
        expect(readdirSync(installDir)).toEqual(["authctl"]);
        expect(sha256(readFileSync(copy))).toBe(before);
      } finally {
        stalling.stop(true);
      }
    },
    60_000,
  );

  test("a SHA256SUMS that never ends (a broken mirror or proxy) is refused past 64 KiB, and nothing is downloaded or changed", async () => {
    const endless = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () =>
        new Response(
          new ReadableStream({
            async pull(controller) {
              controller.enqueue(new TextEncoder().encode(`${"0".repeat(64)}  padding\n`.repeat(256)));
              await Bun.sleep(1);
            },
          }),
        ),
    });
    try {
      const before = sha256(readFileSync(copy));
      const url = `http://127.0.0.1:${endless.port}/v`;
      // Killed after 30 s when it keeps reading (the download timeout is 10 minutes).
      const result = await run(
        [copy, "upgrade"],
        { ...baseEnv, AUTHCTL_DOWNLOAD_URL: url },
        undefined,
        30_000,
      );
      expect(result.stderr).toContain(
        `authctl: ${url}/SHA256SUMS is larger than 64 KiB, which no SHA256SUMS is; nothing was changed`,
      );
      expect(result.code).toBe(1);
      expect(sha256(readFileSync(copy))).toBe(before);
      expect(readdirSync(installDir)).toEqual(["authctl"]);
    } finally {
      endless.stop(true);
    }
  }, 60_000);

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
    expect(result.stderr).toContain(
      `could not download SHA256SUMS: ${server.releasesUrl}/download/v9.9.9/SHA256SUMS answered HTTP 404`,
    );
    expect(result.stderr).toContain("is 9.9.9 a released version?");
    expect(readdirSync(installDir)).toEqual(["authctl"]);
  });

  test("a newest release older than the running binary is refused unless --version asks for it (no silent downgrade)", async () => {
    server.releases.set("0.0.5", createRelease(standIns("0.0.5")));
    server.latest = "0.0.5";
    try {
      const before = sha256(readFileSync(copy));
      const refused = await run([copy, "upgrade"], baseEnv);
      expect(refused.stderr).toContain(
        `authctl: the newest release at ${server.releasesUrl}/latest/download is 0.0.5, older than this authctl 0.1.0; nothing was changed`,
      );
      expect(refused.stderr).toContain("authctl upgrade --version 0.0.5");
      expect(refused.code).toBe(1);
      expect(sha256(readFileSync(copy))).toBe(before);
      expect(readdirSync(installDir)).toEqual(["authctl"]);

      const pinned = await run([copy, "upgrade", "--version", "0.0.5"], baseEnv);
      expect(pinned.code).toBe(0);
      expect(await versionOf(copy)).toBe("0.0.5");
    } finally {
      server.latest = "0.2.0";
      server.releases.delete("0.0.5");
    }
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

  test("a binary in a directory that takes no files (/proc, even for root) is refused before the binary is downloaded", async () => {
    const result = await run([copy, "upgrade"], { ...baseEnv, AUTHCTL_UPGRADE_TARGET: "/proc/version" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("cannot replace /proc/version: /proc is not writable");
    expect(server.requests.map((r) => r.path).filter((p) => !p.endsWith("/SHA256SUMS"))).toEqual([]);
  });

  test("a build that does not run on this machine is refused and the binary is left untouched", async () => {
    const before = sha256(readFileSync(copy));
    const result = await run([copy, "upgrade", "--version", "0.5.0"], baseEnv);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `authctl: the downloaded ${HOST_ASSET} does not run on this machine; nothing was changed`,
    );
    expect(sha256(readFileSync(copy))).toBe(before);
    expect(readdirSync(installDir)).toEqual(["authctl"]);
  });

  test("a build that SHA256SUMS does not list is refused before it is downloaded", async () => {
    const result = await run([copy, "upgrade", "--version", "0.4.0"], baseEnv);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`SHA256SUMS has no entry for ${HOST_ASSET}; nothing was changed`);
    expect(server.requests.map((r) => r.path)).toEqual(["/releases/download/v0.4.0/SHA256SUMS"]);
    expect(await versionOf(copy)).toBe("0.1.0");
  });

  test.each([
    ["Homebrew (a Cellar)", "Cellar/authctl/0.1.0/bin", "brew upgrade authctl"],
    ["Homebrew on Linux", "home/linuxbrew/.linuxbrew/Cellar/authctl/0.1.0/bin", "brew upgrade authctl"],
  ])("a binary installed by %s is refused before any download", async (_name, under, hint) => {
    mkdirSync(join(tmp, under), { recursive: true });
    const target = writeScript(join(tmp, under), "authctl", fakeBinary("0.0.9"));
    const result = await run([copy, "upgrade"], { ...baseEnv, AUTHCTL_UPGRADE_TARGET: target });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `${target} was installed by Homebrew; authctl will not replace it behind its back`,
    );
    expect(result.stderr).toContain(hint);
    expect(server.requests).toEqual([]);
  });

  // As root, /usr/bin is a scratch directory in a private mount namespace: were the refusal ever
  // lost (a regression, a mutant), the upgrade would otherwise replace the machine's own
  // /usr/bin/env with the fake release (a script that prints its version), and every test and
  // process that runs `env` meanwhile gets no environment back (shell-roundtrip.test.ts did).
  // Any other user cannot write /usr/bin and runs against the real one.
  const isRoot = process.getuid?.() === 0;
  test.skipIf(isRoot && !CAN_UNSHARE)(
    "a binary in /usr/bin (the system package manager's) is refused before any download",
    async () => {
      const usrBin = join(tmp, "usr-bin");
      mkdirSync(usrBin, { recursive: true });
      writeScript(usrBin, "env", fakeBinary("0.0.9"));
      const env = { ...baseEnv, AUTHCTL_UPGRADE_TARGET: "/usr/bin/env" };
      const result = isRoot
        ? await inMountNamespace(`mount --bind ${usrBin} /usr/bin`, [copy, "upgrade"], env)
        : await run([copy, "upgrade"], env);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("/usr/bin/env was installed by the system package manager");
      expect(result.stderr).toContain("apt, dnf, pacman, apk");
      expect(server.requests).toEqual([]);
    },
  );

  describe("a binary its user cannot replace (root-owned, upgraded as nobody)", () => {
    const asNobody = (argv: string[], env: Record<string, string>) =>
      run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", ...argv], {
        ...env,
        HOME: "/",
      });
    const canDrop = process.getuid?.() === 0 && Boolean(Bun.which("setpriv"));
    beforeEach(() => chmodSync(tmp, 0o755));

    test.skipIf(!canDrop)(
      "that is already the newest release says so instead of 'cannot replace'",
      async () => {
        server.releases.set("0.1.5", createRelease({ [HOST_ASSET]: readFileSync(BINARY) }));
        try {
          const result = await asNobody([copy, "upgrade", "--version", "0.1.5"], baseEnv);
          expect(result.stderr).not.toContain("cannot replace");
          expect(result.stderr).toContain(`is already version 0.1.5 (${copy})`);
          expect(result.code).toBe(0);
        } finally {
          server.releases.delete("0.1.5");
        }
      },
    );

    test.skipIf(!canDrop)(
      "that is older says it cannot replace it before downloading the binary, and the hint reinstalls from AUTHCTL_DOWNLOAD_URL",
      async () => {
        const mirror = server.downloadUrl("0.2.0");
        const result = await asNobody([copy, "upgrade"], { ...baseEnv, AUTHCTL_DOWNLOAD_URL: mirror });
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(
          `cannot replace ${copy}: ${installDir} is not writable (EACCES: permission denied)`,
        );
        expect(result.stderr).toContain(
          `reinstall: curl -fsSL ${mirror}/install.sh | AUTHCTL_DOWNLOAD_URL=${mirror} sh`,
        );
        expect(result.stderr).not.toContain("github.com");
        expect(server.requests.map((r) => r.path)).toEqual(["/releases/download/v0.2.0/SHA256SUMS"]);
        expect(readdirSync(installDir)).toEqual(["authctl"]);
      },
    );
  });
});

describe("where install.sh puts authctl, and copies that shadow it (private mount namespace)", () => {
  const shadowEnv = () => {
    const env = { ...baseEnv };
    delete (env as Record<string, string | undefined>).AUTHCTL_INSTALL_DIR;
    return env;
  };
  /** `id -u` answers 1000: a user install, while the test itself runs as root. */
  function asUser(): string {
    const fakes = join(tmp, "fakes");
    mkdirSync(fakes, { recursive: true });
    writeScript(fakes, "id", `#!/bin/sh\n[ "$1" = -u ] && echo 1000 || exec /usr/bin/id "$@"\n`);
    return fakes;
  }
  const TMPFS = "mount -t tmpfs tmpfs /usr/local/bin";
  const userBin = () => join(baseEnv.HOME!, ".local", "bin");

  test.skipIf(!CAN_UNSHARE)("a user gets ~/.local/bin by default", async () => {
    const result = await inMountNamespace(
      TMPFS,
      [Bun.which("sh")!],
      { ...shadowEnv(), PATH: `${asUser()}:/usr/bin:/bin` },
      INSTALL_SH,
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`authctl 0.2.0 installed to ${join(userBin(), "authctl")}`);
    expect(await versionOf(join(userBin(), "authctl"))).toBe("0.2.0");
  });

  test.skipIf(!CAN_UNSHARE)("root gets /usr/local/bin by default", async () => {
    const result = await inMountNamespace(
      TMPFS,
      [Bun.which("sh")!, "-c", `sh && /usr/local/bin/authctl --version`],
      { ...shadowEnv(), PATH: "/usr/local/bin:/usr/bin:/bin" },
      INSTALL_SH,
    );
    expect(result.stderr).toContain("authctl 0.2.0 installed to /usr/local/bin/authctl");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("0.2.0\n");
    expect(() => statSync(userBin())).toThrow();
  });

  test.skipIf(!CAN_UNSHARE)(
    "a user install while /usr/local/bin/authctl exists names that copy",
    async () => {
      const setup = `${TMPFS} && printf '#!/bin/sh\\necho 0.0.9\\n' >/usr/local/bin/authctl && chmod 755 /usr/local/bin/authctl`;
      const result = await inMountNamespace(
        setup,
        [Bun.which("sh")!],
        { ...shadowEnv(), PATH: `${asUser()}:/usr/local/bin:/usr/bin:/bin` },
        INSTALL_SH,
      );
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(`${userBin()} is not on your PATH`);
      expect(result.stderr).toContain("note: until then, 'authctl' runs /usr/local/bin/authctl");
    },
  );

  test.skipIf(!CAN_UNSHARE)(
    "a root install while ~/.local/bin/authctl exists names that copy (it shadows the new one where ~/.local/bin comes first)",
    async () => {
      mkdirSync(userBin(), { recursive: true });
      writeScript(userBin(), "authctl", fakeBinary("0.0.9"));
      const result = await inMountNamespace(
        TMPFS,
        [Bun.which("sh")!],
        { ...shadowEnv(), PATH: "/usr/local/bin:/usr/bin:/bin" },
        INSTALL_SH,
      );
      expect(result.code).toBe(0);
      expect(result.stderr).toContain("authctl 0.2.0 installed to /usr/local/bin/authctl");
      expect(result.stderr).toContain(
        `note: another authctl is installed at ${join(userBin(), "authctl")}; whichever directory comes first on PATH wins`,
      );
    },
  );

  describe.skipIf(!CAN_UNSHARE || HOST_ASSET !== "authctl-linux-x64")(
    "an x64 CPU without AVX2 (/proc/cpuinfo replaced)",
    () => {
      const noAvx2 = () => {
        const cpuinfo = join(tmp, "cpuinfo");
        writeFileSync(
          cpuinfo,
          readFileSync("/proc/cpuinfo", "utf8")
            .replace(/\bavx2\b/g, "")
            .replace(/\bavx512\w*/g, ""),
        );
        return `mount --bind ${cpuinfo} /proc/cpuinfo`;
      };

      test("install.sh picks the -baseline build", async () => {
        const result = await inMountNamespace(noAvx2(), [Bun.which("sh")!], baseEnv, INSTALL_SH);
        expect(result.code).toBe(0);
        expect(server.requests.map((r) => r.path)).toContain(
          "/releases/download/v0.2.0/authctl-linux-x64-baseline",
        );
        expect(server.requests.map((r) => r.path)).not.toContain(
          "/releases/download/v0.2.0/authctl-linux-x64",
        );
      });

      test("authctl upgrade picks the -baseline build", async () => {
        await ensureBinary();
        const target = writeScript(tmp, "old-authctl", fakeBinary("0.0.9"));
        const result = await inMountNamespace(noAvx2(), [BINARY, "upgrade"], {
          ...baseEnv,
          AUTHCTL_UPGRADE_TARGET: target,
        });
        expect(result.code).toBe(0);
        expect(server.requests.map((r) => r.path)).toContain(
          "/releases/download/v0.2.0/authctl-linux-x64-baseline",
        );
        expect(await versionOf(target)).toBe("0.2.0");
      });
    },
  );
});
