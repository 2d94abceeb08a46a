/**
 * What the store promises at the system-call level, read with strace from the real binary: the
 * temporary file is created with O_CREAT|O_EXCL and mode 0600 (a planted file or symlink cannot be
 * reused), its bytes are flushed with fsync before the rename (a crash cannot leave an empty
 * credentials file), and the rename targets credentials.toml. The hot path opens credentials.toml
 * once per command, whatever the backend (issue 19.7: `exec` with a keyring provider parsed it
 * three times: the list of stored providers, the provider's record, the keyring read). Also: a key with no recognisable
 * shape, echoed back by a hostile server, is masked because authctl registered it, not by pattern.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startKeyApi, type KeyApi } from "../fakes/key-api.ts";
import { BINARY, createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";
import { missingSecretServicePrograms, startSecretService } from "../helpers/secret-service.ts";

const hasStrace = Bun.which("strace") !== null;
let api: KeyApi;
let box: Sandbox;
beforeAll(async () => {
  await ensureBinary();
  api = startKeyApi();
});
afterAll(() => api.stop());
beforeEach(() => (box = createSandbox()));
afterEach(() => box.cleanup());

describe.skipIf(!hasStrace)("the store write, as system calls (strace)", () => {
  test("temp file O_EXCL 0600 → write → fsync → rename onto credentials.toml", async () => {
    const log = join(box.root, "strace.log");
    const proc = Bun.spawn(
      [
        "strace",
        "-f",
        "-qq",
        "-o",
        log,
        "-e",
        "trace=openat,fsync,fdatasync,rename,renameat,renameat2",
        BINARY,
        "login",
        "openrouter",
        "--with-key",
        "--no-verify",
      ],
      {
        env: box.env,
        stdin: new Blob([secret("sk-or-v1-strace0123456789abcdef0123456789abcdef0123456789abcdef0123")]),
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    expect(await proc.exited).toBe(0);
    const lines = readFileSync(log, "utf8").split("\n");
    const open = lines.find((l) => /openat\(.*credentials\.toml\.tmp-/.test(l));
    expect(open).toBeDefined();
    expect(open).toMatch(/O_CREAT/);
    expect(open).toMatch(/O_EXCL/);
    expect(open).toMatch(/, 0600\)/);
    const [pid, fd] = [/^(\d+)/.exec(open!)![1], / = (\d+)$/.exec(open!)![1]];
    const openAt = lines.indexOf(open!);
    const fsyncAt = lines.findIndex(
      (l, i) => i > openAt && l.startsWith(`${pid} `) && new RegExp(`f(?:data)?sync\\(${fd}\\)`).test(l),
    );
    const renameAt = lines.findIndex(
      (l, i) => i > openAt && /rename(?:at2?)?\(.*credentials\.toml\.tmp-.*credentials\.toml"/.test(l),
    );
    expect(fsyncAt).toBeGreaterThan(openAt);
    expect(renameAt).toBeGreaterThan(fsyncAt);
  }, 30_000);
});

/** How many times `authctl args…` opens credentials.toml (the lock and temporary files not counted). */
async function storeOpens(args: string[], env: Record<string, string>): Promise<number> {
  const log = join(box.root, "strace-opens.log");
  const proc = Bun.spawn(["strace", "-f", "-qq", "-o", log, "-e", "trace=openat", BINARY, ...args], {
    env: { ...box.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = await new Response(proc.stderr).text();
  expect(await proc.exited, stderr).toBe(0);
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((line) => /credentials\.toml"/.test(line)).length;
}

const HOT_PATH = [
  ["exec", "--", "true"],
  ["exec", "-p", "openrouter", "--", "true"],
  ["env", "openrouter"],
  ["token", "openrouter"],
];

describe.skipIf(!hasStrace)("the hot path reads credentials.toml once (strace)", () => {
  test("plain file store: env, token and exec open it once each", async () => {
    const login = await box.run(["login", "openrouter", "--with-key", "--no-verify"], {
      stdin: secret("sk-or-v1-onceplain0123456789abcdef0123456789abcdef0123456789abcdef"),
    });
    expectOk(login);
    for (const args of HOT_PATH)
      expect({ args, opens: await storeOpens(args, {}) }).toEqual({ args, opens: 1 });
  }, 60_000);

  test.skipIf(missingSecretServicePrograms.length > 0)(
    "keyring store: env, token and exec open it once each (exec parsed it three times)",
    async () => {
      const service = await startSecretService();
      try {
        const env = { ...service.env, AUTHCTL_STORE: "keyring" };
        const login = await box.run(["login", "openrouter", "--with-key", "--no-verify"], {
          stdin: secret("sk-or-v1-oncering0123456789abcdef0123456789abcdef0123456789abcdef0"),
          env,
        });
        expectOk(login);
        expect(readFileSync(join(box.home, "credentials.toml"), "utf8")).toContain(
          'secret_store = "keyring"',
        );
        for (const args of HOT_PATH)
          expect({ args, opens: await storeOpens(args, env) }).toEqual({ args, opens: 1 });
      } finally {
        service.stop();
      }
    },
    60_000,
  );
});

test("a key with no recognisable shape, echoed by a hostile key check, is masked by value", async () => {
  // "hostile" makes the fake answer 401 with the key in its body (test/fakes/key-api.ts).
  const opaque = secret("Zq7hostileLm2Pw9Xc4Vb8Nn3Rr6Ty1Ua5Sd0F");
  // Mistral's keys are 32 opaque characters: no pattern in redact.ts knows them.
  box.writeConfig(`[providers.mistral]\napi_url = "${api.url}/v1"\n`);
  const result = await box.run(["login", "mistral", "--with-key"], { stdin: opaque });
  expect(result.code).toBe(4);
  // The harness already fails the test if the key reaches stderr; say what must be there instead.
  expect(result.stderr).toContain(`…${opaque.slice(-4)}`);
}, 30_000);
