/**
 * The directory authctl runs in is the user's project, often a repository someone else wrote:
 * nothing in it may change what authctl does. A compiled Bun program reads bunfig.toml (whose
 * `preload` runs code) and .env files from its working directory unless built not to
 * (scripts/build.ts). Found trying it: in a directory holding a bunfig.toml with a preload, `authctl
 * env openrouter` ran that file's code, and a .env naming AUTHCTL_HOME moved the store.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

const KEY = secret("sk-or-v1-workdir0123456789abcdef0123456789abcdef0123456789abcdef");
const OTHER_KEY = secret("sk-or-v1-plantedkey456789abcdef0123456789abcdef0123456789abcdef");

let box: Sandbox;
/** The project directory: what a cloned repository could hold. */
let project: string;
/** Where the project's .env points AUTHCTL_HOME: a store the project planted. */
let planted: string;
/** Written by the project's preload script, if it ever runs. */
let ran: string;

beforeAll(() => ensureBinary());
beforeEach(async () => {
  box = createSandbox();
  project = join(box.root, "project");
  planted = join(project, ".planted-home");
  ran = join(box.root, "preload-ran");
  mkdirSync(project, { recursive: true });
  expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
  // A store of the project's own, with a key the user never chose.
  expectOk(
    await box.run(["login", "openrouter", "--with-key", "--no-verify"], {
      stdin: OTHER_KEY,
      env: { AUTHCTL_HOME: planted },
    }),
  );
  const preload = `require("node:fs").writeFileSync(${JSON.stringify(ran)}, String(process.pid));\n`;
  writeFileSync(join(project, "preload.js"), preload);
  writeFileSync(
    join(project, "bunfig.toml"),
    'preload = ["./preload.js"]\n[run]\npreload = ["./preload.js"]\n',
  );
  const dotenv = `AUTHCTL_HOME=${planted}\nAUTHCTL_STORE=file\nPLANTED_BY_PROJECT=yes\n`;
  for (const name of [".env", ".env.local", ".env.production", ".env.development"])
    writeFileSync(join(project, name), dotenv);
});
afterEach(() => box.cleanup());

/** The sandbox's environment without AUTHCTL_HOME: the user's default store (~/.config/authctl). */
const defaultHome = () => ({ AUTHCTL_HOME: undefined });

describe("the working directory cannot reach into authctl", () => {
  test("a bunfig.toml preload in it never runs, for the usual case, the full path and exec", async () => {
    for (const args of [
      ["env", "openrouter"],
      ["token", "openrouter"],
      ["status"],
      ["providers"],
      ["exec", "-p", "openrouter", "--", "true"],
      ["--version"],
    ]) {
      const result = await box.run(args, { cwd: project });
      expect({ args, code: result.code }).toEqual({ args, code: 0 });
      expect({ args, ran: existsSync(ran) }).toEqual({ args, ran: false });
    }
  });

  test("its .env files neither move the store nor reach exec's child", async () => {
    // With AUTHCTL_HOME unset, a .env naming it would have been taken (an unset variable is what a
    // .env fills in): the store answered is still the user's own.
    const home = join(box.env.HOME ?? "", ".config", "authctl");
    expectOk(
      await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env: defaultHome() }),
    );
    const env = await box.run(["env", "openrouter"], { cwd: project, env: defaultHome() });
    expectOk(env);
    expect(env.stdout).toBe(`export OPENROUTER_API_KEY='${KEY}'\n`);
    const token = await box.run(["token", "openrouter"], { cwd: project, env: defaultHome() });
    expect(token.stdout).toBe(`${KEY}\n`);

    const status = await box.run(["status"], { cwd: project, env: defaultHome() });
    expectOk(status);
    expect(status.stdout + status.stderr).toContain(home);
    expect(status.stdout + status.stderr).not.toContain(planted);

    const child = await box.run(
      [
        "exec",
        "-p",
        "openrouter",
        "--",
        "sh",
        "-c",
        'printf "%s|%s|%s" "${PLANTED_BY_PROJECT-unset}" "${AUTHCTL_HOME-unset}" "$OPENROUTER_API_KEY"',
      ],
      { cwd: project, env: defaultHome() },
    );
    expectOk(child);
    expect(child.stdout).toBe(`unset|unset|${KEY}`);

    // A login made there is written to the user's store, not the project's.
    const planting = readFileSync(join(planted, "credentials.toml"), "utf8");
    expectOk(
      await box.run(["login", "anthropic", "--with-key", "--no-verify"], {
        stdin: secret("sk-ant-api03-workdir0123456789abcdef0123456789abcdef01234"),
        cwd: project,
        env: defaultHome(),
      }),
    );
    expect(readFileSync(join(home, "credentials.toml"), "utf8")).toContain("[anthropic]");
    expect(readFileSync(join(planted, "credentials.toml"), "utf8")).toBe(planting);
    expect(existsSync(ran)).toBe(false);
  }, 60_000);
});
