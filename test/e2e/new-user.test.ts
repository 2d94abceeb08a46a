import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
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
