import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { createSandbox, ensureBinary, secret, type Sandbox } from "../helpers/binary.ts";

/**
 * What a new user or an administrator tripped over, found by using the binary as they would: a
 * service unit, a container, a CI job. Each case failed before its fix.
 */
const KEY = secret(`sk-or-v1-${"4e3b1a".repeat(8)}`);

let box: Sandbox;
beforeAll(async () => {
  await ensureBinary();
  box = createSandbox();
  const login = await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: `${KEY}\n` });
  expect(login.code).toBe(0);
});
afterAll(() => box.cleanup());

describe("--format github-env with a $GITHUB_ENV that cannot be appended to", () => {
  test("one line naming the variable, the file and why, exit 1; no internal error, nothing written", async () => {
    const missing = join(box.root, "no-such-dir", "github_env");
    const cases: [string, string][] = [
      [missing, "ENOENT: no such file or directory"],
      [box.root, "EISDIR"],
    ];
    for (const [file, why] of cases) {
      const result = await box.run(["env", "openrouter", "--format", "github-env"], {
        env: { GITHUB_ENV: file },
      });
      expect(result.stderr).not.toContain("internal error");
      const [first, hint, ...rest] = result.stderr.trimEnd().split("\n");
      expect(first).toStartWith(`authctl: cannot append to $GITHUB_ENV (${file}): ${why}`);
      expect(hint).toBe(
        "  → set GITHUB_ENV to a writable file (the runner sets it in each step); nothing was added",
      );
      expect(rest).toEqual([]);
      expect(result.code).toBe(1);
      // The masks still went first: a runner that does read them hides the key in later logs.
      expect(result.stdout).toBe(`::add-mask::${KEY}\n`);
    }
    expect(existsSync(join(box.root, "no-such-dir"))).toBe(false);
  }, 30_000);

  test("a writable one still gets the block, and the masks go to stdout", async () => {
    const file = join(box.root, "github_env");
    writeFileSync(file, "EARLIER=1\n");
    const result = await box.run(["env", "openrouter", "--format", "github-env"], {
      env: { GITHUB_ENV: file },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`::add-mask::${KEY}\n`);
    expect(readFileSync(file, "utf8")).toMatch(
      new RegExp(`^EARLIER=1\\nOPENROUTER_API_KEY<<(ghadelimiter_[0-9a-f]+)\\n${KEY}\\n\\1\\n$`),
    );
  }, 30_000);
});

describe('AUTHCTL_HOME with a ~ that no shell expanded (systemd Environment=, docker -e, a quoted "~/x")', () => {
  test("every command that needs the home refuses it and names the full path; nothing is created under the working directory", async () => {
    const cwd = join(box.root, "service-cwd");
    mkdirSync(cwd);
    const userHome = box.env.HOME!;
    const runs: [string[], string | undefined][] = [
      [["login", "openrouter", "--with-key", "--no-verify"], `${KEY}\n`],
      [["env", "openrouter"], undefined],
      [["token", "openrouter"], undefined],
      [["exec", "-p", "openrouter", "--", "/bin/true"], undefined],
      [["status"], undefined],
    ];
    for (const [args, stdin] of runs) {
      const result = await box.run(args, { cwd, stdin, env: { AUTHCTL_HOME: "~/.authctl" } });
      expect(result.stderr).toBe(
        "authctl: AUTHCTL_HOME=~/.authctl starts with ~, which only a shell expands\n" +
          `  → write the full path: AUTHCTL_HOME=${join(userHome, ".authctl")}\n`,
      );
      expect(result.stdout).toBe("");
      expect(result.code).toBe(1);
    }
    // Before, `login` stored the key in <cwd>/~/.authctl, and `env` from any other directory was
    // "not logged in".
    expect(readdirSync(cwd)).toEqual([]);

    const other = await box.run(["env", "openrouter"], { cwd, env: { AUTHCTL_HOME: "~alice/authctl" } });
    expect(other.stderr).toBe(
      "authctl: AUTHCTL_HOME=~alice/authctl starts with ~, which only a shell expands\n" +
        "  → write the full path of the directory, e.g. AUTHCTL_HOME=/var/lib/agent/authctl\n",
    );
    expect(other.code).toBe(1);

    // Commands that need no home still run.
    const version = await box.run(["--version"], { cwd, env: { AUTHCTL_HOME: "~/.authctl" } });
    expect(version.code).toBe(0);
  }, 60_000);
});

/** `unshare -m` and a read-only bind mount (root in a mount namespace of its own) are available. */
const canMountReadOnly = (() => {
  const probe = Bun.spawnSync([
    "unshare",
    "-m",
    "sh",
    "-c",
    'd=$(mktemp -d) && mount --bind -o ro "$d" "$d" && ! touch "$d/x" 2>/dev/null; s=$?; rmdir "$d"; exit $s',
  ]);
  return probe.exitCode === 0;
})();

describe.skipIf(!canMountReadOnly)(
  "a store on a read-only file system (ProtectHome=read-only, a read-only volume)",
  () => {
    test("logout, switch and store migrate say what to do, as login does; nothing is changed", async () => {
      const ro = createSandbox();
      try {
        for (const ref of ["openrouter", "openrouter@work"]) {
          const login = await ro.run(["login", ref, "--with-key", "--no-verify"], { stdin: `${KEY}\n` });
          expect(login.code).toBe(0);
        }
        const before = readFileSync(join(ro.home, "credentials.toml"), "utf8");
        const readOnly = [
          "unshare",
          "-m",
          "sh",
          "-c",
          'mount --bind -o ro "$AUTHCTL_HOME" "$AUTHCTL_HOME" && exec "$@"',
          "sh",
        ];
        const lock = join(ro.home, "credentials.toml.lock");
        for (const args of [
          ["logout", "openrouter"],
          ["switch", "openrouter@work"],
          ["store", "migrate", "--to", "encrypted"],
        ]) {
          const result = await ro.run(args, { prefix: readOnly });
          expect(result.stderr).toBe(
            `authctl: could not create lock ${lock}: EROFS: read-only file system\n` +
              `  → ${ro.home} is on a read-only file system here: run this where it can be written (systemd: ReadWritePaths=), or set AUTHCTL_HOME to a writable directory\n`,
          );
          expect(result.code).toBe(1);
        }
        expect(readFileSync(join(ro.home, "credentials.toml"), "utf8")).toBe(before);
      } finally {
        ro.cleanup();
      }
    }, 60_000);
  },
);

describe("started from a working directory that was deleted (a shell left in a removed worktree, a service whose WorkingDirectory a deploy replaced)", () => {
  test("token, env, exec, status and --version work as anywhere else (no project file is looked for)", async () => {
    const gone = join(box.root, "removed-worktree");
    // The shell enters the directory, which is then removed under it, and starts authctl there.
    const fromDeleted = ["sh", "-c", 'mkdir "$0" && cd "$0" && rmdir "$0" && exec "$@"', gone];
    const token = await box.run(["token", "openrouter"], { prefix: fromDeleted });
    expect(token.stderr).toBe("");
    expect(token.stdout).toBe(`${KEY}\n`);
    expect(token.code).toBe(0);
    const env = await box.run(["env"], { prefix: fromDeleted });
    expect(env.stdout).toBe(`export OPENROUTER_API_KEY='${KEY}'\n`);
    expect(env.code).toBe(0);
    const exec = await box.run(
      ["exec", "--", "/bin/sh", "-c", 'test "$OPENROUTER_API_KEY" = "$0" && echo same', KEY],
      {
        prefix: fromDeleted,
      },
    );
    expect(exec.stdout).toBe("same\n");
    expect(exec.code).toBe(0);
    for (const args of [["status"], ["--version"]]) {
      const result = await box.run(args, { prefix: fromDeleted });
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
    }
    expect(existsSync(gone)).toBe(false);
  }, 60_000);
});

describe("exec from cron (PATH=/usr/bin:/bin) of a command your shell finds elsewhere", () => {
  test("the error names the PATH it searched and how to find the full path; exit 127, with and without --proxy", async () => {
    for (const proxy of [[], ["--proxy"]]) {
      const result = await box.run(["exec", ...proxy, "-p", "openrouter", "--", "claude-not-on-path"], {
        env: { PATH: "/usr/bin:/bin" },
      });
      expect(result.stderr).toBe(
        "authctl: command not found: claude-not-on-path (not on PATH=/usr/bin:/bin)\n" +
          "  → check the name, or give its full path ('command -v claude-not-on-path' in your shell prints it)\n",
      );
      expect(result.code).toBe(127);
    }
    const unset = await box.run(["exec", "--", "claude-not-on-path"], { env: { PATH: undefined } });
    expect(unset.stderr).toStartWith("authctl: command not found: claude-not-on-path (PATH is not set)\n");
    expect(unset.code).toBe(127);
  }, 30_000);
});

describe("root setting up a store for a service account (AUTHCTL_HOME=/var/lib/agent/authctl)", () => {
  const isRoot = process.getuid?.() === 0;
  test.skipIf(!isRoot)(
    "the refusal's hint is a command that logs in to that store: sudo resets the environment, so it names AUTHCTL_HOME; a uid with no name is '#uid'",
    async () => {
      const state = join(box.root, "var lib", "agent");
      mkdirSync(state, { recursive: true });
      chmodSync(box.root, 0o755);
      chmodSync(join(box.root, "var lib"), 0o755);
      // A uid no /etc/passwd here lists, as a container's or a DynamicUser's may be.
      chownSync(state, 54_321, 54_321);
      const home = join(state, "authctl");
      const result = await box.run(["login", "openrouter", "--with-key", "--no-verify"], {
        stdin: `${KEY}\n`,
        env: { AUTHCTL_HOME: home },
      });
      const [, hint] = result.stderr.trimEnd().split("\n");
      expect(hint).toBe(
        `  → run authctl as uid 54321 (sudo -u '#54321' env AUTHCTL_HOME='${home}' authctl …), or with 'sudo -H' / AUTHCTL_HOME set to a store of your own`,
      );
      expect(result.code).toBe(1);
      expect(existsSync(home)).toBe(false);
    },
    30_000,
  );
});

describe("providers with a provider named (as 'status groq' and 'env groq' take one)", () => {
  test("lists that provider alone, in both forms; an unknown one is the usual error with its did-you-mean", async () => {
    const one = await box.run(["providers", "groq"]);
    expect(one.stdout).toBe("  groq  Groq — key → GROQ_API_KEY\n");
    expect(one.code).toBe(0);
    const two = await box.run(["providers", "openrouter@work", "groq", "GROQ"]);
    expect(two.stdout.split("\n").map((line) => line.trim().split(/\s+/, 2).join(" "))).toEqual([
      "✓ openrouter",
      "groq Groq",
      "",
    ]);
    const json = await box.run(["providers", "anthropic", "--json"]);
    expect((JSON.parse(json.stdout) as { id: string }[]).map((p) => p.id)).toEqual(["anthropic"]);
    const typo = await box.run(["providers", "groc"]);
    expect(typo.stdout).toBe("");
    expect(typo.stderr).toStartWith("authctl: unknown provider 'groc' (not built in, not in ");
    expect(typo.stderr).toContain("did you mean 'groq'?");
    expect(typo.code).toBe(2);
  }, 30_000);
});

describe("upgrade with a version typed as an argument", () => {
  test("is refused with the flag that takes it (it installed the newest release, the version unread)", async () => {
    // A refused port: should anything be downloaded after all, it fails here, never on the network.
    const env = { AUTHCTL_DOWNLOAD_URL: "http://127.0.0.1:9/release" };
    const pinned = await box.run(["upgrade", "0.2.0"], { env });
    expect(pinned.stderr).toBe(
      "authctl: upgrade takes no arguments, got: 0.2.0\n" +
        "usage: authctl upgrade [--version <version>]\n" +
        "  → authctl upgrade --version 0.2.0\n",
    );
    expect(pinned.code).toBe(2);
    const word = await box.run(["upgrade", "now"], { env });
    expect(word.stderr).toStartWith("authctl: upgrade takes no arguments, got: now\n");
    expect(word.code).toBe(2);
  }, 30_000);
});

describe("a key that is too short to be one", () => {
  test("the message reads as English for every provider name ('a OpenAI key' before)", async () => {
    for (const [id, name] of [
      ["openai", "OpenAI"],
      ["anthropic", "Anthropic"],
    ]) {
      const result = await box.run(["login", id!, "--with-key", "--no-verify"], { stdin: "abc\n" });
      expect(result.stderr.split("\n")[0]).toBe(
        `authctl: that does not look like a key for ${name} (3 characters)`,
      );
      expect(result.code).toBe(2);
    }
  }, 30_000);
});
