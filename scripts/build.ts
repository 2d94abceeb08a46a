#!/usr/bin/env bun
/**
 * Builds the self-contained binary: dist/authctl (dist/authctl.exe on Windows).
 * `--target bun-linux-x64` etc. cross-compiles (scripts/release.ts uses that).
 *
 * Two passes (issue 18): the first binary runs `env`, `token` and `exec` in a throwaway home with
 * BUN_BYTECODE_ORDER_OUT set, so Bun records which functions start-up uses; the second build lays
 * that bytecode out together at the front of the binary (`compile.bytecodeOrder`), so those
 * commands touch fewer pages of it. A cross-compiled target gets the profile of a host build of
 * the same source. `--no-profile` skips the first pass (a quicker build for the same behaviour).
 *
 * `--profile-dir=DIR` shares one recording between builds (scripts/release.ts builds eight targets
 * of one source): an empty or missing DIR is recorded into and kept, with no binary built after it
 * when `--record-only` is given; a DIR that holds a recording is used as it is, without a first pass.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const root = join(import.meta.dir, "..");
const args = process.argv.slice(2);
const target = args.find((a) => a.startsWith("--target="))?.slice(9);
const outfile =
  args.find((a) => a.startsWith("--outfile="))?.slice(10) ??
  join(root, "dist", process.platform === "win32" ? "authctl.exe" : "authctl");
mkdirSync(dirname(outfile), { recursive: true });

/**
 * The JIT policy `env`, `token` and `exec` start with (Bun.unsafe.setJITPolicy): run-once start-up
 * code stays in the interpreter instead of being compiled. Measured with scripts/bench.ts' method
 * (issue 18, 15 alternating runs): `env openrouter` 35.7 -> 34.9 MiB peak (4 and 100 measure the
 * same, 34.9-35.0). main.ts and the proxy set the normal policy (1) back for everything that runs
 * long: without that, the proxy's added p50 went 0.17 -> 0.23-0.29 ms (scripts/bench-proxy.ts).
 */
const JIT_POLICY = 16;

/**
 * `--usual-case=off` builds a binary without src/main.ts's usual-case lane (the full path answers
 * every command), `only` one that exits 99 where the lane hands over to the full path. Tests
 * compare the three (test/e2e/usual-case.test.ts); releases are `on`.
 */
const usualCase = args.find((a) => a.startsWith("--usual-case="))?.slice(13) ?? "on";
if (!["on", "off", "only"].includes(usualCase)) {
  console.error(`build: --usual-case must be on, off or only, not "${usualCase}"`);
  process.exit(2);
}

