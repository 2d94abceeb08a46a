/**
 * exec's child starts with the signal dispositions it would have had without authctl. Bun ignores
 * SIGPIPE and SIGXFSZ as it starts, and an ignored signal survives execve: found trying it, `authctl
 * exec -p openrouter -- sh -c 'yes | head -1'` printed "yes: standard output: Broken pipe", and a
 * pipeline's writer exited 1 instead of dying of SIGPIPE (141). src/io/process.ts replaceProcess.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  createSandbox,
  ensureBinary,
  expectOk,
  secret,
  writeScript,
  type Sandbox,
} from "../helpers/binary.ts";

const KEY = secret("sk-or-v1-signals0123456789abcdef0123456789abcdef0123456789abcdef");

let box: Sandbox;
let probe: string;
beforeAll(async () => {
  await ensureBinary();
  box = createSandbox();
  expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
  // Shell builtins only: the probe reads its own state, not a child's.
  probe = writeScript(
    box.root,
    "probe",
    '#!/bin/sh\nwhile read -r name value; do case "$name" in SigIgn:|SigBlk:) echo "$name $value";; esac; done < /proc/$$/status\n',
  );
});
afterAll(() => box.cleanup());

/** The probe's output run from a shell without authctl, `before` run first (`trap "" INT`). */
async function direct(before = ""): Promise<string> {
  const proc = Bun.spawn(["sh", "-c", `${before}exec "$0"`, probe], { env: box.env, stdout: "pipe" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return out;
}

// The usual-case lane (a provider named), the full path (no provider: every credential), and the
// two launches authctl stays the parent of.
const LAUNCHES: Array<[string, string[], Record<string, string>]> = [
  ["exec -p openrouter (the usual-case lane)", ["exec", "-p", "openrouter", "--"], {}],
  ["exec with no provider (the full path)", ["exec", "--"], {}],
  ["exec --proxy", ["exec", "--proxy", "-p", "openrouter", "--"], {}],
  ["exec in spawn mode", ["exec", "-p", "openrouter", "--"], { AUTHCTL_EXEC_MODE: "spawn" }],
];

describe("exec's child gets the signal dispositions it would have had without authctl", () => {
  test.each(LAUNCHES)("%s: SIGPIPE and SIGXFSZ are not left ignored", async (_name, args, env) => {
    const result = await box.run([...args, probe], { env });
    expectOk(result);
    expect(result.stdout).toBe(await direct());
  });

  test.each(LAUNCHES)(
    "%s: a pipeline's writer dies of SIGPIPE and says nothing",
    async (_name, args, env) => {
      const result = await box.run([...args, "sh", "-c", '(yes; echo "yes ended with $?" >&2) | head -1'], {
        env,
      });
      expectOk(result);
      expect(result.stdout).toBe("y\n");
      expect(result.stderr).toBe("yes ended with 141\n");
    },
  );

  test("a signal authctl's parent ignored (nohup, a service manager) stays ignored for the child", async () => {
    const result = await box.run(["exec", "-p", "openrouter", "--", probe], {
      prefix: ["sh", "-c", 'trap "" INT HUP; exec "$@"', "sh"],
    });
    expectOk(result);
    const expected = await direct('trap "" INT HUP; ');
    expect(expected).not.toBe(await direct());
    expect(result.stdout).toBe(expected);
  });
});
