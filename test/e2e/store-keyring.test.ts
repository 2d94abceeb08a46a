/**
 * The storage backends through the compiled binary, against a real Secret Service (see
 * test/helpers/secret-service.ts). Skipped, with a line saying so, when its programs are absent.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandbox, ensureBinary, expectOk, ROOT, secret, type Sandbox } from "../helpers/binary.ts";
import {
  lookupWithSecretTool,
  missingSecretServicePrograms,
  type SecretService,
  startSecretService,
} from "../helpers/secret-service.ts";

const KEY = secret("sk-or-v1-keyring0123456789abcdef0123456789abcdef0123456789abcdef01");
const KEY2 = secret("sk-or-v1-rotated0123456789abcdef0123456789abcdef0123456789abcdef01");
const ANT = secret("sk-ant-api03-keyring0123456789abcdef0123456789abcdef0123");

const missing = missingSecretServicePrograms;
if (missing.length)
  console.warn(
    `SKIPPED: real Secret Service tests need ${missing.join(", ")} (apt: dbus gnome-keyring libsecret-tools)`,
  );
const lookup = lookupWithSecretTool;

/** The sandbox may pin a backend for other suites; these runs use authctl's own choice. */
const AUTO = { AUTHCTL_STORE: undefined };

let box: Sandbox;
/** A keyring item as this sandbox's store writes it: the secrets, and which store wrote them. */
const item = (key: string) => JSON.stringify({ key, authctl_home: box.home });
/** A keyring item as stored, without the digest of its record (checked to be there). */
function stored(service: SecretService, id: string): string | null {
  const value = lookup(service, id);
  if (value === null) return null;
  const { authctl_meta: meta, ...rest } = JSON.parse(value) as Record<string, string>;
  expect(meta).toMatch(/^sha256:/);
  return JSON.stringify(rest);
}
beforeAll(() => ensureBinary());
beforeEach(() => {
  box = createSandbox();
});
afterEach(() => box.cleanup());
const storeText = () => readFileSync(join(box.home, "credentials.toml"), "utf8");

