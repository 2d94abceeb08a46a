/**
 * The store on servers and under sudo (issue 15), and the encrypted store's key handling (13.14,
 * 11.9), through the binary. The ownership tests run as root with a second user the test creates
 * (useradd) and removes afterwards; they are skipped, with a line saying so, when not root.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

const KEY = secret("sk-or-v1-safety0123456789abcdef0123456789abcdef0123456789abcdef");
const ANT = secret("sk-ant-api03-safety0123456789abcdef0123456789abcdef01234");
const PASSPHRASE = secret("correct horse battery staple");
const ENCRYPTED = { AUTHCTL_STORE: "encrypted" };
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("SKIPPED: ownership tests need root (they create a second user)");

let box: Sandbox;
beforeAll(() => ensureBinary());
beforeEach(() => {
  box = createSandbox();
});
afterEach(() => box.cleanup());
const storePath = () => join(box.home, "credentials.toml");
const storeText = () => readFileSync(storePath(), "utf8");
const login = (id: string, key: string, env: Record<string, string | undefined> = {}) =>
  box.run(["login", id, "--with-key", "--no-verify"], { stdin: key, env });

describe("what seals an encrypted store (issue 11.9, 13.14)", () => {
  test("AUTHCTL_PASSPHRASE set for a store the key file seals is an error naming both, for reads, logins and migrate; nothing is re-sealed", async () => {
    expectOk(await login("openrouter", KEY, ENCRYPTED));
    const before = storeText();
    const env = { ...ENCRYPTED, AUTHCTL_PASSPHRASE: PASSPHRASE };
    const says = `credentials store ${storePath()} is sealed with the key file ${join(box.home, "key")}, but AUTHCTL_PASSPHRASE is set`;
    for (const args of [
      ["token", "openrouter"],
      ["store", "migrate", "--to", "encrypted"],
    ]) {
      const result = await box.run(args, { env });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain(says);
      expect(result.stderr).toContain("'authctl store seal --with passphrase'");
    }
    const again = await login("anthropic", ANT, env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(says);
    expect(storeText()).toBe(before);
  }, 30_000);

  test("store seal --with passphrase re-seals with a notice; --with key-file goes back", async () => {
    expectOk(await login("openrouter", KEY, ENCRYPTED));
    expectOk(await login("anthropic", ANT, ENCRYPTED));
    const env = { ...ENCRYPTED, AUTHCTL_PASSPHRASE: PASSPHRASE };
    const seal = await box.run(["store", "seal", "--with", "passphrase"], { env });
    expectOk(seal);
    expect(seal.stderr).toContain(
      `re-sealed 2 credentials with AUTHCTL_PASSPHRASE (they were sealed with the key file ${join(box.home, "key")})`,
    );
    expect(storeText()).toContain('key_source = "passphrase"');
    expect(storeText()).toContain("kdf_n = 131072");
    expect((await box.run(["token", "openrouter"], { env })).stdout).toBe(`${KEY}\n`);
    const without = await box.run(["token", "openrouter"], { env: ENCRYPTED });
    expect(without.code).toBe(1);
    expect(without.stderr).toContain("is sealed with a passphrase");
    const already = await box.run(["store", "seal", "--with", "passphrase"], { env });
    expect(already.stderr).toContain("the store is already sealed with AUTHCTL_PASSPHRASE");
    const back = await box.run(["store", "seal", "--with", "key-file"], { env });
    expectOk(back);
    expect(back.stderr).toContain("re-sealed 2 credentials with the key file");
    expect(back.stderr).toContain("unset AUTHCTL_PASSPHRASE");
    expect((await box.run(["token", "anthropic"], { env: ENCRYPTED })).stdout).toBe(`${ANT}\n`);
  }, 60_000);

  test("a weak passphrase is refused before a new store is sealed with it, saying the rule", async () => {
    for (const weak of ["a", "aaaaaaaaaaaaaaaa", "short pass"]) {
      const result = await login("openrouter", KEY, { ...ENCRYPTED, AUTHCTL_PASSPHRASE: weak });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        "AUTHCTL_PASSPHRASE is too weak to seal the credential store: use at least 12 characters, with at least 5 different ones",
      );
      expect(existsSync(storePath())).toBe(false);
    }
  }, 30_000);

  test("a key file other users can read is tightened to 0600 with a warning", async () => {
    expectOk(await login("openrouter", KEY, ENCRYPTED));
    chmodSync(join(box.home, "key"), 0o644);
    const token = await box.run(["token", "openrouter"], { env: ENCRYPTED });
    expectOk(token);
    expect(token.stderr).toContain(
      `key file ${join(box.home, "key")} was open to other users (mode 0644): changed to 0600`,
    );
    expect(statSync(join(box.home, "key")).mode & 0o777).toBe(0o600);
    expect((await box.run(["token", "openrouter"], { env: ENCRYPTED })).stderr).toBe("");
  }, 30_000);
});

describe("a lost key file (issue 15.4)", () => {
  test("names 'authctl store reset', which says what is lost, keeps the old file aside, and lets login start over", async () => {
    expectOk(await login("openrouter", KEY, ENCRYPTED));
    expectOk(await login("anthropic", ANT, ENCRYPTED));
    rmSync(join(box.home, "key"));
    for (const args of [
      ["token", "openrouter"],
      ["logout", "--all"],
    ]) {
      const result = await box.run(args, { env: ENCRYPTED });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("'authctl store reset'");
    }
    const relogin = await login("openrouter", KEY, ENCRYPTED);
    expect(relogin.code).toBe(1);
    expect(relogin.stderr).toContain("'authctl store reset'");
    const asked = await box.run(["store", "reset"], { env: ENCRYPTED });
    expect(asked.code).toBe(2);
    expect(asked.stderr).toContain("the logins of anthropic, openrouter would be lost");
    expect(asked.stderr).toContain("authctl store reset --yes");
    expect(existsSync(storePath())).toBe(true);
    const reset = await box.run(["store", "reset", "--yes"], { env: ENCRYPTED });
    expectOk(reset);
    expect(reset.stderr).toContain("lost the logins of anthropic, openrouter");
    const aside = readdirSync(box.home).find((name) => name.startsWith("credentials.toml.reset-"));
    expect(aside).toBeDefined();
    expect(reset.stderr).toContain(`the old store is kept as ${join(box.home, aside!)}`);
    expectOk(await login("openrouter", KEY, ENCRYPTED));
    expect((await box.run(["token", "openrouter"], { env: ENCRYPTED })).stdout).toBe(`${KEY}\n`);
  }, 30_000);
});

describe("the store's lock and modes (issues 13.15, 15.10)", () => {
  test("a FIFO at credentials.toml.lock is refused at once, not waited on", async () => {
    expectOk(await login("openrouter", KEY));
    Bun.spawnSync(["mkfifo", `${storePath()}.lock`]);
    const started = Date.now();
    const result = await login("anthropic", ANT, {});
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `the store's lock ${storePath()}.lock is not a regular file; authctl will not wait on it`,
    );
    expect(result.stderr).toContain(`rm ${storePath()}.lock`);
    const logout = await box.run(["logout", "openrouter"], { timeoutMs: 10_000 });
    expect(logout.code).toBe(1);
    expect(logout.signal).toBeNull();
  }, 30_000);

  test("a directory open to other users is tightened once: the warning is not repeated on every command", async () => {
    expectOk(await login("openrouter", KEY));
    chmodSync(box.home, 0o755);
    const first = await box.run(["status"]);
    expect(first.stderr).toContain(`${box.home} was open to other users (mode 0755): changed to 0700`);
    expect(statSync(box.home).mode & 0o777).toBe(0o700);
    for (const args of [["status"], ["exec", "--", "true"]])
      expect((await box.run(args)).stderr).not.toContain("open to other users");
  }, 30_000);
});

describe("paths and usage (issue 15.7)", () => {
  test("an absolute XDG_CONFIG_HOME holds authctl/; a relative XDG_CONFIG_HOME or HOME is ignored", async () => {
    const userHome = join(box.root, "user-home");
    for (const env of [{ XDG_CONFIG_HOME: "relative/config" }, { XDG_CONFIG_HOME: undefined }]) {
      const status = await box.run(["status", "--json"], { env: { AUTHCTL_HOME: undefined, ...env } });
      expect(JSON.parse(status.stdout).store.path).toBe(
        join(userHome, ".config", "authctl", "credentials.toml"),
      );
    }
    // An absolute XDG_CONFIG_HOME is where the default AUTHCTL_HOME goes (contract, Files).
    const xdg = join(box.root, "xdg-config");
    const fromXdg = await box.run(["status", "--json"], {
      env: { AUTHCTL_HOME: undefined, XDG_CONFIG_HOME: xdg },
    });
    expect(JSON.parse(fromXdg.stdout).store.path).toBe(join(xdg, "authctl", "credentials.toml"));
    const relativeHome = await box.run(["status", "--json"], {
      env: { AUTHCTL_HOME: undefined, HOME: "relative-home" },
    });
    expect(JSON.parse(relativeHome.stdout).store.path).not.toContain("relative-home");
  }, 30_000);

  test("an AUTHCTL_HOME that is a file (the credentials file named by mistake) is said to be one, by every command", async () => {
    const file = join(box.root, "credentials.toml");
    writeFileSync(file, "", { mode: 0o600 });
    for (const args of [
      ["env", "openrouter"],
      ["token", "openrouter"],
      ["exec", "--", "true"],
      ["status"],
      ["providers"],
      ["login", "openrouter", "--with-key", "--no-verify"],
    ]) {
      const result = await box.run(args, {
        env: { AUTHCTL_HOME: file },
        stdin: "sk-or-v1-not-stored-0123456789",
      });
      // Not 'not logged in' (exit 4, 'run authctl login'), nor the runtime's ENOTDIR.
      expect(result.code, args.join(" ")).toBe(1);
      expect(result.stderr, args.join(" ")).toContain(
        `authctl: authctl's directory ${file} is a file, not a directory\n` +
          "  → AUTHCTL_HOME names the directory that holds credentials.toml and config.toml: point it at one\n",
      );
    }
    expect(readFileSync(file, "utf8")).toBe("");
  }, 30_000);

  test("store migrate --to without a value is a usage error naming the choices", async () => {
    for (const args of [
      ["store", "migrate", "--to"],
      ["store", "seal", "--with"],
    ]) {
      const result = await box.run(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        args[1] === "migrate"
          ? "--to needs a value: keyring, encrypted, file or etcd"
          : "--with needs a value: passphrase or key-file",
      );
    }
  }, 30_000);

  test("'not logged in' and 'unknown provider' name where authctl looked", async () => {
    const status = await box.run(["status"]);
    expect(status.code).toBe(4);
    expect(status.stderr).toContain(`not logged in to any provider (nothing in ${storePath()})`);
    const token = await box.run(["token", "openrouter"]);
    expect(token.stderr).toContain(`openrouter is not logged in (nothing for it in ${storePath()})`);
    const unknown = await box.run(["token", "mycorp"]);
    expect(unknown.stderr).toContain(
      `unknown provider 'mycorp' (not built in, not in ${join(box.home, "config.toml")})`,
    );
  }, 30_000);
});

describe.skipIf(!isRoot)(
  "another user's files (issues 13.11, 15.1, 15.5, 15.6), as root with a user made for the test",
  () => {
    const user = `actl${process.pid % 100_000}`;
    let uid = 0;
    let gid = 0;
    let userDir = "";
    beforeAll(() => {
      userDir = mkdtempSync(join(tmpdir(), "authctl-other-user-"));
      chmodSync(userDir, 0o755);
      const made = Bun.spawnSync(["useradd", "-M", "-d", join(userDir, "home"), "-s", "/bin/sh", user], {
        stderr: "pipe",
      });
      if (made.exitCode !== 0) throw new Error(`useradd failed: ${made.stderr.toString()}`);
      const ids = Bun.spawnSync(["id", "-u", user]).stdout.toString().trim();
      uid = Number(ids);
      gid = Number(Bun.spawnSync(["id", "-g", user]).stdout.toString().trim());
    });
    afterAll(() => {
      Bun.spawnSync(["userdel", user]);
      rmSync(userDir, { recursive: true, force: true });
    });

    /** A home owned by the test user, with a store holding `KEY` written by that user. */
    async function usersHome(): Promise<{ home: string; store: string }> {
      const home = join(userDir, "home");
      rmSync(home, { recursive: true, force: true });
      mkdirSync(home, { mode: 0o700 });
      chownSync(home, uid, gid);
      const result = Bun.spawnSync(
        ["runuser", "-u", user, "--", BINARY, "login", "openrouter", "--with-key", "--no-verify"],
        {
          env: {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            HOME: home,
            AUTHCTL_STORE: "file",
            NO_COLOR: "1",
          },
          stdin: new Blob([KEY]),
          stderr: "pipe",
        },
      );
      if (result.exitCode !== 0) throw new Error(`login as ${user} failed: ${result.stderr.toString()}`);
      return { home, store: join(home, ".config", "authctl", "credentials.toml") };
    }

    test("root with HOME pointing at another user's home refuses to use (or take) the store, naming it and the likely cause", async () => {
      const { home, store } = await usersHome();
      const before = readFileSync(store, "utf8");
      for (const args of [
        ["token", "openrouter"],
        ["exec", "-p", "openrouter", "--", "true"],
        ["logout", "openrouter"],
      ]) {
        const result = await box.run(args, { env: { AUTHCTL_HOME: undefined, HOME: home } });
        expect(result.code).toBe(1);
        expect(result.stdout).toBe("");
        expect(result.stderr).toContain(
          `${join(home, ".config", "authctl")} belongs to ${user}, not to you (root)`,
        );
        expect(result.stderr).toContain("sudo without -H");
        expect(result.stderr).toContain("sudo -H");
      }
      expect(statSync(store).uid).toBe(uid);
      expect(readFileSync(store, "utf8")).toBe(before);
      // The user still has their store.
      const theirs = Bun.spawnSync(["runuser", "-u", user, "--", BINARY, "token", "openrouter"], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, AUTHCTL_STORE: "file" },
      });
      expect(theirs.stdout.toString()).toBe(`${KEY}\n`);
    }, 30_000);

    test("login as root into another user's home is refused before any provider is contacted; a store there is never created", async () => {
      const home = join(userDir, "home");
      rmSync(home, { recursive: true, force: true });
      mkdirSync(home, { mode: 0o755 });
      chownSync(home, uid, gid);
      let hits = 0;
      const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (hits++, Response.json({})) });
      try {
        box.writeConfig(`[providers.openrouter]\napi_url = "http://127.0.0.1:${server.port}/api/v1"\n`);
        const result = await box.run(["login", "openrouter", "--with-key"], {
          stdin: KEY,
          env: { AUTHCTL_HOME: join(home, ".config", "authctl") },
        });
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(
          `would be created in ${home}, which belongs to ${user}, not to you (root)`,
        );
        expect(hits).toBe(0);
        expect(existsSync(join(home, ".config"))).toBe(false);
      } finally {
        server.stop(true);
      }
    }, 30_000);

    test("login by a user who cannot write the store's directory is refused before the provider is contacted", async () => {
      const dir = join(userDir, "root-owned");
      mkdirSync(dir, { mode: 0o755, recursive: true });
      let hits = 0;
      const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (hits++, Response.json({})) });
      try {
        const result = Bun.spawnSync(
          ["runuser", "-u", user, "--", BINARY, "login", "openrouter", "--with-key"],
          {
            env: {
              PATH: process.env.PATH ?? "/usr/bin:/bin",
              HOME: join(userDir, "home"),
              AUTHCTL_HOME: join(dir, "authctl"),
              AUTHCTL_STORE: "file",
            },
            stdin: new Blob([KEY]),
            stderr: "pipe",
          },
        );
        expect(result.exitCode).toBe(1);
        expect(result.stderr.toString()).toContain(`cannot save credentials: ${dir} is not writable`);
        expect(hits).toBe(0);
      } finally {
        server.stop(true);
      }
    }, 30_000);

    test("an AUTHCTL_HOME or config.toml of another user, or one others may write, is refused: its api_url never gets the key", async () => {
      let hits = 0;
      const server = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: () => (hits++, Response.json({ data: {} })),
      });
      try {
        const evil = join(userDir, "shared");
        mkdirSync(evil, { recursive: true });
        writeFileSync(
          join(evil, "config.toml"),
          `[providers.openrouter]\napi_url = "http://127.0.0.1:${server.port}/api/v1"\n`,
        );
        chownSync(evil, uid, gid);
        chownSync(join(evil, "config.toml"), uid, gid);
        chmodSync(evil, 0o777);
        const result = await box.run(["login", "openrouter", "--with-key"], {
          stdin: KEY,
          env: { AUTHCTL_HOME: evil },
        });
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`authctl's directory ${evil} belongs to ${user}, not to you (root)`);
        // Root's own directory, but a config.toml someone else wrote there.
        chownSync(evil, 0, 0);
        chmodSync(evil, 0o700);
        const config = await box.run(["login", "openrouter", "--with-key"], {
          stdin: KEY,
          env: { AUTHCTL_HOME: evil },
        });
        expect(config.code).toBe(1);
        expect(config.stderr).toContain(`config.toml ${join(evil, "config.toml")} belongs to ${user}`);
        // Root's own file, but writable by everyone.
        chownSync(join(evil, "config.toml"), 0, 0);
        chmodSync(join(evil, "config.toml"), 0o666);
        const writable = await box.run(["login", "openrouter", "--with-key"], {
          stdin: KEY,
          env: { AUTHCTL_HOME: evil },
        });
        expect(writable.code).toBe(1);
        expect(writable.stderr).toContain(
          `config.toml ${join(evil, "config.toml")} is writable by other users (mode 0666)`,
        );
        expect(writable.stderr).toContain(`chmod go-w ${join(evil, "config.toml")}`);
        expect(hits).toBe(0);
      } finally {
        server.stop(true);
      }
    }, 30_000);

    test("'not logged in' says when the home authctl looked in belongs to another user", async () => {
      const home = join(userDir, "home");
      rmSync(home, { recursive: true, force: true });
      mkdirSync(home, { mode: 0o700 });
      chownSync(home, uid, gid);
      const status = await box.run(["status"], { env: { AUTHCTL_HOME: undefined, HOME: home } });
      expect(status.code).toBe(4);
      expect(status.stderr).toContain(
        `(nothing in ${join(home, ".config", "authctl", "credentials.toml")}, which belongs to ${user})`,
      );
    }, 30_000);
  },
);
