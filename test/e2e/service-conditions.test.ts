import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync } from "node:fs";
import { createSandbox, ensureBinary, secret, type Sandbox } from "../helpers/binary.ts";

/**
 * authctl started the way a service manager or a container starts it: no HOME, a uid that the
 * password database does not list, nobody at a terminal, output to a file that takes no more
 * bytes. `env`, `token`, `exec` and `status` either work or say in one line what to set, with the
 * contract's exit codes; never an internal error, a stack trace or a hang.
 */
const KEY = secret(`sk-or-v1-${"5e41ce".repeat(8)}`);
const canDrop = process.getuid?.() === 0 && Boolean(Bun.which("setpriv"));
// A uid and gid that no /etc/passwd here lists: what `docker run --user 54321` or OpenShift's
// arbitrary uids give a process.
const UNLISTED = 54_321;

let box: Sandbox;
beforeAll(async () => {
  await ensureBinary();
  box = createSandbox();
  const login = await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: `${KEY}\n` });
  expect(login.code).toBe(0);
});
afterAll(() => box.cleanup());

const COMMANDS = [
  ["env", "openrouter"],
  ["token", "openrouter"],
  ["exec", "-p", "openrouter", "--", "/bin/true"],
  ["status"],
];

describe("a uid with no password-database entry and no HOME", () => {
  const asUnlisted = ["setpriv", `--reuid=${UNLISTED}`, `--regid=${UNLISTED}`, "--clear-groups", "--"];

  test.skipIf(!canDrop)(
    "env, token, exec and status name what to set (exit 1); --version runs, and with AUTHCTL_HOME everything works",
    async () => {
      for (const args of COMMANDS) {
        const result = await box.run(args, {
          prefix: asUnlisted,
          env: { HOME: undefined, AUTHCTL_HOME: undefined, XDG_CONFIG_HOME: undefined },
        });
        expect(result.stderr).not.toContain("internal error");
        expect(result.stderr).toBe(
          `authctl: cannot find a home directory: HOME is not set and uid ${UNLISTED} has no entry in the password database\n` +
            "  → set AUTHCTL_HOME to the directory authctl keeps its files in (or set HOME)\n",
        );
        expect(result.code).toBe(1);
      }
      const version = await box.run(["--version"], { prefix: asUnlisted, env: { HOME: undefined } });
      expect(version.stderr).toBe("");
      expect(version.code).toBe(0);

      // With AUTHCTL_HOME (a directory it owns) and still no HOME, everything works.
      const own = createSandbox();
      try {
        chmodSync(own.root, 0o755);
        mkdirSync(own.home, { mode: 0o700 });
        chownSync(own.home, UNLISTED, UNLISTED);
        const login = await own.run(["login", "openrouter", "--with-key", "--no-verify"], {
          stdin: `${KEY}\n`,
          prefix: asUnlisted,
          env: { HOME: undefined },
        });
        expect(login.stderr).not.toContain("internal error");
        expect(login.code).toBe(0);
        for (const args of COMMANDS) {
          const result = await own.run(args, { prefix: asUnlisted, env: { HOME: undefined } });
          expect(result.stderr).toBe("");
          expect(result.code).toBe(0);
        }
      } finally {
        own.cleanup();
      }
    },
    60_000,
  );
});

describe("stdout that takes no more bytes (a full disk: /dev/full)", () => {
  // `authctl token p > /run/app/key` on a full disk: the output is lost, so the exit code must say
  // so, or the service starts with an empty key file.
  test.each([[["token", "openrouter"]], [["env", "openrouter"]], [["status"]], [["status", "--json"]]])(
    "authctl %p says the output could not be written and exits 1",
    async (args) => {
      const result = await box.run(args, { prefix: ["sh", "-c", 'exec "$@" >/dev/full', "sh"] });
      expect(result.stderr).toBe(
        "authctl: could not write the output to stdout: ENOSPC: no space left on device, write\n" +
          "  → the output is incomplete; free space (or send it elsewhere) and run the command again\n",
      );
      expect(result.code).toBe(1);
    },
  );
});

describe("a service account pointed at another user's store", () => {
  test.skipIf(!canDrop)(
    "env, token, exec and status say which uid cannot reach the store and what to change; exit 1",
    async () => {
      chmodSync(box.root, 0o755);
      for (const args of COMMANDS) {
        const result = await box.run(args, {
          prefix: ["setpriv", `--reuid=${UNLISTED}`, `--regid=${UNLISTED}`, "--clear-groups", "--"],
          env: { HOME: "/" },
        });
        expect(result.stderr).toMatch(/^authctl: could not check \S+: EACCES: permission denied\n/);
        expect(result.stderr).toContain(
          `  → authctl runs as uid ${UNLISTED} here, which cannot reach ${box.home}: run it as that directory's owner, or give this user its own AUTHCTL_HOME (and log in there)\n`,
        );
        expect(result.code).toBe(1);
      }
    },
    60_000,
  );
});
