import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createSandbox, ensureBinary, expectOk, ROOT, secret, type Sandbox } from "../helpers/binary.ts";

/**
 * The README's first section is what a newcomer runs and reads first: its commands must exist,
 * its examples must be what the binary prints, and it must not send them outside the repository.
 */
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const PACKAGE = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const KEY = secret("sk-or-v1-readme0000000000000000000000000000000000000000000000000c0de");
const section = README.slice(README.indexOf("## From a checkout"), README.indexOf("## Using it"));

let box: Sandbox;
beforeAll(() => ensureBinary());
beforeEach(() => {
  box = createSandbox();
});
afterEach(() => box.cleanup());

describe("README for a newcomer", () => {
  test("the set-up builds the binary the next line runs, and the scripts it names exist", () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
    expect(firstBlock).toContain("npm ci && npm run build");
    expect(firstBlock).toContain("./dist/authctl login openrouter");
    expect(PACKAGE.bin.authctl).toBe("dist/authctl");
    for (const script of ["build", "test", "bench"]) {
      expect(section).toContain(
        `npm ${script === "build" ? "run build" : script === "test" ? "test" : "run bench"}`,
      );
      expect(PACKAGE.scripts[script]).toBeDefined();
    }
    // How to put it on PATH, and that bun itself is not on PATH after npm ci.
    expect(section).toContain("~/.local/bin");
    expect(section).toContain("node_modules/.bin");
  });

  test("no link or path leads outside the repository", () => {
    expect(README).not.toMatch(/\]\((https?:|\.\.\/)/);
    expect(README).not.toContain("../shared");
  });

  test("uninstall removes keyring items first: authctl logout --all before deleting files", () => {
    const uninstall = README.slice(README.indexOf("Uninstall:"));
    expect(uninstall.indexOf("authctl logout --all")).toBeGreaterThan(-1);
    expect(uninstall.indexOf("authctl logout --all")).toBeLessThan(uninstall.indexOf("rm "));
  });

  test("the status and env examples are what the binary prints", async () => {
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const status = await box.run(["status"]);
    expectOk(status);
    const example = /```console\n([\s\S]*?)```/.exec(section)![1]!;
    const [first, mark, stored, exportsLine] = status.stdout.split("\n");
    expect(example).toContain(`$ authctl status\n${first}\n${mark}\n`);
    expect(stored).toStartWith("    stored in ");
    expect(example).toContain(exportsLine!);
    const env = await box.run(["env", "openrouter"]);
    expect(env.stdout).toStartWith("export OPENROUTER_API_KEY='sk-or-v1-");
    expect(example).toContain("$ authctl env openrouter\nexport OPENROUTER_API_KEY='sk-or-v1-…c0de'");
  });
});