describe("without a D-Bus session", () => {
  test("the default falls back to the encrypted file within the timeout, with a notice; no secret in clear", async () => {
    const started = Date.now();
    const login = await box.run(["login", "openrouter", "--with-key", "--no-verify"], {
      stdin: KEY,
      env: AUTO,
    });
    expectOk(login);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(login.stderr).toContain(
      "the keyring is not available (no D-Bus session bus): secrets go to the encrypted file",
    );
    expect(storeText()).not.toContain(KEY);
    const again = await box.run(["login", "anthropic", "--with-key", "--no-verify"], {
      stdin: ANT,
      env: AUTO,
    });
    expect(again.stderr).not.toContain("the keyring is not available");
    expect(storeText()).not.toContain(ANT);
    expect((await box.run(["env", "openrouter"])).stdout).toBe(`export OPENROUTER_API_KEY='${KEY}'\n`);
    const status = JSON.parse((await box.run(["status", "--json"], { env: AUTO })).stdout);
    expect(status.store.backend).toBe("encrypted");
    expect(status.providers.map((p: { backend: string }) => p.backend)).toEqual(["encrypted", "encrypted"]);
  });

  test("AUTHCTL_STORE=keyring without a keyring is an error that names the way out", async () => {
    const login = await box.run(["login", "openrouter", "--with-key", "--no-verify"], {
      stdin: KEY,
      env: { AUTHCTL_STORE: "keyring" },
    });
    expect(login.code).toBe(1);
    expect(login.stderr).toContain(
      "the keyring is not available (no D-Bus session bus), and AUTHCTL_STORE asks for it",
    );
  });

  test("a tampered sealed value is an error naming the file, with nothing on stdout, for that provider only", async () => {
    expectOk(
      await box.run(["login", "openrouter", "--with-key", "--no-verify"], {
        stdin: KEY,
        env: { AUTHCTL_STORE: "encrypted" },
      }),
    );
    const text = storeText();
    const sealed = /key = "enc:v1:([^"]+)"/.exec(text)![1]!;
    const bytes = Buffer.from(sealed, "base64");
    bytes[20]! ^= 0x80;
    writeFileSync(join(box.home, "credentials.toml"), text.replace(sealed, bytes.toString("base64")));
    const env = await box.run(["env", "openrouter"]);
    expect(env.code).toBe(1);
    expect(env.stdout).toBe("");
    expect(env.stderr).toContain(
      `credentials store ${join(box.home, "credentials.toml")}: the record of openrouter does not authenticate`,
    );
    expect(env.stderr).toContain("→ run 'authctl login openrouter' to store it again");

    // The damage is that credential's alone, and the hint mends it.
    expectOk(
      await box.run(["login", "anthropic", "--with-key", "--no-verify"], {
        stdin: ANT,
        env: { AUTHCTL_STORE: "encrypted" },
      }),
    );
    expect((await box.run(["env", "anthropic"])).stdout).toBe(`export ANTHROPIC_API_KEY='${ANT}'\n`);
    expectOk(
      await box.run(["login", "openrouter", "--with-key", "--no-verify"], {
        stdin: KEY,
        env: { AUTHCTL_STORE: "encrypted" },
      }),
    );
    expect((await box.run(["env", "openrouter", "anthropic"])).stdout).toBe(
      `export OPENROUTER_API_KEY='${KEY}'\nexport ANTHROPIC_API_KEY='${ANT}'\n`,
    );
  });

  test("status lists a sealed store it cannot open (no passphrase, a damaged value) from its metadata, and says why", async () => {
    const sealedWith = { AUTHCTL_STORE: "encrypted", AUTHCTL_PASSPHRASE: "correct horse battery" };
    expectOk(
      await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env: sealedWith }),
    );
    expectOk(
      await box.run(["login", "anthropic", "--with-key", "--no-verify"], { stdin: ANT, env: sealedWith }),
    );
    const opened = await box.run(["status"], { env: sealedWith });
    expectOk(opened);
    expect(opened.stdout).toContain(`✓ logged in with a key …${KEY.slice(-4)}\n    stored encrypted in`);

    for (const passphrase of [undefined, "wrong"]) {
      const status = await box.run(["status", "--json"], {
        env: { AUTHCTL_STORE: "encrypted", AUTHCTL_PASSPHRASE: passphrase },
      });
      expectOk(status);
      expect(status.stderr).toContain(
        passphrase
          ? "sealed secrets are not shown: AUTHCTL_PASSPHRASE does not open"
          : "sealed secrets are not shown: credentials store",
      );
      const json = JSON.parse(status.stdout);
      expect(
        json.providers.map((p: { id: string; logged_in: boolean; secret: null; backend: string }) => [
          p.id,
          p.logged_in,
          p.secret,
          p.backend,
        ]),
      ).toEqual([
        ["anthropic", true, null, "encrypted"],
        ["openrouter", true, null, "encrypted"],
      ]);
      expect(status.stdout + status.stderr).not.toContain(KEY.slice(-4));
    }
    const human = await box.run(["status"], { env: { AUTHCTL_STORE: "encrypted" } });
    expect(human.stdout).toContain("✓ logged in with a key (secret sealed)\n    stored encrypted in");
    // The commands that need the secret still refuse, naming the way on.
    const env = await box.run(["env", "openrouter"], { env: { AUTHCTL_STORE: "encrypted" } });
    expect(env.code).toBe(1);
    expect(env.stderr).toContain("set AUTHCTL_PASSPHRASE");

    // A damaged sealed value: status still lists both, with the passphrase set.
    const text = storeText();
    const sealed = /\[openrouter\][^[]*?key = "enc:v1:([^"]+)"/.exec(text)![1]!;
    const bytes = Buffer.from(sealed, "base64");
    bytes[20]! ^= 0x01;
    writeFileSync(join(box.home, "credentials.toml"), text.replace(sealed, bytes.toString("base64")));
    const damaged = await box.run(["status", "--json"], { env: sealedWith });
    expectOk(damaged);
    expect(damaged.stderr).toContain(
      "the record of openrouter does not authenticate (it was altered, or put back from another copy of the store); its secret is not shown",
    );
    expect(
      JSON.parse(damaged.stdout).providers.map((p: { id: string; secret: string | null }) => [
        p.id,
        p.secret,
      ]),
    ).toEqual([
      ["anthropic", `…${ANT.slice(-4)}`],
      ["openrouter", null],
    ]);
  });

  test("store migrate rejects unknown flags and backends", async () => {
    const flag = await box.run(["store", "migrate", "--too", "file"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option '--too' for 'store migrate'");
    const name = await box.run(["store", "migrate", "--to", "vault"]);
    expect(name.code).toBe(2);
    expect(name.stderr).toContain("--to must be keyring, encrypted, file or etcd, not 'vault'");
  });
});

