#!/usr/bin/env bun
/**
 * Start-up cost of the hot path, as a ratio: `dist/authctl env openrouter` (a stored key, no
 * refresh) against a compiled hello-world built by the same Bun, run alternately in one process
 * so both see the same machine load. Target: median ratio ≤ 1.5. Prints one line per measure.
 *   bun scripts/bench.ts [--runs N]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { missingSecretServicePrograms, startSecretService } from "../test/helpers/secret-service.ts";

const root = join(import.meta.dir, "..");
const runs = Number(process.argv.find((a) => a.startsWith("--runs="))?.slice(7) ?? 200);
const work = mkdtempSync(join(tmpdir(), "authctl-bench-"));
const binary = join(root, "dist", "authctl");

const build = Bun.spawnSync([process.execPath, join(root, "scripts/build.ts")], { stdio: ["ignore", "ignore", "inherit"] });
if (build.exitCode !== 0) process.exit(1);
writeFileSync(join(work, "hello.ts"), 'process.stdout.write("export HELLO=\'world\'\\n");\n');
const hello = Bun.spawnSync([process.execPath, "build", "--compile", "--minify", "--bytecode", join(work, "hello.ts"), "--outfile", join(work, "hello")], {
  stdio: ["ignore", "ignore", "inherit"],
});
if (hello.exitCode !== 0) process.exit(1);

const home = join(work, "home");
// The main home is a plain file (as before backends existed); the storage cases below add one
// home per backend.
const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: work, AUTHCTL_HOME: home, AUTHCTL_STORE: "file" };
const login = Bun.spawnSync([binary, "login", "openrouter", "--with-key", "--no-verify"], {
  env, stdin: new Blob(["sk-or-v1-bench0123456789abcdef0123456789abcdef0123456789abcdef01234567"]),
});
if (login.exitCode !== 0) throw new Error(login.stderr.toString());

// An OAuth credential that is fresh (no refresh due): the hot path must not load the HTTP or OAuth code.
const now = Date.now();
writeFileSync(join(home, "config.toml"), '[providers.mycorp]\nissuer = "https://sso.example.com"\nclient_id = "authctl"\n');
const storeText = readFileSync(join(home, "credentials.toml"), "utf8");
writeFileSync(
  join(home, "credentials.toml"),
  `${storeText}\n[mycorp]\nmethod = "oauth"\ntype = "oauth"\naccess_token = "bench-access-token-0123456789"\nrefresh_token = "bench-refresh-token-0123456789"\nexpires_at = ${now + 3_600_000}\nobtained_at = ${now}\ncreated_at = ${now}\nupdated_at = ${now}\n`,
  { mode: 0o600 },
);

// Storage backends: `env` with the keys sealed in the encrypted file, and in the keyring. The
// keyring is a private one (its own dbus-daemon and gnome-keyring, as the tests use), never the
// desktop's: the bench's logins would overwrite the items of a real authctl. Skipped without
// those programs (apt: dbus gnome-keyring libsecret-tools).
const secretService = missingSecretServicePrograms.length ? undefined : await startSecretService();
const BENCH_KEYS = {
  openrouter: "sk-or-v1-bench0123456789abcdef0123456789abcdef0123456789abcdef01234567",
  anthropic: "sk-ant-api03-bench0123456789abcdef0123456789abcdef0123456789",
  openai: "sk-proj-bench0123456789abcdef0123456789abcdef0123456789",
};
const backendEnvs: Record<string, Record<string, string>> = {};
// "passphrase": the encrypted file keyed by AUTHCTL_PASSPHRASE. Its scrypt costs ~0.1 s by design,
// so no target applies; what matters is that three providers cost no more than one.
for (const backend of ["encrypted", "keyring", "passphrase"]) {
  const backendEnv: Record<string, string> = { ...env, AUTHCTL_HOME: join(work, backend), AUTHCTL_STORE: backend === "passphrase" ? "encrypted" : backend };
  if (backend === "passphrase") backendEnv.AUTHCTL_PASSPHRASE = "bench passphrase";
  if (backend === "keyring") {
    if (!secretService) {
      console.log(`env (keyring): skipped, ${missingSecretServicePrograms.join(", ")} not installed`);
      continue;
    }
    backendEnv.DBUS_SESSION_BUS_ADDRESS = secretService.env.DBUS_SESSION_BUS_ADDRESS;
  }
  for (const [provider, key] of Object.entries(BENCH_KEYS)) {
    const stored = Bun.spawnSync([binary, "login", provider, "--with-key", "--no-verify"], { env: backendEnv, stdin: new Blob([key]) });
    if (stored.exitCode !== 0) throw new Error(stored.stderr.toString());
  }
  backendEnvs[backend] = backendEnv;
}

function time(cmd: string[], runEnv: Record<string, string> = env): number {
  const start = Bun.nanoseconds();
  const result = Bun.spawnSync(cmd, { env: runEnv, stdio: ["ignore", "pipe", "pipe"] });
  const elapsed = Bun.nanoseconds() - start;
  if (result.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${result.stderr.toString()}`);
  return elapsed / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const cases: Record<string, string[]> = {
  "env openrouter": [binary, "env", "openrouter"],
  "token openrouter": [binary, "token", "openrouter"],
  "exec -- true": [binary, "exec", "-p", "openrouter", "--", "true"],
  "env mycorp (fresh OAuth token)": [binary, "env", "mycorp"],
};
// A trailing element names the storage backend's home (see backendEnvs).
for (const backend of Object.keys(backendEnvs)) {
  cases[`env openrouter (${backend})`] = [binary, "env", "openrouter", `@${backend}`];
  cases[`env openrouter anthropic openai (${backend})`] = [binary, "env", ...Object.keys(BENCH_KEYS), `@${backend}`];
}
const baseline: number[] = [];
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < 10; i++) time([join(work, "hello")]); // warm the page cache
for (let i = 0; i < runs; i++) {
  baseline.push(time([join(work, "hello")]));
  for (const [name, cmd] of Object.entries(cases)) {
    const home = cmd.at(-1)!.startsWith("@") ? cmd.at(-1)!.slice(1) : undefined;
    samples[name]!.push(home ? time(cmd.slice(0, -1), backendEnvs[home]) : time(cmd));
  }
}
const base = median(baseline);
console.log(`hello-world (same bun, compiled): median ${base.toFixed(2)} ms over ${runs} runs`);
for (const [name, values] of Object.entries(samples)) {
  const m = median(values);
  const ratio = m / base;
  const target = name.startsWith("env") && !name.includes("passphrase") ? ` (target ≤ 1.5×: ${ratio <= 1.5 ? "met" : "NOT met"})` : "";
  console.log(`authctl ${name}: median ${m.toFixed(2)} ms, ratio ${ratio.toFixed(2)}×${target}`);
}
secretService?.stop();
rmSync(work, { recursive: true, force: true });
