import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  chownSync,
  existsSync,
  lchownSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
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

const isRoot = process.getuid?.() === 0;
if (!isRoot)
  console.warn("SKIPPED: project files of another user need root (the test creates a second user)");

describe.skipIf(!isRoot)("another local user's project file (a shared directory outside $HOME)", () => {
  const user = `actlpf${process.pid % 100_000}`;
  let uid = 0;
  let gid = 0;
  beforeAll(() => {
    const made = Bun.spawnSync(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", user], {
      stderr: "pipe",
    });
    if (made.exitCode !== 0) throw new Error(`useradd failed: ${made.stderr.toString()}`);
    uid = Number(Bun.spawnSync(["id", "-u", user]).stdout.toString().trim());
    gid = Number(Bun.spawnSync(["id", "-g", user]).stdout.toString().trim());
  });
  afterAll(() => {
    Bun.spawnSync(["userdel", user]);
  });

  test("is passed over as if absent: env and exec work below it, allow names its owner and records nothing, and the search goes on to the user's own file above it", async () => {
    // The sandbox root stands for /tmp: outside $HOME, so the search goes up to `/`. Another user
    // put a project file in a directory above the one the user works in.
    const shared = join(box.root, "shared");
    const work = join(shared, "mine");
    mkdirSync(work, { recursive: true });
    const theirs = join(shared, ".authctl.toml");
    writeFileSync(theirs, 'providers = ["openrouter@work"]\n');
    chownSync(theirs, uid, gid);
    const env = await box.run(["env"], { cwd: work });
    expectOk(env);
    expect(env.stdout).toContain(PERSONAL);
    const exec = await box.run(["exec", "--", "sh", "-c", 'test -n "$OPENROUTER_API_KEY"'], { cwd: work });
    expectOk(exec);
    const allow = await box.run(["allow"], { cwd: work });
    expect(allow.code).toBe(1);
    expect(allow.stderr).toContain(`no .authctl.toml of yours in ${work} or above it: nothing to allow`);
    expect(allow.stderr).toContain(`${theirs} belongs to ${user}`);
    expect(existsSync(join(box.home, "allowed-projects.json"))).toBe(false);
    // The user's own project file above theirs is found through it (stopping at theirs would hide
    // it, and env would hand out every credential instead of what the user's file selects).
    writeFileSync(join(box.root, ".authctl.toml"), 'providers = ["openrouter@work"]\n');
    expectOk(await box.run(["allow"], { cwd: work }));
    const list = JSON.parse(readFileSync(join(box.home, "allowed-projects.json"), "utf8"));
    expect(Object.keys(list.allowed)).toEqual([join(box.root, ".authctl.toml")]);
    const selected = await box.run(["env"], { cwd: work });
    expectOk(selected);
    expect(selected.stdout).toContain(WORK);
    expect(selected.stdout).not.toContain(PERSONAL);
    // Their symbolic link to the user's own (allowed) file is still theirs: passed over too.
    const linked = join(box.root, "linked");
    mkdirSync(linked);
    symlinkSync("../.authctl.toml", join(linked, ".authctl.toml"));
    lchownSync(join(linked, ".authctl.toml"), uid, gid);
    const throughLink = await box.run(["env"], { cwd: linked });
    expectOk(throughLink);
    expect(throughLink.stdout).toContain(WORK);
    // The user's own file where theirs was is used as before (and refused until allowed).
    chownSync(theirs, 0, 0);
    const own = await box.run(["env"], { cwd: work });
    expect(own.code).toBe(1);
    expect(own.stderr).toContain(`the project file ${theirs} is not allowed yet`);
  }, 60_000);

  test("run by a user who is not root, their own project file and root's are used, not passed over", async () => {
    // The test above runs as root, where "this user" and "root" are the same uid: a check that
    // compared owners to root alone, or to this user alone, would pass it. Here authctl runs as the
    // second user, in a sandbox of theirs, from a directory outside $HOME (the search reaches `/`).
    const mine = createSandbox();
    try {
      for (const dir of [mine.root, mine.env.HOME!]) chownSync(dir, uid, gid);
      const asUser = {
        prefix: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups"],
      };
      expectOk(
        await mine.run(["login", "openrouter", "--with-key", "--no-verify"], { ...asUser, stdin: PERSONAL }),
      );
      expectOk(
        await mine.run(["login", "openrouter@work", "--with-key", "--no-verify"], { ...asUser, stdin: WORK }),
      );
      // authctl did run as that user (the store is theirs), so "this user" is not root below.
      expect(statSync(join(mine.home, "credentials.toml")).uid).toBe(uid);
      const shared = join(mine.root, "shared");
      const work = join(shared, "mine");
      mkdirSync(work, { recursive: true });
      chownSync(shared, uid, gid);
      chownSync(work, uid, gid);
      const file = join(shared, ".authctl.toml");
      writeFileSync(file, 'providers = ["openrouter@work"]\n');
      // The user's own file: found, allowed, and it selects.
      chownSync(file, uid, gid);
      expectOk(await mine.run(["allow"], { ...asUser, cwd: work }));
      const own = await mine.run(["env"], { ...asUser, cwd: work });
      expectOk(own);
      expect(own.stdout).toContain(WORK);
      expect(own.stdout).not.toContain(PERSONAL);
      // The same file, root's: still used (root can change anything anyway), not passed over.
      chownSync(file, 0, 0);
      const roots = await mine.run(["env"], { ...asUser, cwd: work });
      expectOk(roots);
      expect(roots.stdout).toContain(WORK);
      expect(roots.stdout).not.toContain(PERSONAL);
    } finally {
      mine.cleanup();
    }
  }, 60_000);
});