describe.skipIf(missing.length > 0)("with a real Secret Service (gnome-keyring)", () => {
  let service: SecretService;
  beforeAll(async () => {
    service = await startSecretService();
  });
  afterAll(() => service?.stop());

  test("a record edited in credentials.toml no longer matches its item: its secret is not handed out (issue 13.2)", async () => {
    const env = { ...service.env, ...AUTO };
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env }));
    expectOk(await box.run(["login", "anthropic", "--with-key", "--no-verify"], { stdin: ANT, env }));
    // An endpoint the key would be sent to, added to the record without touching the keyring.
    writeFileSync(
      join(box.home, "credentials.toml"),
      `${storeText()}\n[openrouter.extra]\napi_url = "https://127.0.0.1:9/v1"\n`,
    );
    const token = await box.run(["token", "openrouter"], { env });
    expect(token.code).toBe(1);
    expect(token.stdout).toBe("");
    expect(token.stderr).toContain(
      "the record of openrouter does not match its keyring item authctl/openrouter (it was altered behind authctl's back)",
    );
    expect((await box.run(["token", "anthropic"], { env })).stdout).toBe(`${ANT}\n`);
    // Logging in again mends it.
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env }));
    expect((await box.run(["token", "openrouter"], { env })).stdout).toBe(`${KEY}\n`);
  });

  test("store, read, overwrite, list and delete: the item really is in the keyring", async () => {
    const env = { ...service.env, ...AUTO };
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env }));
    expect(stored(service, "openrouter")).toBe(item(KEY));
    expect(storeText()).not.toContain(KEY);
    expect(storeText()).toContain('secret_store = "keyring"');
    expect((await box.run(["env", "openrouter"], { env })).stdout).toBe(
      `export OPENROUTER_API_KEY='${KEY}'\n`,
    );

    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY2, env }));
    expect(stored(service, "openrouter")).toBe(item(KEY2));
    expect((await box.run(["token", "openrouter"], { env })).stdout).toBe(`${KEY2}\n`);

    expectOk(await box.run(["login", "anthropic", "--with-key", "--no-verify"], { stdin: ANT, env }));
    // Several providers are read together over one connection, and printed in the order asked.
    expect((await box.run(["env", "anthropic", "openrouter"], { env })).stdout).toBe(
      `export ANTHROPIC_API_KEY='${ANT}'\nexport OPENROUTER_API_KEY='${KEY2}'\n`,
    );
    // status lists every credential and its backend without touching the keyring: it works with no bus at all.
    const status = await box.run(["status", "--json"], {
      env: { ...AUTO, DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent" },
    });
    expectOk(status);
    const json = JSON.parse(status.stdout);
    expect(
      Object.fromEntries(json.providers.map((p: { id: string; backend: string }) => [p.id, p.backend])),
    ).toEqual({ anthropic: "keyring", openrouter: "keyring" });

    // A shell that outlived its desktop session keeps a bus address nobody listens on.
    const before = storeText();
    // Chosen by AUTHCTL_STORE too, when the connection is started ahead (keyring-backend.ts).
    for (const AUTHCTL_STORE of [undefined, "keyring"]) {
      const stale = await box.run(["env", "openrouter"], {
        env: { AUTHCTL_STORE, DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus" },
      });
      expect(stale.code).toBe(1);
      expect(stale.stdout).toBe("");
      expect(stale.stderr).toContain(
        "authctl: the keyring's session bus (unix:path=/nonexistent/bus) is not there (ENOENT)",
      );
      expect(stale.stderr).toContain("DBUS_SESSION_BUS_ADDRESS may be stale");
    }
    expect(storeText()).toBe(before);

    expectOk(await box.run(["logout", "openrouter"], { env }));
    expect(lookup(service, "openrouter")).toBeNull();
    expect(stored(service, "anthropic")).toBe(item(ANT));
    expectOk(await box.run(["logout", "anthropic"], { env }));
    expect(lookup(service, "anthropic")).toBeNull();
  });

  test("status --check reads every stored secret: masked when it can, the reason when it cannot", async () => {
    const env = { ...service.env, ...AUTO };
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env }));
    expectOk(await box.run(["login", "anthropic", "--with-key", "--no-verify"], { stdin: ANT, env }));
    const plain = JSON.parse((await box.run(["status", "--json"], { env })).stdout);
    expect(
      plain.providers.map((p: { secret: string | null; check?: unknown }) => [p.secret, p.check]),
    ).toEqual([
      [null, undefined],
      [null, undefined],
    ]);

    const good = await box.run(["status", "--check", "--json"], { env });
    expectOk(good);
    expect(
      JSON.parse(good.stdout).providers.map((p: { id: string; secret: string; check: unknown }) => [
        p.id,
        p.secret,
        p.check,
      ]),
    ).toEqual([
      ["anthropic", `…${ANT.slice(-4)}`, { ok: true }],
      ["openrouter", `…${KEY.slice(-4)}`, { ok: true }],
    ]);

    Bun.spawnSync(["secret-tool", "clear", "service", "authctl", "account", "anthropic"], {
      env: { ...process.env, ...service.env },
    });
    const bad = await box.run(["status", "--check"], { env });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(
      "\n    ✗ secret cannot be read: credentials.toml says anthropic's secrets are in the keyring, but the keyring has no item authctl/anthropic",
    );
    expect(bad.stdout).toContain("secret read back: ok");
    expect(bad.stderr).not.toContain("!     ✗");
    expect(bad.stderr).toContain("authctl: the stored secret of anthropic cannot be read");
    expect(bad.stderr).toContain("→ run 'authctl login anthropic' to store it again");
    expect(bad.stderr).not.toContain(KEY);
    expectOk(await box.run(["logout", "--all"], { env }));
  });

  test("two AUTHCTL_HOMEs share the keyring's items but never each other's login", async () => {
    const other = createSandbox();
    try {
      const env = { ...service.env, ...AUTO };
      expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env }));
      const taken = await other.run(["login", "openrouter", "--with-key", "--no-verify"], {
        stdin: KEY2,
        env,
      });
      expectOk(taken);
      expect(taken.stderr).toContain(
        `replaced the keyring item authctl/openrouter, which held the openrouter login of the authctl store at ${box.home}`,
      );
      const mine = await box.run(["env", "openrouter"], { env });
      expect(mine.code).toBe(1);
      expect(mine.stdout).toBe("");
      expect(mine.stderr).toContain(
        `the keyring item authctl/openrouter now holds the openrouter login of the authctl store at ${other.home}`,
      );
      expect(mine.stderr).not.toContain(KEY2);
      const logout = await box.run(["logout", "openrouter"], { env });
      expectOk(logout);
      expect(stored(service, "openrouter")).toBe(JSON.stringify({ key: KEY2, authctl_home: other.home }));
      expect((await other.run(["token", "openrouter"], { env })).stdout).toBe(`${KEY2}\n`);
      expectOk(await other.run(["logout", "openrouter"], { env }));
      expect(lookup(service, "openrouter")).toBeNull();
    } finally {
      other.cleanup();
    }
  });

  // With AUTHCTL_STORE=keyring, env, token and exec ask the keyring ahead for the items their words
  // name (keyring-backend.ts startKeyringAhead): a word is only a guess at the store key, which the
  // store decides.
  test("an item read ahead for a word on the command line stands in only for the account it names", async () => {
    const other = createSandbox();
    try {
      const env = { ...service.env, ...AUTO };
      // Here openrouter's only (so default) account is work: `env openrouter` reads the item
      // openrouter@work, while the item named by the word, openrouter, is the other store's.
      expectOk(await box.run(["login", "openrouter@work", "--with-key", "--no-verify"], { stdin: KEY, env }));
      expectOk(await other.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY2, env }));
      for (const run of [{ env }, { env: { ...env, AUTHCTL_STORE: "keyring" } }]) {
        expect((await box.run(["env", "openrouter"], run)).stdout).toBe(
          `export OPENROUTER_API_KEY='${KEY}'\n`,
        );
        expect((await box.run(["token", "openrouter"], run)).stdout).toBe(`${KEY}\n`);
        const exec = await box.run(
          ["exec", "-p", "openrouter", "--", "sh", "-c", 'printf %s "$OPENROUTER_API_KEY"'],
          run,
        );
        expect(exec.stdout).toBe(KEY);
        expect((await other.run(["token", "openrouter"], run)).stdout).toBe(`${KEY2}\n`);
      }
      // openrouter@default has no record here: the other store's item of that account (the item
      // openrouter) is not handed out.
      const none = await box.run(["env", "openrouter@default"], {
        env: { ...env, AUTHCTL_STORE: "keyring" },
      });
      expect(none.code).toBe(4);
      expect(none.stdout).toBe("");
      expect(none.stderr).toContain("openrouter is not logged in");
      expect(none.stderr).not.toContain(KEY2);
      expectOk(await other.run(["logout", "openrouter"], { env }));
      expectOk(await box.run(["logout", "--all"], { env }));
    } finally {
      other.cleanup();
    }
  });

  test("an item deleted behind authctl's back (a dangling pointer) blocks neither login nor logout", async () => {
    const env = { ...service.env, ...AUTO };
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env }));
    Bun.spawnSync(["secret-tool", "clear", "service", "authctl", "account", "openrouter"], {
      env: { ...process.env, ...service.env },
    });
    const broken = await box.run(["env", "openrouter"], { env });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("the keyring has no item authctl/openrouter");
    expect(broken.stderr).toContain("run 'authctl login openrouter' to store it again");
    // The hint works: login replaces the record.
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY2, env }));
    expect((await box.run(["env", "openrouter"], { env })).stdout).toBe(
      `export OPENROUTER_API_KEY='${KEY2}'\n`,
    );
    Bun.spawnSync(["secret-tool", "clear", "service", "authctl", "account", "openrouter"], {
      env: { ...process.env, ...service.env },
    });
    const logout = await box.run(["logout", "openrouter"], { env });
    expectOk(logout);
    expect(logout.stderr).toContain("openrouter: its keyring item authctl/openrouter was already gone");
    expect(storeText()).not.toContain("[openrouter]");
  });

  test("logout without the keyring forgets the record; the item is deleted once the keyring answers", async () => {
    const env = { ...service.env, ...AUTO };
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env }));
    const logout = await box.run(["logout", "openrouter"], {
      env: { ...AUTO, DBUS_SESSION_BUS_ADDRESS: undefined, XDG_RUNTIME_DIR: undefined },
    });
    expectOk(logout);
    expect(logout.stderr).toContain(
      "openrouter: the keyring is not available: no D-Bus session bus; its keyring item is deleted once the keyring answers",
    );
    expect(storeText()).not.toContain("[openrouter]");
    expect(storeText()).toContain('keyring_cleanup = [ "openrouter" ]');
    expect(stored(service, "openrouter")).toBe(item(KEY));
    // The next write that reaches the keyring finishes the job.
    expectOk(await box.run(["login", "anthropic", "--with-key", "--no-verify"], { stdin: ANT, env }));
    expect(lookup(service, "openrouter")).toBeNull();
    expect(storeText()).not.toContain("keyring_cleanup");
    expectOk(await box.run(["logout", "anthropic"], { env }));
  });

  test("migration file → encrypted → keyring → file round-trips the store byte for byte", async () => {
    const env = { ...service.env, AUTHCTL_STORE: "file" };
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env }));
    expectOk(await box.run(["login", "anthropic", "--with-key", "--no-verify"], { stdin: ANT, env }));
    const original = storeText();
    expectOk(await box.run(["store", "migrate", "--to", "encrypted"], { env }));
    expect(storeText()).not.toContain(KEY);
    expect(storeText()).not.toContain(ANT);
    const toKeyring = await box.run(["store", "migrate", "--to", "keyring"], { env });
    expectOk(toKeyring);
    expect(toKeyring.stderr).toContain("moved openrouter from the encrypted file to the keyring");
    expect(toKeyring.stderr).toContain(
      `${join(box.home, "key")} no longer seals anything here; keep it only while old backups of credentials.toml may need it`,
    );
    expect(stored(service, "openrouter")).toBe(item(KEY));
    expect((await box.run(["token", "anthropic"], { env })).stdout).toBe(`${ANT}\n`);
    expectOk(await box.run(["store", "migrate", "--to", "file"], { env }));
    expect(storeText()).toBe(original);
    expect(lookup(service, "openrouter")).toBeNull();
  });

  test("kill -9 after every durable step of a migration loses nothing", async () => {
    const work = mkdtempSync(join(tmpdir(), "authctl-kill-"));
    // A kill, not a power cut: what each step wrote is in the page cache either way, so the store
    // lives in memory where it can (on the disk, under stress-ng --hdd 1, the ~54 migrations'
    // fsyncs were a third of this test's time).
    const box = createSandbox({ inMemory: true });
    try {
      // The store module driven directly, killing itself with SIGKILL at step N (N = -1: run through).
      const script = join(work, "migrate.ts");
      writeFileSync(
        script,
        `import { createBackendStore } from ${JSON.stringify(join(ROOT, "src/store/backend-store.ts"))};
import { createBunKeyring } from ${JSON.stringify(join(ROOT, "src/store/keyring.ts"))};
const [home, to, stopAt] = process.argv.slice(2);
let step = 0;
const store = createBackendStore(home, {
  // Not the 2 s default: under disk load gnome-keyring took longer to answer a write (a TIMEOUT,
  // exit 1, under stress-ng --hdd 1), and what is tested here is a kill, not the keyring's speed.
  choice: { backend: "file", from: "AUTHCTL_STORE" }, vaults: { keyring: createBunKeyring(process.env, { timeoutMs: 30_000 }) }, notify() {},
  checkpoint(name) { if (step++ === Number(stopAt)) process.kill(process.pid, "SIGKILL"); console.log(name); },
});
await store.migrate(to);
// As main.ts ends every command: without it, the keyring reader's idle connection (closed 200 ms
// after its last read) kept each of the ~54 runs alive that much longer.
process.exit(0);
`,
      );
      const env = { ...service.env, AUTHCTL_STORE: "file" };
      const drive = (to: string, stopAt: number) => {
        const run = Bun.spawnSync([process.execPath, script, box.home, to, String(stopAt)], {
          env: { ...process.env, ...service.env },
          stderr: "pipe",
        });
        // Say why a run that should have finished did not (once seen as a bare exit 1 under load).
        if (run.exitCode !== 0 && run.signalCode !== "SIGKILL")
          console.error(`migrate --to ${to} exited ${run.exitCode}: ${run.stderr.toString().slice(-2000)}`);
        return run;
      };
      const check = async () => {
        expect((await box.run(["token", "openrouter"], { env })).stdout).toBe(`${KEY}\n`);
        expect((await box.run(["token", "anthropic"], { env })).stdout).toBe(`${ANT}\n`);
      };
      expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env }));
      expectOk(await box.run(["login", "anthropic", "--with-key", "--no-verify"], { stdin: ANT, env }));
      let killed = 0;
      for (const [from, to] of [
        ["file", "keyring"],
        ["keyring", "encrypted"],
        ["encrypted", "keyring"],
        ["keyring", "file"],
      ] as const) {
        const steps = drive(to, -1);
        expect(steps.exitCode).toBe(0);
        const count = steps.stdout.toString().trim().split("\n").length;
        drive(from, -1); // back to the start of this leg
        for (let stop = 0; stop < count; stop++) {
          const run = drive(to, stop);
          expect(run.signalCode).toBe("SIGKILL");
          killed++;
          await check();
          expect(drive(to, -1).exitCode).toBe(0);
          await check();
          expect(drive(from, -1).exitCode).toBe(0);
        }
        expect(drive(to, -1).exitCode).toBe(0);
      }
      expect(killed).toBeGreaterThanOrEqual(8);
      await check();
      expect(lookup(service, "openrouter")).toBeNull();
    } finally {
      rmSync(work, { recursive: true, force: true });
      box.cleanup();
    }
    // About 54 driver runs and 100 `token` runs, each with fsyncs and keyring calls: 46–49 s at
    // load average 18–23 with stress-ng --hdd 1 (a driver run averaged 720 ms, the checks 8 s in
    // all), and 109 s once in session 3, close to the old 120 s bound, while the store was on the
    // disk and each run lingered 200 ms on the keyring reader; 13 s at load 9 without either.
  }, 300_000);
});
