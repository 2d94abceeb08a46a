import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";
import {
  createSandbox,
  ensureBinary,
  expectOk,
  secret,
  writeScript,
  BINARY,
  type Sandbox,
} from "../helpers/binary.ts";

const KEY = secret("sk-or-v1-use0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
const ANT = secret("sk-ant-api03-use0123456789abcdef0123456789abcdef0123");
const AMBIENT = secret("sk-or-v1-ambient0123456789abcdef0123456789abcdef0123456789abcdef0123");

let box: Sandbox;
beforeAll(() => ensureBinary());
beforeEach(async () => {
  box = createSandbox();
  expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
});
afterEach(() => box.cleanup());

describe("status", () => {
  test("names the provider, method, source and masked key, and never the key", async () => {
    const result = await box.run(["status"]);
    expectOk(result);
    expect(result.stdout).toContain("OpenRouter (openrouter)");
    expect(result.stdout).toContain(`logged in with a key …${KEY.slice(-4)}`);
    expect(result.stdout).toContain(`stored in the plain file ${join(box.home, "credentials.toml")}`);
    expect(result.stdout).toContain("OPENROUTER_API_KEY");
  });

  test("--json lists the credential with its source and masked secret on stdout", async () => {
    const result = await box.run(["status", "--json"]);
    expectOk(result);
    expect(result.stdout).not.toContain(KEY);
    const json = JSON.parse(result.stdout);
    expect(json.store).toEqual({ path: join(box.home, "credentials.toml"), backend: "file" });
    expect(json.providers).toHaveLength(1);
    expect(json.providers[0]).toMatchObject({
      id: "openrouter",
      logged_in: true,
      source: "store",
      method: "key",
      type: "api_key",
      secret: `…${KEY.slice(-4)}`,
      variables: ["OPENROUTER_API_KEY"],
      shadowed_by: null,
    });
  });

  test("warns when the shell's variable shadows the stored key with a different value", async () => {
    const result = await box.run(["status"], { env: { OPENROUTER_API_KEY: AMBIENT } });
    expectOk(result);
    expect(result.stderr).toContain(
      `OPENROUTER_API_KEY in this shell holds a different value (…${AMBIENT.slice(-4)})`,
    );
    const json = JSON.parse(
      (await box.run(["status", "--json"], { env: { OPENROUTER_API_KEY: AMBIENT } })).stdout,
    );
    expect(json.providers[0].shadowed_by).toEqual({
      variable: "OPENROUTER_API_KEY",
      secret: `…${AMBIENT.slice(-4)}`,
    });
    expect(json.providers[0].source).toBe("store");
  });

  test("reports a provider found only in the environment as coming from there", async () => {
    const result = await box.run(["status", "anthropic", "--json"], { env: { ANTHROPIC_API_KEY: ANT } });
    expectOk(result);
    expect(JSON.parse(result.stdout).providers[0]).toMatchObject({
      id: "anthropic",
      source: "environment",
      secret: `…${ANT.slice(-4)}`,
    });
  });

  test("exits 4 for a named provider that is not logged in, and when nothing is", async () => {
    const named = await box.run(["status", "openai"]);
    expect(named.code).toBe(4);
    expect(named.stdout).toContain("✗ not logged in — run 'authctl login openai'");
    const empty = createSandbox();
    const none = await empty.run(["status", "--json"]);
    expect(none.code).toBe(4);
    expect(JSON.parse(none.stdout).providers).toEqual([]);
    empty.cleanup();
  });

  test("a store readable by other users is tightened to 0600, with one warning", async () => {
    require("node:fs").chmodSync(join(box.home, "credentials.toml"), 0o644);
    const result = await box.run(["status"]);
    expect(result.stderr).toContain(
      `${join(box.home, "credentials.toml")} was open to other users (mode 0644): changed to 0600`,
    );
    expect((await box.run(["status"])).stderr).not.toContain("open to other users");
  });
});

describe("env", () => {
  const tricky = secret(`sk-or-v1-it's "quoted" $HOME \`id\` back\\slash\nnew line é✓`);

  test("prints export lines by default", async () => {
    const result = await box.run(["env", "openrouter"]);
    expectOk(result);
    expect(result.stdout).toBe(`export OPENROUTER_API_KEY='${KEY}'\n`);
  });

  test("every format carries a hostile value through its real consumer byte for byte", async () => {
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    // Keys are normalised on entry, so a hostile value is written to the store directly.
    const storePath = join(box.home, "credentials.toml");
    const store = readFileSync(storePath, "utf8").replace(KEY, JSON.stringify(tricky).slice(1, -1));
    writeFileSync(storePath, store);

    const sh = await box.run(["env", "openrouter"]);
    const out = Bun.spawnSync(["sh", "-c", `eval "$1"; printf '%s' "$OPENROUTER_API_KEY"`, "sh", sh.stdout]);
    expect(out.stdout.toString()).toBe(tricky);

    const json = await box.run(["env", "openrouter", "--format", "json"]);
    expect(JSON.parse(json.stdout)).toEqual({ OPENROUTER_API_KEY: tricky });

    const fishPath = Bun.which("fish");
    if (fishPath) {
      const fish = await box.run(["env", "openrouter", "--format", "fish"]);
      const f = Bun.spawnSync([
        fishPath,
        "-c",
        `eval $argv[1]; printf '%s' "$OPENROUTER_API_KEY"`,
        fish.stdout,
      ]);
      expect(f.stdout.toString()).toBe(tricky);
    }
    const ps = await box.run(["env", "openrouter", "--format", "powershell"]);
    expect(ps.stdout).toStartWith("$env:OPENROUTER_API_KEY = '");
  });

  test("dotenv output parses back with the dotenv package", async () => {
    const result = await box.run(["env", "--format", "dotenv"]);
    expectOk(result);
    expect(parseDotenv(result.stdout)).toEqual({ OPENROUTER_API_KEY: KEY });
  });

  test("github-env appends a heredoc block to $GITHUB_ENV and prints only masks on stdout", async () => {
    const file = join(box.root, "github_env");
    writeFileSync(file, "EXISTING=1\n");
    const result = await box.run(["env", "openrouter", "--format", "github-env"], {
      env: { GITHUB_ENV: file },
    });
    expectOk(result);
    expect(result.stdout).toBe(`::add-mask::${KEY}\n`);
    const written = readFileSync(file, "utf8");
    const match = /^EXISTING=1\nOPENROUTER_API_KEY<<(ghadelimiter_[0-9a-f]+)\n(.*)\n\1\n$/s.exec(written);
    expect(match?.[2]).toBe(KEY);
    const without = await box.run(["env", "--format", "github-env"]);
    expect(without.code).toBe(2);
  });

  test("an unknown format is a usage error", async () => {
    const result = await box.run(["env", "--format", "yaml"]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
  });

  test("a provider that is not logged in exits 4 with the login command, without a terminal", async () => {
    const result = await box.run(["env", "openai"]);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("authctl login openai");
  });

  test("with nothing configured at all, env and exec say how to start", async () => {
    const empty = createSandbox();
    for (const args of [["env"], ["exec", "--", "true"]]) {
      const result = await empty.run(args);
      expect(result.code).toBe(4);
      expect(result.stderr).toContain("authctl login");
    }
    empty.cleanup();
  });

  test("falls back to the environment for a provider that is not stored", async () => {
    const result = await box.run(["env", "anthropic"], { env: { ANTHROPIC_API_KEY: ANT } });
    expectOk(result);
    expect(result.stdout).toBe(`export ANTHROPIC_API_KEY='${ANT}'\n`);
  });
  test("a reader that went away (EPIPE) ends the output quietly, with exit 0", async () => {
    // stdout is a FIFO whose only reader has closed it: the first write gets EPIPE.
    const prefix = [
      "sh",
      "-c",
      'mkfifo "$0" && exec 4<>"$0" 5>"$0" 4<&- && exec "$@" >&5',
      join(box.root, "fifo"),
    ];
    const result = await box.run(["env", "openrouter"], { prefix });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });
});

describe("token", () => {
  test("prints the bare key and a newline", async () => {
    const result = await box.run(["token", "openrouter"]);
    expectOk(result);
    expect(result.stdout).toBe(`${KEY}\n`);
  });

  test("the store wins over an ambient variable; the environment is the fallback", async () => {
    expect((await box.run(["token", "openrouter"], { env: { OPENROUTER_API_KEY: AMBIENT } })).stdout).toBe(
      `${KEY}\n`,
    );
    expect((await box.run(["token", "anthropic"], { env: { ANTHROPIC_API_KEY: ANT } })).stdout).toBe(
      `${ANT}\n`,
    );
  });

  test("a provider that is not logged in exits 4", async () => {
    const result = await box.run(["token", "groq"]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("authctl login groq");
  });
});

describe("exec", () => {
  test("the child sees the key in its environment", async () => {
    const result = await box.run(["exec", "--", "sh", "-c", "printf '%s' \"$OPENROUTER_API_KEY\""]);
    expectOk(result);
    expect(result.stdout).toBe(KEY);
  });

  test.each([
    ["execve", {}],
    ["spawn", { AUTHCTL_EXEC_MODE: "spawn" }],
  ])(
    "%s: the key is in the child's environment, and in no argv (the child's, or authctl's as its parent)",
    async (_mode, env) => {
      // /proc/<pid>/environ is what the kernel handed the child at execve: the key must be there
      // (a test that only looked for its absence elsewhere would pass with no key at all).
      const script =
        "tr '\\0' '\\n' < /proc/$$/cmdline; echo ---; tr '\\0' '\\n' < /proc/$PPID/cmdline; echo ---; tr '\\0' '\\n' < /proc/$$/environ | grep -c \"^OPENROUTER_API_KEY=$OPENROUTER_API_KEY\\$\"";
      const result = await box.run(["exec", "-p", "openrouter", "--", "sh", "-c", script], { env });
      expectOk(result);
      const [own, parent, inEnviron] = result.stdout.split("---\n");
      expect(own).toContain("sh\n-c\n");
      expect(own).not.toContain(KEY.slice(10));
      expect(parent).not.toContain(KEY.slice(10));
      expect(inEnviron).toBe("1\n");
    },
  );

  test("the injected key overrides an inherited one, and competing variables are removed", async () => {
    expectOk(await box.run(["login", "anthropic", "--with-key", "--no-verify"], { stdin: ANT }));
    const result = await box.run(
      [
        "exec",
        "-p",
        "anthropic",
        "--",
        "sh",
        "-c",
        'printf \'%s|%s\' "$ANTHROPIC_API_KEY" "${ANTHROPIC_AUTH_TOKEN-unset}"',
      ],
      {
        env: { ANTHROPIC_API_KEY: AMBIENT, ANTHROPIC_AUTH_TOKEN: secret("stale-bearer-token-0123456789") },
      },
    );
    expectOk(result);
    expect(result.stdout).toBe(`${ANT}|unset`);
  });

  test("exit codes are the child's own", async () => {
    expect((await box.run(["exec", "--", "sh", "-c", "exit 7"])).code).toBe(7);
    expect((await box.run(["exec", "--", "true"])).code).toBe(0);
  });

  test("a child killed by SIGTERM gives 143 to the calling shell (authctl became the child)", async () => {
    const result = Bun.spawnSync(
      ["sh", "-c", `"$0" exec -- sh -c 'kill -TERM $$'; echo "status=$?"`, BINARY],
      { env: box.env },
    );
    expect(result.stdout.toString()).toContain("status=143");
  });

  test("authctl is replaced by the child (same pid), so signals reach it directly", async () => {
    const result = Bun.spawnSync(["sh", "-c", `"$0" exec -- sh -c 'echo $$' & wait; echo "bg=$!"`, BINARY], {
      env: box.env,
    });
    const [childPid, bg] = result.stdout.toString().trim().split("\n");
    expect(`bg=${childPid}`).toBe(bg!);
  });

  test("in spawn mode, exit codes and signal deaths are mapped the same way and signals are forwarded", async () => {
    const env = { AUTHCTL_EXEC_MODE: "spawn" };
    expect((await box.run(["exec", "--", "sh", "-c", "exit 9"], { env })).code).toBe(9);
    expect((await box.run(["exec", "--", "sh", "-c", "kill -TERM $$"], { env })).code).toBe(143);
    const proc = Bun.spawn(
      [
        BINARY,
        "exec",
        "--",
        "sh",
        "-c",
        "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.05; done",
      ],
      {
        env: { ...box.env, ...env },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const reader = proc.stdout.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("ready");
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(42);
  });

  test("in spawn mode, a SIGTERM the moment the child starts is forwarded: authctl never dies first and orphans it", async () => {
    // The child signals authctl as its first act, which lands in the gap between the spawn and
    // the signal handlers when those are installed after it (about 1 run in 10 on 2 cores).
    for (let i = 0; i < 40; i++) {
      const proc = Bun.spawn([BINARY, "exec", "--", "sh", "-c", "kill -TERM $PPID; sleep 5"], {
        env: { ...box.env, AUTHCTL_EXEC_MODE: "spawn" },
        stdin: "ignore",
        stdout: "ignore",
        stderr: "pipe",
      });
      const code = await proc.exited;
      expect({ run: i, code, signal: proc.signalCode }).toEqual({ run: i, code: 143, signal: null });
    }
  }, 60_000);

  test("a missing command exits 127 with a clear message", async () => {
    const result = await box.run(["exec", "--", "no-such-command-xyz"]);
    expect(result.code).toBe(127);
    expect(result.stderr).toContain("command not found: no-such-command-xyz");
  });

  test("commands are resolved on PATH, and an explicit path works", async () => {
    const script = writeScript(box.root, "child.sh", "#!/bin/sh\nprintf 'ran:%s' \"$1\"\n");
    expect((await box.run(["exec", "--", script, "x"])).stdout).toBe("ran:x");
    expect(
      (await box.run(["exec", "--", "child.sh", "y"], { env: { PATH: `${box.root}:${box.env.PATH}` } }))
        .stdout,
    ).toBe("ran:y");
  });

  test("a named provider that is not logged in exits 4 and does not run the command", async () => {
    const marker = join(box.root, "ran");
    const result = await box.run(["exec", "-p", "openai", "--", "touch", marker]);
    expect(result.code).toBe(4);
    expect(require("node:fs").existsSync(marker)).toBe(false);
  });

  test("no command is a usage error", async () => {
    expect((await box.run(["exec", "-p", "openrouter"])).code).toBe(2);
  });

  test.each([[[] as string[]], [["--proxy"]]])(
    "exec %p: authctl's own secrets (AUTHCTL_PASSPHRASE, AUTHCTL_*_PASSWORD/_KEY) never reach the child",
    async (flags) => {
      const passphrase = secret("correct horse battery staple 0123456789");
      const env = {
        AUTHCTL_STORE: "encrypted",
        AUTHCTL_PASSPHRASE: passphrase,
        AUTHCTL_ETCD_PASSWORD: secret("etcd-password-0123456789"),
        AUTHCTL_ETCD_KEY: secret("etcd-key-0123456789"),
      };
      expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env }));
      const result = await box.run(
        [
          "exec",
          ...flags,
          "-p",
          "openrouter",
          "--",
          "sh",
          "-c",
          "env | grep ^AUTHCTL_ | cut -d= -f1 | sort | tr '\\n' ' '; printf '|%s' \"${#OPENROUTER_API_KEY}\"",
        ],
        { env },
      );
      expectOk(result);
      const [names, keyLength] = result.stdout.split("|");
      expect(names).toBe("AUTHCTL_HOME AUTHCTL_STORE ");
      expect(Number(keyLength)).toBeGreaterThan(0);
    },
  );

  describe("values an environment cannot carry (issue 13.3)", () => {
    // Values the harness checks stderr for: the key's tail and an unrelated variable standing for
    // the rest of the environment, which the runtime's own error quoted in full.
    const NUL_TAIL = secret("defghijklmnopqrstuvwxyz0123456789nul");
    const AMBIENT_MARK = secret("ambient-value-0123456789abcdef");
    function storeRaw(provider: string, body: string, tables = "") {
      writeFileSync(
        join(box.home, "credentials.toml"),
        `version = 1\n\n[${provider}]\n${body}created_at = 1\nupdated_at = 1\n${tables}`,
      );
    }

    test.each([[[] as string[]], [["--proxy"]]])(
      "a stored key holding a NUL: exec %p refuses, naming the variable, quoting neither key nor environment",
      async (flags) => {
        storeRaw("openrouter", `method = "key"\ntype = "api_key"\nkey = "sk-or-v1-abc\\u0000${NUL_TAIL}"\n`);
        const marker = join(box.root, "ran");
        const result = await box.run(["exec", ...flags, "-p", "openrouter", "--", "touch", marker], {
          env: { SOME_SETTING: AMBIENT_MARK, AUTHCTL_DEBUG: "1" },
        });
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(
          "authctl: the openrouter credential for OPENROUTER_API_KEY holds a NUL byte, which no environment variable can carry; nothing was run",
        );
        expect(result.stderr).toContain("authctl login openrouter");
        expect(result.stderr).not.toContain("Received");
        expect(result.stderr).not.toContain("u0000");
        expect(require("node:fs").existsSync(marker)).toBe(false);
      },
    );

    test("a key with a NUL is refused at login, and nothing is stored", async () => {
      const fresh = createSandbox();
      try {
        const result = await fresh.run(["login", "openrouter", "--with-key", "--no-verify"], {
          stdin: `sk-or-v1-abc\0${NUL_TAIL}`,
        });
        expect(result.code).toBe(2);
        expect(result.stderr).toContain(
          "that does not look like a key for OpenRouter (it holds a control character); nothing was stored",
        );
        expect(require("node:fs").existsSync(join(fresh.home, "credentials.toml"))).toBe(false);
      } finally {
        fresh.cleanup();
      }
    });

    test('env = { X = "constructor" } names no field: X is not set, and the environment is not printed', async () => {
      const TOKEN = secret("mycorp-access-token-0123456789abcdef");
      box.writeConfig(
        `[providers.mycorp]\nissuer = "https://127.0.0.1:9"\nclient_id = "authctl"\nenv = { MYCORP_TOKEN = "access_token", X = "constructor", Y = "toString" }\n`,
      );
      storeRaw(
        "mycorp",
        `method = "oauth"\ntype = "oauth"\naccess_token = "${TOKEN}"\nexpires_at = ${Date.now() + 3_600_000}\n`,
        `[mycorp.extra]\ntenant = "t1"\n`,
      );
      const result = await box.run(
        [
          "exec",
          "-p",
          "mycorp",
          "--",
          "sh",
          "-c",
          'printf \'%s|%s|%s\' "${X-unset}" "${Y-unset}" "${#MYCORP_TOKEN}"',
        ],
        { env: { SOME_SETTING: AMBIENT_MARK } },
      );
      expect(result.stderr).not.toContain("Received");
      expectOk(result);
      expect(result.stdout).toBe(`unset|unset|${TOKEN.length}`);
    });
  });
});

describe("logout", () => {
  test("removes the credential and says so", async () => {
    const result = await box.run(["logout", "openrouter"]);
    expectOk(result);
    expect(result.stderr).toContain(`logged out of OpenRouter (removed …${KEY.slice(-4)} from the store)`);
    expect((await box.run(["token", "openrouter"])).code).toBe(4);
  });

  test("without a provider and without a terminal it names --all; --all removes everything", async () => {
    expectOk(await box.run(["login", "anthropic", "--with-key", "--no-verify"], { stdin: ANT }));
    const bare = await box.run(["logout"]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("--all");
    expectOk(await box.run(["logout", "--all"]));
    expect((await box.run(["status"])).code).toBe(4);
  });

  test("a provider that is not stored exits 4 and removes nothing", async () => {
    const before = readFileSync(join(box.home, "credentials.toml"));
    const result = await box.run(["logout", "openai", "openrouter"]);
    expect(result.code).toBe(4);
    expect(readFileSync(join(box.home, "credentials.toml")).equals(before)).toBe(true);
  });
});
