import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

/**
 * Project files (issue 20): `.authctl.toml` found from the working directory upward selects what
 * `env` and `exec` hand out when no provider is named, once `authctl allow` trusted it as it is.
 */
const OPENROUTER = secret("sk-or-v1-project0123456789abcdef0123456789abcdef0123456789abcdef0123");
const ANTHROPIC = secret("sk-ant-api03-project0123456789abcdef0123456789abcdef0123456789abcd");

let box: Sandbox;
let project: string;
let sub: string;
const projectFile = () => join(project, ".authctl.toml");
const writeProject = (text: string) => writeFileSync(projectFile(), text);
/** Runs in the project's subdirectory, as a person working in it would. */
const runIn = (args: string[], dir = sub) => box.run(args, { cwd: dir });

beforeAll(() => ensureBinary());
beforeEach(async () => {
  box = createSandbox();
  project = join(box.env.HOME!, "code", "app");
  sub = join(project, "src", "deep");
  mkdirSync(sub, { recursive: true });
  expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: OPENROUTER }));
  expectOk(await box.run(["login", "anthropic", "--with-key", "--no-verify"], { stdin: ANTHROPIC }));
});
afterEach(() => box.cleanup());

/** The child's view of its environment: which provider variables `exec` gave it. */
async function execSees(args: string[], dir = sub) {
  const result = await box.run(
    [
      "exec",
      ...args,
      "--",
      "sh",
      "-c",
      'echo "or=${OPENROUTER_API_KEY:-none} an=${ANTHROPIC_API_KEY:-none}"',
    ],
    { cwd: dir },
  );
  return result;
}