async function build(file: string, options: { target?: string; order?: string[] }): Promise<void> {
  const result = await Bun.build({
    entrypoints: [join(root, "src/main.ts")],
    compile: {
      outfile: file,
      ...(options.target ? { target: options.target as never } : {}),
      jitPolicy: JIT_POLICY,
      // A compiled Bun program reads bunfig.toml and .env from the directory it runs in, unless
      // told not to. For authctl that directory is whatever project the user is in: a cloned
      // repository's bunfig.toml `preload` ran its own code inside authctl (with the keyring and
      // the store's key in reach), and its .env set AUTHCTL_HOME, AUTHCTL_STORE or a proxy for
      // authctl and reached exec's child unasked (found trying it; test/e2e/working-directory.test.ts).
      // authctl's settings come from its environment and config.toml only. Reading nothing also
      // spares every start a scan of the working directory's parents (0.2-0.7 ms, measured).
      autoloadBunfig: false,
      autoloadDotenv: false,
      autoloadTsconfig: false,
      autoloadPackageJson: false,
      // Any argument here makes the binary start from a working directory that was deleted (a
      // shell left in a removed worktree or build directory, a service whose WorkingDirectory a
      // deploy replaced): a compiled Bun 1.4 binary without one refuses to start there at all
      // ("error: The current working directory was deleted"), `authctl token` and `--version`
      // included, before any of authctl runs (oven-sh/bun#40372). `--no-install` is chosen
      // because it changes nothing for a bundle: there is nothing for auto-install to fetch.
      execArgv: ["--no-install"],
      // Profile-guided layout (see above): measured on `env openrouter`, 35.7 -> 34.5 MiB peak on
      // the plain file store and 41.1 -> 39.1 MiB on the encrypted one (15 alternating runs).
      ...(options.order?.length ? { bytecodeOrder: options.order } : {}),
    },
    define: { AUTHCTL_USUAL_CASE: JSON.stringify(usualCase) },
    minify: true,
    // Bytecode skips parsing at start-up: it is most of what separates `authctl env` from a
    // hello-world binary (scripts/bench.ts measures the ratio). Without it: same memory, 3.4× the
    // wall time (measured).
    bytecode: true,
    // ES modules split at each `await import()`: the code only other commands use (citty, clack,
    // the OAuth flows, the proxy) is a separate module in the binary, loaded when reached, where a
    // single CommonJS file made every start-up of `env` pay for the whole program. Measured with
    // scripts/bench.ts' method (issue 18): `env openrouter` median wall 1.99x -> 1.13x of the
    // console.log hello-world (21 alternating runs, load average 23), peak memory 35.1 -> 34.9 MiB.
    // One ESM chunk instead: 43.6 MiB. A require() of a module stays a chunk boundary too
    // (splitRequire, Bun's default): keeping those in the caller's chunk measured 37.4 MiB.
    format: "esm",
    splitting: true,
    sourcemap: "none",
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    process.exit(1);
  }
}

/**
 * Runs the hot path of a freshly built binary in a throwaway home (a key on the plain file store,
 * a fresh OAuth token, three keys in the encrypted store, and where it can a key in a private
 * keyring) and returns the recorded profiles, most common start first. Any failure only costs the
 * layout: the build goes on without a profile.
 */
async function recordProfiles(binary: string, into?: string): Promise<{ files: string[]; cleanup(): void }> {
  const work = mkdtempSync(join(tmpdir(), "authctl-profile-"));
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  const orders = into ?? work;
  const files: string[] = [];
  const base = { PATH: "/usr/bin:/bin", HOME: work, AUTHCTL_EXEC_MODE: "spawn" };
  const plain = { ...base, AUTHCTL_HOME: join(work, "file"), AUTHCTL_STORE: "file" };
  const sealed = { ...base, AUTHCTL_HOME: join(work, "encrypted"), AUTHCTL_STORE: "encrypted" };
  const run = (argv: string[], env: Record<string, string>, stdin?: string) => {
    const proc = Bun.spawnSync([binary, ...argv], {
      env,
      stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
      stdout: "ignore",
      stderr: "pipe",
    });
    if (proc.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${proc.stderr.toString().trim()}`);
  };
  try {
    const key = "sk-or-v1-profile0123456789abcdef0123456789abcdef0123456789abcdef012345";
    run(["login", "openrouter", "--with-key", "--no-verify"], plain, key);
    for (const provider of ["openrouter", "anthropic", "openai"])
      run(["login", provider, "--with-key", "--no-verify"], sealed, key);
    const now = Date.now();
    writeFileSync(
      join(work, "file", "config.toml"),
      '[providers.mycorp]\nissuer = "https://sso.example.com"\nclient_id = "authctl"\n',
    );
    // A fresh OAuth token (no refresh due), as scripts/bench.ts measures it.
    appendFileSync(
      join(work, "file", "credentials.toml"),
      `\n[mycorp]\nmethod = "oauth"\ntype = "oauth"\naccess_token = "profile-access-token"\nrefresh_token = "profile-refresh-token"\nexpires_at = ${now + 86_400_000}\nobtained_at = ${now}\ncreated_at = ${now}\nupdated_at = ${now}\n`,
    );
    const runs: Array<[string[], Record<string, string>]> = [
      [["env", "openrouter"], plain],
      [["token", "openrouter"], plain],
      [["exec", "-p", "openrouter", "--", "true"], plain],
      [["env", "mycorp"], plain],
      [["env", "openrouter"], sealed],
      [["env", "openrouter", "anthropic", "openai"], sealed],
    ];
    for (const [i, [argv, env]] of runs.entries()) {
      const file = join(orders, `order-${i}.txt`);
      run(argv, { ...env, BUN_BYTECODE_ORDER_OUT: file });
      files.push(file);
    }
  } catch (error) {
    console.error(`build: no start-up profile (${(error as Error).message}); building without one`);
    return { files: [], cleanup };
  }
  // Last (so the other starts keep the front), `env` reading a key from the keyring, when a
  // private Secret Service can be started here: its own dbus-daemon and gnome-keyring, as the
  // tests and scripts/bench.ts use, never the desktop's. Without it, the keyring's code (the D-Bus
  // client, started ahead with AUTHCTL_STORE=keyring) lies wherever the bundle put it. Measured
  // (issue 18, three A/Bs of 150 alternating runs, fresh copies): env openrouter on the keyring
  // -0.7 MiB peak each time, wall -0.15 to -0.5 ms and CPU -0.03 to -0.47 ms (near the noise);
  // the file store unchanged. A build where the programs are installed starts the two daemons for
  // a moment (the build took 2.5-3.1 s with and without them here).
  const keyring = await recordKeyringProfile(run, work, base, join(orders, `order-${files.length}.txt`));
  if (keyring) files.push(keyring);
  return { files, cleanup };
}

/** The keyring run of recordProfiles; undefined (with a line saying why) when it cannot be made. */
async function recordKeyringProfile(
  run: (argv: string[], env: Record<string, string>, stdin?: string) => void,
  work: string,
  base: Record<string, string>,
  file: string,
): Promise<string | undefined> {
  const { missingSecretServicePrograms, startSecretService } = await import(
    "../test/helpers/secret-service.ts"
  );
  if (missingSecretServicePrograms.length) return undefined;
  let service: Awaited<ReturnType<typeof startSecretService>> | undefined;
  try {
    service = await startSecretService();
    const env = { ...base, ...service.env, AUTHCTL_HOME: join(work, "keyring"), AUTHCTL_STORE: "keyring" };
    run(
      ["login", "openrouter", "--with-key", "--no-verify"],
      env,
      "sk-or-v1-profile0123456789abcdef0123456789abcdef0123456789abcdef012345",
    );
    run(["env", "openrouter"], { ...env, BUN_BYTECODE_ORDER_OUT: file });
    return file;
  } catch (error) {
    console.error(`build: no keyring start-up profile (${(error as Error).message})`);
    return undefined;
  } finally {
    service?.stop();
  }
}

const profile = !args.includes("--no-profile");
const profileDir = args.find((a) => a.startsWith("--profile-dir="))?.slice(14);
if (args.includes("--record-only") && !profileDir) {
  console.error("build: --record-only needs --profile-dir=DIR to record into");
  process.exit(2);
}
/** A recording kept by an earlier build (--profile-dir), most common start first as recorded. */
const kept =
  profileDir && existsSync(profileDir)
    ? readdirSync(profileDir)
        .filter((name) => /^order-\d+\.txt$/.test(name))
        .sort((a, b) => Number(a.slice(6, -4)) - Number(b.slice(6, -4)))
        .map((name) => join(profileDir, name))
    : [];
if (!profile) await build(outfile, { target });
else if (kept.length) await build(outfile, { target, order: kept });
else {
  // A cross-compiled target cannot run here: its profile comes from a host build of the same source.
  const probe =
    target || args.includes("--record-only")
      ? join(dirname(outfile), `.authctl-profile-${process.pid}`)
      : outfile;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  await build(probe, {});
  const recorded = await recordProfiles(probe, profileDir);
  try {
    if (!args.includes("--record-only")) await build(outfile, { target, order: recorded.files });
  } finally {
    recorded.cleanup();
    if (probe !== outfile) rmSync(probe, { force: true });
  }
}
console.error(
  args.includes("--record-only") ? `recorded a start-up profile in ${profileDir}` : `built ${outfile}`,
);
