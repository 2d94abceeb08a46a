import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

/**
 * The command line as a newcomer meets it: usage errors, did-you-mean, help, colour and the
 * character set. Everything through the built binary.
 */
const KEY = secret("sk-or-v1-cli0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
const ESC = "\x1b[";

let box: Sandbox;
beforeAll(() => ensureBinary());
beforeEach(() => {
  box = createSandbox();
});
afterEach(() => box.cleanup());

/** Runs the binary on a pseudo-terminal (util-linux `script`), returning what the terminal received. */
async function onTerminal(args: string[], env: Record<string, string | undefined>): Promise<string> {
  const runEnv: Record<string, string> = { ...box.env, TERM: "xterm-256color" };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete runEnv[name];
    else runEnv[name] = value;
  }
  const command = [BINARY, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const proc = Bun.spawn(["script", "-qec", command, "/dev/null"], {
    env: runEnv,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const text = await new Response(proc.stdout).text();
  await proc.exited;
  return text;
}
const hasScript = Boolean(Bun.which("script"));

describe("usage errors exit 2 with the command's usage line", () => {
  test("token without a provider", async () => {
    const result = await box.run(["token"]);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain("internal error");
    expect(result.stderr).toContain("authctl: token needs a provider");
    expect(result.stderr).toContain("usage: authctl token <provider>");
  });

  test("an option without its value, an unknown option, an unknown format", async () => {
    for (const [args, usage] of [
      [["login", "openrouter", "--timeout"], "usage: authctl login [provider]"],
      [["status", "--bogus"], "usage: authctl status [provider…]"],
      [["env", "--format", "jsn"], "usage: authctl env [provider…]"],
    ] as const) {
      const result = await box.run([...args]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(usage);
      expect(result.stderr).not.toContain("internal error");
    }
  });

  test("an option that takes a value, given none, is a usage error naming it (not ignored for the default)", async () => {
    for (const [args, flag] of [
      [["login", "groq", "--method"], "--method <method>"],
      [["login", "groq", "--method", "--with-key"], "--method <method>"],
      [["login", "github-copilot", "--host", "--device"], "--host <host>"],
      [["login", "groq", "--timeout="], "--timeout <duration>"],
      [["env", "-f"], "--format <format>"],
    ] as const) {
      // Without the check, 'login groq --method' went on with the default method (here: a key
      // read from stdin), the flag the person meant dropped without a word.
      const result = await box.run([...args], { stdin: KEY });
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toStartWith(
        `authctl: ${args.at(-1) === "-f" ? "-f" : flag.split(" ")[0]} needs a value (${flag})\n`,
      );
      expect(existsSync(join(box.home, "credentials.toml"))).toBe(false);
    }
  });

  test("logout with a provider and --all means that provider's accounts only: nothing else is removed", async () => {
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const before = readFileSync(join(box.home, "credentials.toml"), "utf8");
    const result = await box.run(["logout", "mistral", "--all"]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("not logged in to mistral: nothing was removed");
    expect(readFileSync(join(box.home, "credentials.toml"), "utf8")).toBe(before);
  });

  test("--device or --host with a key-only provider names its methods; --timeout 0 is refused", async () => {
    const device = await box.run(["login", "groq", "--device"]);
    expect(device.code).toBe(2);
    expect(device.stderr).toContain("--device does not apply to Groq, which logs in with: key");
    const host = await box.run(["login", "groq", "--host", "example.com"], { stdin: KEY });
    expect(host.code).toBe(2);
    expect(host.stderr).toContain("--host does not apply to Groq");
    const keyMethod = await box.run(["login", "kimi", "--method", "key", "--device"], { stdin: KEY });
    expect(keyMethod.code).toBe(2);
    expect(keyMethod.stderr).toMatch(
      /--device needs an account login, not Kimi.*'key' method \(methods: device, key\)/,
    );
    expect(keyMethod.stderr).toContain("authctl login kimi --method device --device");
    const zero = await box.run(["login", "openrouter", "--timeout", "0"]);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain("--timeout must be longer than 0");
  });
});

describe("did you mean", () => {
  test("commands, flags, provider ids and format names", async () => {
    const cases: Array<[string[], string]> = [
      [["stauts"], "did you mean 'status'?"],
      [["login", "openruoter"], "did you mean 'openrouter'?"],
      [["env", "--fromat", "sh"], "did you mean '--format'?"],
      [["env", "--format", "jsno"], "did you mean 'json'?"],
      [["exec", "--proxxy", "--", "true"], "did you mean '--proxy'?"],
      [["--verison"], "unknown option '--verison'; did you mean '--version'?"],
    ];
    for (const [args, guess] of cases) {
      const result = await box.run(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(guess);
    }
    // Nothing close: no guess at all rather than a wild one.
    expect((await box.run(["frobnicate"])).stderr).not.toContain("did you mean");
  });
});

describe("help", () => {
  test("'help login' is 'login --help'; exec shows -- command; store shows migrate --to; one line for --no-verify", async () => {
    const viaHelp = await box.run(["help", "login"]);
    expectOk(viaHelp);
    expect(viaHelp.stdout).toBe((await box.run(["login", "--help"])).stdout);
    expect(viaHelp.stdout).toContain("--no-verify");
    expect(viaHelp.stdout).not.toMatch(/--verify\b/);
    expect((await box.run(["exec", "--help"])).stdout).toContain(
      "authctl exec [-p <provider>]… [--proxy] -- <command> [args…]",
    );
    expect((await box.run(["store", "--help"])).stdout).toContain(
      "authctl store migrate --to keyring|encrypted|file|etcd",
    );
    // As the contract has it: the provider is optional (none named, a terminal offers a list).
    const logout = (await box.run(["logout", "--help"])).stdout;
    expect(logout).toContain("Usage: authctl logout [<provider>[@<account>]…] [--all]\n");
    expect(logout).toContain("with neither, a terminal offers a list");
  });

  test("every command's help has two or three examples", async () => {
    for (const command of [
      "login",
      "logout",
      "status",
      "env",
      "exec",
      "token",
      "providers",
      "store",
      "upgrade",
    ]) {
      const { stdout } = await box.run([command, "--help"]);
      const examples = stdout.split("Examples:\n")[1]?.trim().split("\n") ?? [];
      expect(examples.length, command).toBeGreaterThanOrEqual(2);
      expect(examples.length, command).toBeLessThanOrEqual(3);
      for (const line of examples) expect(line, command).toContain("authctl");
    }
  });
});

describe("colour and characters", () => {
  test("help into a pipe has no escape codes, even without NO_COLOR", async () => {
    for (const args of [["--help"], ["login", "--help"]]) {
      const result = await box.run(args, { env: { NO_COLOR: undefined } });
      expect(result.stdout).not.toContain(ESC);
    }
    const forced = await box.run(["--help"], { env: { NO_COLOR: undefined, FORCE_COLOR: "1" } });
    expect(forced.stdout).toContain(ESC);
  });

  test.skipIf(!hasScript)(
    "on a terminal: colour, unless FORCE_COLOR=0, NO_COLOR or TERM=dumb",
    async () => {
      const coloured = await onTerminal(["logout", "--all"], { NO_COLOR: undefined });
      expect(coloured).toContain(`${ESC}36m•`);
      expect(await onTerminal(["--help"], { NO_COLOR: undefined })).toContain(ESC);
      for (const env of [{ FORCE_COLOR: "0" }, { NO_COLOR: "1" }, { TERM: "dumb" }]) {
        const text =
          (await onTerminal(["--help"], { NO_COLOR: undefined, ...env })) +
          (await onTerminal(["logout", "--all"], { NO_COLOR: undefined, ...env }));
        expect(text, JSON.stringify(env)).not.toContain(ESC);
      }
    },
    30_000,
  );

  test("without a UTF-8 locale (env -i) bullets and arrows fall back to ASCII", async () => {
    const noLocale = { LANG: undefined, LC_ALL: undefined, LC_CTYPE: undefined };
    const login = await box.run(["login", "openrouter", "--with-key", "--no-verify"], {
      stdin: KEY,
      env: noLocale,
    });
    expectOk(login);
    const bad = await box.run(["env", "--format", "jsn"], { env: noLocale });
    const status = await box.run(["status"], { env: noLocale });
    for (const text of [login.stderr, bad.stderr, status.stdout, status.stderr])
      expect(text).toMatch(/^[\x00-\x7f]*$/);
    expect(bad.stderr).toContain("  -> use one of");
    // With a UTF-8 locale the same output keeps its symbols.
    expect((await box.run(["env", "--format", "jsn"])).stderr).toContain("  → use one of");
  });
});

describe("exec", () => {
  test("a command that exists but cannot be executed exits 126, as shells do, with or without --proxy, and nothing else on stderr", async () => {
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const script = join(box.root, "not-executable.sh");
    writeFileSync(script, "echo hi\n", { mode: 0o644 });
    // Executable, but no program this system can run (no #!, not an ELF file for this CPU).
    const foreign = join(box.root, "foreign-binary");
    writeFileSync(foreign, "\x7fELF\x02\x01\x01garbage", { mode: 0o755 });
    const cases: Array<[string, string[], Record<string, string>]> = [
      ["exec", [], { AUTHCTL_EXEC_MODE: "exec" }],
      ["spawn", [], { AUTHCTL_EXEC_MODE: "spawn" }],
      ["proxy", ["--proxy"], {}],
    ];
    for (const [mode, flags, env] of cases) {
      const denied = await box.run(["exec", ...flags, "--", script], { env });
      expect(denied.code, mode).toBe(126);
      // One error line and its hint: nothing from the runtime (no ExperimentalWarning for execve).
      expect(denied.stderr, mode).toBe(
        `authctl: cannot run ${script}: permission denied\n  → check that it is executable (chmod +x)\n`,
      );
      const wrongFormat = await box.run(["exec", ...flags, "--", foreign], { env });
      expect(wrongFormat.code, mode).toBe(126);
      expect(wrongFormat.stderr, mode).toBe(
        `authctl: cannot run ${foreign}: not a program this system can run (exec format error)\n  → check that it was built for this machine, or that a script starts with #!\n`,
      );
    }
  });
});
