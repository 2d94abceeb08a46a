import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

/**
 * Project files (issue 20) against someone who controls a cloned repository: the trust `allow`
 * records must stay with the directory it was given for and the bytes that were read.
 */
const PERSONAL = secret("sk-or-v1-personal0123456789abcdef0123456789abcdef0123456789abcdef01");
const WORK = secret("sk-or-v1-workacct0123456789abcdef0123456789abcdef0123456789abcdef01");

let box: Sandbox;
let work: string;
let clone: string;

beforeAll(() => ensureBinary());
beforeEach(async () => {
  box = createSandbox();
  work = join(box.env.HOME!, "work", "app");
  clone = join(box.env.HOME!, "src", "cloned");
  mkdirSync(work, { recursive: true });
  mkdirSync(clone, { recursive: true });
  expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: PERSONAL }));
  expectOk(await box.run(["login", "openrouter@work", "--with-key", "--no-verify"], { stdin: WORK }));
});
afterEach(() => box.cleanup());

describe("a symbolic link does not carry another directory's trust", () => {
  test("a cloned repository's .authctl.toml linking to an allowed project file is refused until allowed there", async () => {
    writeFileSync(join(work, ".authctl.toml"), 'providers = ["openrouter@work"]\n');
    expectOk(await box.run(["allow"], { cwd: work }));
    expect((await box.run(["env"], { cwd: work })).stdout).toContain(WORK);
    // The repository ships `.authctl.toml -> ../../work/app/.authctl.toml` (git keeps symlinks).
    symlinkSync("../../work/app/.authctl.toml", join(clone, ".authctl.toml"));
    for (const args of [["env"], ["exec", "--", "true"]]) {
      const refused = await box.run(args, { cwd: clone });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe("");
      expect(refused.stderr).toContain(`the project file ${join(clone, ".authctl.toml")} is not allowed yet`);
    }
    // Allowed where it is found, it works there (a linked project file is legitimate)…
    expectOk(await box.run(["allow"], { cwd: clone }));
    expect((await box.run(["env"], { cwd: clone })).stdout).toContain(WORK);
    // …and denying it there leaves the original allowed.
    expectOk(await box.run(["deny"], { cwd: clone }));
    expect((await box.run(["env"], { cwd: clone })).code).toBe(1);
    expect((await box.run(["env"], { cwd: work })).stdout).toContain(WORK);
    const list = JSON.parse(readFileSync(join(box.home, "allowed-projects.json"), "utf8"));
    expect(Object.keys(list.allowed)).toEqual([join(work, ".authctl.toml")]);
  });
});

describe("what is read is bounded", () => {
  test("a huge .authctl.toml is refused without being read into memory (exit 1, one line)", async () => {
    const path = join(clone, ".authctl.toml");
    writeFileSync(path, 'providers = ["openrouter@work"]\n');
    truncateSync(path, 512 * 1024 * 1024); // sparse: costs no disk
    for (const args of [["env"], ["allow"]]) {
      const refused = await box.run(args, { cwd: clone });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe("");
      expect(refused.stderr).toContain(`project file ${path}: cannot be read (larger than 64 KiB)`);
    }
  }, 30_000);
});
