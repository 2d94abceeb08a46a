import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync } from "node:fs";
import { readSync } from "node:fs";
import { BINARY, createSandbox, ensureBinary, secret, type Sandbox } from "../helpers/binary.ts";

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

/**
 * A pipe another program left non-blocking and full (a Node parent's pipes can be): the writes
 * answer EAGAIN until the reader catches up. Through libc (bun:ffi): the test needs pipe(2) and
 * fcntl(2), which neither Bun nor node:fs offer.
 */
function fullNonBlockingPipe(): { read: number; write: number; filled: number; close(fd: number): void } {
  const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const libc = dlopen("libc.so.6", {
    pipe: { args: [FFIType.ptr], returns: FFIType.i32 },
    fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });
  const fds = new Int32Array(2);
  if (libc.symbols.pipe(ptr(fds)) !== 0) throw new Error("pipe(2) failed");
  const [read, write] = [fds[0]!, fds[1]!];
  const F_GETFL = 3;
  const F_SETFL = 4;
  const O_NONBLOCK = 0o4000;
  libc.symbols.fcntl(write, F_SETFL, libc.symbols.fcntl(write, F_GETFL, 0) | O_NONBLOCK);
  const chunk = new Uint8Array(4096).fill(0x2e);
  let filled = 0;
  for (let n = 0; (n = Number(libc.symbols.write(write, ptr(chunk), chunk.length))) > 0; ) filled += n;
  return { read, write, filled, close: (fd) => void libc.symbols.close(fd) };
}

describe("stdout a full non-blocking pipe (EAGAIN until the reader catches up)", () => {
  test.skipIf(process.platform !== "linux").each([[["status"]], [["providers"]], [["token", "openrouter"]]])(
    "authctl %p waits for the reader: all its output arrives, exit 0",
    async (args) => {
      const expected = await box.run(args);
      expect(expected.code).toBe(0);
      const pipe = fullNonBlockingPipe();
      const proc = Bun.spawn([BINARY, ...args], {
        env: box.env,
        stdin: "ignore",
        stdout: pipe.write,
        stderr: "pipe",
        timeout: 30_000,
      });
      pipe.close(pipe.write);
      // Give it time to write (and, before the fix, to exit having dropped what the pipe refused).
      await Promise.race([proc.exited, Bun.sleep(2_000)]);
      const chunks: Buffer[] = [];
      const buffer = Buffer.alloc(65_536);
      for (let n = 0; (n = readSync(pipe.read, buffer)) > 0; )
        chunks.push(Buffer.from(buffer.subarray(0, n)));
      pipe.close(pipe.read);
      const out = Buffer.concat(chunks);
      expect(out.subarray(pipe.filled).toString()).toBe(expected.stdout);
      expect(await new Response(proc.stderr).text()).toBe("");
      expect(await proc.exited).toBe(0);
    },
    60_000,
  );
});
