/**
 * No core dump holds a secret (issue 13.12): the processes that hold credentials for longer than
 * a moment (a login waiting for its input, the parent of `exec --proxy` and of spawn-mode exec)
 * are non-dumpable (Linux prctl PR_SET_DUMPABLE 0) with a core-file limit of 0, while their
 * children run as they would without authctl. Checked as the user nobody: the kernel refuses
 * /proc/<pid>/environ (and mem) of a non-dumpable process even to its own user, which a test can
 * observe without crashing anything; the core limit is in /proc/<pid>/limits.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chownSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BINARY, createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

const KEY = secret("sk-or-v1-coredump0123456789abcdef0123456789abcdef0123456789abcdef0");
const NOBODY = 65534;
const canDrop = process.platform === "linux" && process.getuid?.() === 0 && Boolean(Bun.which("setpriv"));

function chownTree(path: string): void {
  chownSync(path, NOBODY, NOBODY);
  if (!statSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry));
}

/** As nobody, with an unlimited soft core limit to start from (what a developer's shell may have). */
function asNobody(argv: string[]): string[] {
  return [
    "sh",
    "-c",
    'ulimit -S -c unlimited && exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"',
    "sh",
    ...argv,
  ];
}

/** Polls (bounded) until the condition holds; returns whether it did. */
async function eventually(condition: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await Bun.sleep(20);
  }
  return condition();
}

/** Whether another process of the same user (nobody) can read the process's environment. */
const readableByItsUser = (pid: number) =>
  Bun.spawnSync(
    ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "cat", `/proc/${pid}/environ`],
    { stdout: "ignore", stderr: "ignore" },
  ).exitCode === 0;
const coreLimit = (pid: number | string) =>
  /^Max core file size\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))?.[1];

let box: Sandbox;
beforeAll(() => ensureBinary());
beforeEach(() => {
  box = createSandbox();
});
afterEach(() => box.cleanup());

describe.skipIf(!canDrop)("core dumps", () => {
  test("a login waiting for its key is non-dumpable with a core limit of 0, and still logs in", async () => {
    chownTree(box.root);
    const proc = Bun.spawn(asNobody([BINARY, "login", "openrouter", "--with-key", "--no-verify"]), {
      env: box.env,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const hardened = await eventually(() => {
        try {
          return coreLimit(proc.pid) === "0" && !readableByItsUser(proc.pid);
        } catch {
          return false;
        }
      });
      expect(hardened).toBe(true);
    } finally {
      proc.stdin.write(KEY);
      proc.stdin.end();
    }
    expect(await proc.exited).toBe(0);
  }, 30_000);

  test.each([
    ["exec --proxy", { args: ["exec", "--proxy"], env: {} }],
    ["spawn-mode exec", { args: ["exec"], env: { AUTHCTL_EXEC_MODE: "spawn" } }],
  ])(
    "the parent of %s is non-dumpable (its child cannot read its memory or environment); the child keeps the caller's core limit",
    async (_name, mode) => {
      expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
      chownTree(box.root);
      const report =
        'cat /proc/$PPID/environ >/dev/null 2>&1 && p=readable || p=denied; printf "%s %s" "$p" "$(sed -n "s/^Max core file size *\\([^ ]*\\).*/\\1/p" /proc/$$/limits)"';
      const proc = Bun.spawn(asNobody([BINARY, ...mode.args, "-p", "openrouter", "--", "sh", "-c", report]), {
        env: { ...box.env, ...mode.env },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
      ]);
      expect({ code: await proc.exited, stderr }).toEqual({ code: 0, stderr: "" });
      expect(stdout).toBe("denied unlimited");
    },
    30_000,
  );
});