describe("found from a subdirectory, refused until allowed", () => {
  test("env and exec without providers refuse an unknown file with one line naming it and 'authctl allow' (exit 1)", async () => {
    writeProject('providers = ["anthropic"]\n');
    for (const args of [["env"], ["exec", "--", "true"]]) {
      const refused = await runIn(args);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe("");
      const lines = refused.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(projectFile());
      expect(lines[0]).toContain("'authctl allow'");
    }
  });

  test("after 'authctl allow' in a subdirectory, env and exec hand out exactly what it selects", async () => {
    writeProject('providers = ["anthropic"]\n');
    const allowed = await runIn(["allow"]);
    expectOk(allowed);
    expect(allowed.stderr).toContain(`allowed ${projectFile()}`);
    const env = await runIn(["env"]);
    expectOk(env);
    expect(env.stdout).toBe(`export ANTHROPIC_API_KEY='${ANTHROPIC}'\n`);
    const exec = await execSees([]);
    expectOk(exec);
    expect(exec.stdout.trim()).toBe(`or=none an=${ANTHROPIC}`);
    // Outside the project the file does not apply: every stored credential, as before.
    const outside = await box.run(["env"], { cwd: box.env.HOME });
    expectOk(outside);
    expect(outside.stdout).toContain("OPENROUTER_API_KEY");
    expect(outside.stdout).toContain("ANTHROPIC_API_KEY");
  });

  test("the allow list is a 0600 file in the 0700 AUTHCTL_HOME holding the file's real path and SHA-256", async () => {
    writeProject('providers = ["anthropic"]\n');
    expectOk(await runIn(["allow"]));
    const list = join(box.home, "allowed-projects.json");
    expect(statSync(list).mode & 0o777).toBe(0o600);
    expect(statSync(box.home).mode & 0o777).toBe(0o700);
    const digest = new Bun.CryptoHasher("sha256").update(readFileSync(projectFile())).digest("hex");
    expect(JSON.parse(readFileSync(list, "utf8")).allowed[projectFile()].sha256).toBe(digest);
  });

  test("'authctl deny' forgets it: env refuses it again", async () => {
    writeProject('providers = ["anthropic"]\n');
    expectOk(await runIn(["allow"]));
    expectOk(await runIn(["env"]));
    const denied = await runIn(["deny"]);
    expectOk(denied);
    expect(denied.stderr).toContain(`denied ${projectFile()}`);
    const refused = await runIn(["env"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("is not allowed yet");
  });

  test("allow and deny without a project file say so (exit 1)", async () => {
    for (const command of ["allow", "deny"]) {
      const result = await runIn([command]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`no .authctl.toml in ${sub} or above it`);
    }
  });
});

describe("a changed file is refused again", () => {
  test("one byte changed after allow: env and exec refuse it until it is allowed again", async () => {
    writeProject('providers = ["anthropic"]\n');
    expectOk(await runIn(["allow"]));
    writeProject('providers = ["anthropic", "openrouter"]\n');
    const refused = await runIn(["env"]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toContain(`the project file ${projectFile()} changed since it was allowed`);
    expect(refused.stderr).toContain("'authctl allow'");
    expect((await execSees([])).code).toBe(1);
    expectOk(await runIn(["allow"]));
    const env = await runIn(["env"]);
    expectOk(env);
    expect(env.stdout).toContain("ANTHROPIC_API_KEY");
    expect(env.stdout).toContain("OPENROUTER_API_KEY");
  });
});

describe("a project selects credentials, never where they go", () => {
  for (const [key, text] of [
    ["api_url", 'providers = ["anthropic"]\napi_url = "http://127.0.0.1:9/steal"\n'],
    ["mycorp", 'providers = ["mycorp"]\n[mycorp]\nissuer = "http://127.0.0.1:9"\nclient_id = "x"\n'],
    ["providers", 'providers = { anthropic = { api_url = "http://127.0.0.1:9" } }\n'],
    ["env", 'providers = ["anthropic"]\nenv = { ANTHROPIC_API_KEY = "key" }\n'],
    ["store", 'store = "file"\nproviders = ["anthropic"]\n'],
  ] as const) {
    test(`a file with '${key}' ${key === "providers" ? "as a table" : ""} is refused by allow (nothing recorded) and by env, naming the key`, async () => {
      writeProject(text);
      const allow = await runIn(["allow"]);
      expect(allow.code).toBe(1);
      if (key === "providers") {
        expect(allow.stderr).toContain("'providers' must be a list of provider ids");
      } else {
        expect(allow.stderr).toContain(`'${key}' is not allowed in a project file (only 'providers')`);
      }
      expect(allow.stderr).toContain(projectFile());
      expect(existsSync(join(box.home, "allowed-projects.json"))).toBe(false);
      const env = await runIn(["env"]);
      expect(env.code).toBe(1);
      expect(env.stdout).toBe("");
    });
  }
});

describe("an explicit provider wins over the project file", () => {
  test("env <provider> and exec -p ignore the file (not even allowed) and hand out what was named", async () => {
    writeProject('providers = ["anthropic"]\n');
    // Without a provider, the (unallowed) file is in force…
    expect((await runIn(["env"])).code).toBe(1);
    // …a named one does not look at it.
    const env = await runIn(["env", "openrouter"]);
    expectOk(env);
    expect(env.stdout).toBe(`export OPENROUTER_API_KEY='${OPENROUTER}'\n`);
    const exec = await execSees(["-p", "openrouter"]);
    expectOk(exec);
    expect(exec.stdout.trim()).toBe(`or=${OPENROUTER} an=none`);
    const token = await runIn(["token", "openrouter"]);
    expectOk(token);
    expect(token.stdout).toBe(`${OPENROUTER}\n`);
  });
});

describe("status in a project", () => {
  test("shows the file, whether it is allowed, and what it selects (text and --json)", async () => {
    writeProject('providers = ["anthropic"]\n');
    const before = await runIn(["status"]);
    expectOk(before);
    expect(before.stdout).toContain(`Project file ${projectFile()}: ✗ not allowed; it selects anthropic`);
    const beforeJson = JSON.parse((await runIn(["status", "--json"])).stdout);
    expect(beforeJson.project).toEqual({
      path: projectFile(),
      state: "unknown",
      allowed: false,
      providers: ["anthropic"],
    });
    expectOk(await runIn(["allow"]));
    const after = await runIn(["status"]);
    expect(after.stdout).toContain(
      `Project file ${projectFile()}: ✓ allowed; 'env' and 'exec' hand out anthropic`,
    );
    writeProject('providers = ["openrouter"]\n');
    const changed = JSON.parse((await runIn(["status", "--json"])).stdout);
    expect(changed.project).toMatchObject({ state: "changed", allowed: false, providers: ["openrouter"] });
    const outside = JSON.parse((await box.run(["status", "--json"], { cwd: box.env.HOME })).stdout);
    expect(outside.project).toBeNull();
  });
});

describe("where the search stops", () => {
  test("the home directory is searched, the directories above it are not", async () => {
    writeFileSync(join(box.env.HOME!, ".authctl.toml"), 'providers = ["anthropic"]\n');
    // Found in $HOME from a project without its own file: refused until allowed.
    const inHome = await box.run(["env"], { cwd: join(box.env.HOME!, "code") });
    expect(inHome.code).toBe(1);
    expect(inHome.stderr).toContain(join(box.env.HOME!, ".authctl.toml"));
    // A file above $HOME (here the sandbox root) is someone else's directory: not looked at.
    writeFileSync(join(box.root, ".authctl.toml"), 'providers = ["anthropic"]\n');
    const otherHome = join(box.root, "other-home");
    mkdirSync(join(otherHome, "work"), { recursive: true });
    const underOtherHome = await box.run(["env"], {
      cwd: join(otherHome, "work"),
      env: { HOME: otherHome },
    });
    expectOk(underOtherHome);
    expect(underOtherHome.stdout).toContain("OPENROUTER_API_KEY");
  });
});
