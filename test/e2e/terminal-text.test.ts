import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSandbox, ensureBinary, type Sandbox } from "../helpers/binary.ts";

/**
 * Text a server chose reaches a person's terminal only without its controls, on every path, not
 * only the ones that clean it themselves (device codes, OAuth errors, key checks): the error report
 * and the notices strip them at the boundary. Here the server is an etcd member of a team store
 * that answers every request with an error whose text carries an OSC 52 clipboard write, an OSC 8
 * hyperlink, a window title, a screen clear, a carriage return that overwrites the line, a C1 CSI
 * and a right-to-left override.
 */
const HOSTILE =
  "\x1b]52;c;ZXZpbA==\x07 \x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\ \x1b]0;pwned\x07" +
  "\x1b[2J ok\rFAKE \x9b31m \u202etxt.exe";
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

let box: Sandbox;
let member: ReturnType<typeof Bun.serve>;
let answer = "etcdserver: permission denied";
beforeAll(async () => {
  await ensureBinary();
  member = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () =>
      Response.json(
        { error: `${answer} ${HOSTILE}`, code: 7, message: `${answer} ${HOSTILE}` },
        { status: 400 },
      ),
  });
  box = createSandbox();
  box.writeConfig(`store = "etcd"\n[etcd]\nendpoints = ["http://127.0.0.1:${member.port}"]\n`);
});
afterAll(() => {
  member.stop(true);
  box.cleanup();
});

describe("an etcd member's error text", () => {
  test.each([
    ["etcdserver: permission denied", "denied access (no [etcd] username is set)"],
    ["etcdserver: user name is empty", "requires a user"],
  ])(
    "(%s) reaches stderr of env, token, exec and status without controls; exit 1",
    async (text, says) => {
      answer = text;
      for (const args of [
        ["env", "openrouter"],
        ["token", "openrouter"],
        ["exec", "-p", "openrouter", "--", "/bin/true"],
        ["status"],
      ]) {
        const result = await box.run(args, {
          env: { AUTHCTL_STORE: undefined, AUTHCTL_ETCD_KEY: Buffer.alloc(32, 7).toString("base64") },
        });
        expect(result.stderr).toContain(`authctl: etcd at http://127.0.0.1:${member.port} ${says}: ${text}`);
        expect(result.stderr).toContain("click");
        expect(result.stderr).not.toMatch(CONTROL);
        expect(result.stdout).toBe("");
        expect(result.code).toBe(1);
      }
    },
    60_000,
  );
});

describe("a project file's text (any repository can ship an .authctl.toml)", () => {
  test("provider names with escapes reach stderr and status without controls, before the file is allowed", async () => {
    const repo = createSandbox();
    try {
      const dir = join(repo.root, "cloned-repo");
      mkdirSync(dir);
      // TOML \u escapes: the file itself is plain text, the parsed names carry the controls.
      writeFileSync(
        join(dir, ".authctl.toml"),
        'providers = ["open\\u001b]52;c;ZXZpbA==\\u0007router", "x\\u001b[2J\\ry\\u202e"]\n',
      );
      for (const args of [["env"], ["exec", "--", "/bin/true"], ["status"]]) {
        const result = await repo.run(args, { cwd: dir });
        expect(result.stderr + result.stdout).toContain("'openrouter' in providers is not a provider id");
        expect(result.stderr).not.toMatch(CONTROL);
        expect(result.stdout).not.toMatch(CONTROL);
      }
    } finally {
      repo.cleanup();
    }
  }, 60_000);
});
