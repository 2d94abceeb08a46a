import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthctlError } from "../../src/errors.ts";
import { type BackendStoreOptions, createBackendStore } from "../../src/store/backend-store.ts";
import type { Keyring } from "../../src/store/keyring.ts";
import { createBunKeyring, sessionBusAddress } from "../../src/store/keyring.ts";
import { chooseBackend } from "../../src/store/select-backend.ts";
import type { BackendName, StoredCredential } from "../../src/store/types.ts";

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function freshHome(): string {
  const dir = mkdtempSync(join(tmpdir(), "authctl-backends-"));
  scratch.push(dir);
  return join(dir, "home");
}

/** An in-memory Secret Service: the same contract as Bun.secrets, and a switch to make it vanish. */
function fakeKeyring(
  items = new Map<string, string>(),
): Keyring & { items: Map<string, string>; available: boolean; calls: number } {
  const unavailable = () => {
    throw new AuthctlError("STORE_IO", "the keyring is not available: switched off");
  };
  const k = {
    items,
    available: true,
    calls: 0,
    quickUnavailableReason: () => (k.available ? undefined : "switched off"),
    probe: async () => (k.available ? undefined : "switched off"),
    async get(id: string) {
      k.calls++;
      if (!k.available) unavailable();
      return items.get(id) ?? null;
    },
    async put(id: string, value: string) {
      k.calls++;
      if (!k.available) unavailable();
      items.set(id, value);
    },
    async remove(id: string) {
      k.calls++;
      if (!k.available) unavailable();
      return items.delete(id);
    },
  };
  return k;
}

const KEY = "sk-or-v1-unit0123456789abcdef0123456789abcdef";
const ACCESS = "gho_access0123456789abcdefABCDEF";
const REFRESH = "ghr_refresh0123456789abcdefABCDEF";
const COPILOT = "tid=copilot0123456789;exp=1";
const SECRETS = [KEY, ACCESS, REFRESH, COPILOT];

function credentials(): Record<string, StoredCredential> {
  return {
    openrouter: {
      method: "key",
      type: "api_key",
      key: KEY,
      label: "work",
      created_at: 1_700_000_000_000,
      updated_at: 1_700_000_000_000,
    },
    "github-copilot": {
      method: "device",
      type: "oauth",
      access_token: ACCESS,
      refresh_token: REFRESH,
      expires_at: 1_800_000_000_000,
      account: "octocat",
      extra: { host: "github.com", copilot_token: COPILOT },
      created_at: 1_700_000_000_000,
      updated_at: 1_700_000_000_001,
    },
  };
}

function storeFor(
  home: string,
  backend: BackendName | "auto",
  keyring: Keyring,
  extra: Partial<BackendStoreOptions> = {},
) {
  const notices: string[] = [];
  const store = createBackendStore(home, {
    choice: { backend, from: backend === "auto" ? "default" : "AUTHCTL_STORE" },
    vaults: { keyring },
    notify: (m) => notices.push(m),
    ...extra,
  });
  return { store, notices };
}

async function seed(home: string, backend: BackendName, keyring: Keyring) {
  const { store } = storeFor(home, backend, keyring);
  await store.update((c) => Object.assign(c, credentials()));
  return store;
}

async function fullCredentials(home: string, keyring: Keyring) {
  const { store } = storeFor(home, "file", keyring);
  const out: Record<string, StoredCredential | undefined> = {};
  for (const id of Object.keys(store.read().credentials)) out[id] = await store.readSecrets(id);
  return out;
}

const fileText = (home: string) => readFileSync(join(home, "credentials.toml"), "utf8");

describe("encrypted backend", () => {
  test("seals every secret (none in clear in the file), keeps metadata plain, and reads back synchronously", async () => {
    const home = freshHome();
    const keyring = fakeKeyring();
    const store = await seed(home, "encrypted", keyring);
    const text = fileText(home);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    expect(text).toContain('label = "work"');
    expect(text).toContain('account = "octocat"');
    expect(text).toContain('host = "github.com"');
    expect(text).toMatch(/key = "enc:v1:[A-Za-z0-9+/=]+"/);
    expect(statSync(join(home, "key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "key")).size).toBe(32);
    const snapshot = store.read();
    expect(snapshot.credentials).toEqual(credentials());
    expect(snapshot.backends).toEqual({ openrouter: "encrypted", "github-copilot": "encrypted" });
    expect(keyring.calls).toBe(0);
  });

  test("an update that changes nothing leaves the file byte for byte as it was", async () => {
    const home = freshHome();
    const store = await seed(home, "encrypted", fakeKeyring());
    const before = fileText(home);
    await store.update(() => undefined);
    await store.update((c) => {
      c.openrouter = { ...c.openrouter! };
    });
    expect(fileText(home)).toBe(before);
  });

  test("a flipped bit in a sealed value is an error naming the file and field for that credential only, never garbage", async () => {
    const home = freshHome();
    const { store } = storeFor(home, "encrypted", fakeKeyring());
    await store.update((c) => Object.assign(c, credentials()));
    const text = fileText(home);
    const sealed = /\nkey = "enc:v1:([^"]+)"/.exec(text)![1]!;
    const bytes = Buffer.from(sealed, "base64");
    bytes[14]! ^= 0x01;
    const damagedText = text.replace(sealed, bytes.toString("base64"));
    writeFileSync(join(home, "credentials.toml"), damagedText);
    const message = `credentials store ${join(home, "credentials.toml")}: the record of openrouter does not authenticate (it was altered, or put back from another copy of the store)`;

    const snapshot = store.read();
    expect(snapshot.damaged?.openrouter?.message).toBe(message);
    expect((snapshot.damaged?.openrouter as AuthctlError).code).toBe("STORE_CORRUPT");
    expect(snapshot.credentials.openrouter).toEqual({ ...credentials().openrouter!, key: undefined });
    expect(snapshot.credentials["github-copilot"]).toEqual(credentials()["github-copilot"]);
    await expect(store.readSecrets("openrouter")).rejects.toThrow(message);

    // Other writes keep the damaged value exactly as it was; a new login replaces it.
    await store.update((c) => {
      c["github-copilot"] = { ...c["github-copilot"]!, account: "hubot" };
    });
    expect(fileText(home)).toContain(bytes.toString("base64"));
    await expect(
      store.update((c) => {
        c.openrouter = { ...c.openrouter!, label: "relabelled" };
      }),
    ).rejects.toThrow("cannot change openrouter: its stored secret cannot be read");
    await store.update((c) => {
      c.openrouter = credentials().openrouter!;
    });
    expect(store.read().damaged).toBeUndefined();
    expect((await store.readSecrets("openrouter"))!.key).toBe(KEY);
    // A migration cannot carry a value it cannot open.
    writeFileSync(join(home, "credentials.toml"), damagedText);
    await expect(store.migrate("file")).rejects.toThrow(message);
  });

  test("a sealed value moved to another provider or field does not open there", async () => {
    const home = freshHome();
    const store = await seed(home, "encrypted", fakeKeyring());
    const text = fileText(home);
    const access = /access_token = "(enc:v1:[^"]+)"/.exec(text)![1]!;
    const refresh = /refresh_token = "(enc:v1:[^"]+)"/.exec(text)![1]!;
    writeFileSync(
      join(home, "credentials.toml"),
      text.replace(access, "@SWAP@").replace(refresh, access).replace("@SWAP@", refresh),
    );
    expect(store.read().damaged?.["github-copilot"]?.message).toContain(
      "the record of github-copilot does not authenticate",
    );
    expect(store.read().credentials.openrouter!.key).toBe(KEY);
  });

  test("a wrong key file, or a missing one, is a clear error naming both files", async () => {
    const home = freshHome();
    const store = await seed(home, "encrypted", fakeKeyring());
    writeFileSync(join(home, "key"), Buffer.alloc(32, 7));
    expect(() => store.read()).toThrow(
      `key file ${join(home, "key")} does not open credentials store ${join(home, "credentials.toml")} (wrong key)`,
    );
    rmSync(join(home, "key"));
    expect(() => store.read()).toThrow(
      `holds sealed values but the key file ${join(home, "key")} is missing`,
    );
  });

  test("AUTHCTL_PASSPHRASE derives the key with scrypt and a stored salt; a wrong or missing passphrase is refused", async () => {
    const home = freshHome();
    const keyring = fakeKeyring();
    const { store } = storeFor(home, "encrypted", keyring, { passphrase: "correct horse" });
    await store.update((c) => Object.assign(c, credentials()));
    const text = fileText(home);
    expect(text).toContain('key_source = "passphrase"');
    expect(text).toContain('kdf = "scrypt"');
    expect(text).toMatch(/kdf_salt = "[A-Za-z0-9+/=]{24}"/);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    expect(store.read().credentials).toEqual(credentials());
    expect(() => storeFor(home, "encrypted", keyring, { passphrase: "wrong" }).store.read()).toThrow(
      "AUTHCTL_PASSPHRASE does not open credentials store",
    );
    expect(() => storeFor(home, "encrypted", keyring).store.read()).toThrow("is sealed with a passphrase");
  });

  test("a store that keeps its derived key notices when another process re-seals with a new salt", async () => {
    const home = freshHome();
    const keyring = fakeKeyring();
    const { store } = storeFor(home, "encrypted", keyring, { passphrase: "correct horse" });
    await store.update((c) => Object.assign(c, credentials()));
    expect(store.read().credentials).toEqual(credentials());
    const salt = () => /kdf_salt = "([^"]+)"/.exec(fileText(home))![1];
    const before = salt();
    // Another process: to the plain file and back, which draws a new salt.
    const other = storeFor(home, "encrypted", keyring, { passphrase: "correct horse" }).store;
    await other.migrate("file");
    await other.migrate("encrypted");
    expect(salt()).not.toBe(before);
    expect(store.read().credentials).toEqual(credentials());
    await store.update((c) => {
      c.openrouter = { ...c.openrouter!, label: "still opens" };
    });
    expect(other.read().credentials.openrouter!.label).toBe("still opens");
  });
});

describe("backend selection", () => {
  test("AUTHCTL_STORE wins over config.toml; an unknown name is a config error", () => {
    expect(chooseBackend({ AUTHCTL_STORE: "file" }, "keyring")).toEqual({
      backend: "file",
      from: "AUTHCTL_STORE",
    });
    expect(chooseBackend({}, "encrypted")).toEqual({ backend: "encrypted", from: "config.toml" });
    expect(chooseBackend({}, undefined)).toEqual({ backend: "auto", from: "default" });
    expect(() => chooseBackend({ AUTHCTL_STORE: "vault" }, undefined)).toThrow(
      'AUTHCTL_STORE must be keyring, encrypted, file or etcd, not "vault"',
    );
  });

  test("automatic: the keyring when it answers, else the encrypted file with a notice shown once", async () => {
    const home = freshHome();
    const keyring = fakeKeyring();
    keyring.available = false;
    const first = storeFor(home, "auto", keyring);
    expect(first.store.backend).toBe("encrypted");
    await first.store.update((c) => Object.assign(c, { openrouter: credentials().openrouter }));
    expect(first.notices).toEqual([
      `the keyring is not available (switched off): secrets go to the encrypted file ${join(home, "credentials.toml")} instead`,
    ]);
    const second = storeFor(home, "auto", keyring);
    await second.store.update((c) => Object.assign(c, { "github-copilot": credentials()["github-copilot"] }));
    expect(second.notices).toEqual([]);
    expect(second.store.read().backends).toEqual({ openrouter: "encrypted", "github-copilot": "encrypted" });

    keyring.available = true;
    const third = storeFor(home, "auto", keyring);
    expect(third.store.backend).toBe("keyring");
    await third.store.update((c) => {
      c.openrouter = { ...c.openrouter!, label: "home" };
    });
    // Only the changed credential moves; the other stays sealed where it was.
    expect(third.store.read().backends).toEqual({ openrouter: "keyring", "github-copilot": "encrypted" });
  });

  test("an explicitly chosen keyring that does not answer is an error, not a silent fallback", async () => {
    const keyring = fakeKeyring();
    keyring.available = false;
    const { store } = storeFor(freshHome(), "keyring", keyring);
    await expect(store.update((c) => Object.assign(c, credentials()))).rejects.toThrow(
      "the keyring is not available (switched off), and AUTHCTL_STORE asks for it",
    );
  });

  test("plain-file secrets move to the better backend on the next write, with a notice", async () => {
    const home = freshHome();
    const keyring = fakeKeyring();
    await seed(home, "file", keyring);
    expect(fileText(home)).toContain(KEY);
    const { store, notices } = storeFor(home, "encrypted", keyring);
    expect(store.read().backends).toEqual({ openrouter: "file", "github-copilot": "file" });
    await store.update(() => undefined);
    expect(notices).toEqual([
      "moved openrouter's secret from the plain file to the encrypted file",
      "moved github-copilot's secret from the plain file to the encrypted file",
    ]);
    for (const secret of SECRETS) expect(fileText(home)).not.toContain(secret);
    expect(store.read().credentials).toEqual(credentials());
  });

  test("the session bus is DBUS_SESSION_BUS_ADDRESS, else the systemd user bus socket in XDG_RUNTIME_DIR", () => {
    const runtime = freshHome();
    mkdirSync(runtime, { recursive: true });
    expect(sessionBusAddress({ XDG_RUNTIME_DIR: runtime })).toBeUndefined();
    writeFileSync(join(runtime, "bus"), ""); // only its existence is checked; connecting is the reader's job
    expect(sessionBusAddress({ XDG_RUNTIME_DIR: runtime })).toBe(`unix:path=${runtime}/bus`);
    expect(
      sessionBusAddress({ XDG_RUNTIME_DIR: runtime, DBUS_SESSION_BUS_ADDRESS: "unix:abstract=/tmp/x" }),
    ).toBe("unix:abstract=/tmp/x");
    expect(
      createBunKeyring({ XDG_RUNTIME_DIR: runtime }, { platform: "linux" }).quickUnavailableReason(),
    ).toBeUndefined();
  });

  test("a real Bun keyring with no D-Bus session bus is unavailable at once, without calling it", async () => {
    const keyring = createBunKeyring({}, { platform: "linux" });
    expect(keyring.quickUnavailableReason()).toBe("no D-Bus session bus");
    const started = Date.now();
    expect(await keyring.probe()).toBe("no D-Bus session bus");
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe("keyring backend (in-memory Secret Service)", () => {
  test("an item the index lists is asked for as expected, so a fast reader that misses it asks its slow path", async () => {
    const home = freshHome();
    const keyring = fakeKeyring();
    await seed(home, "keyring", keyring);
    // The direct D-Bus reader searches by Bun's private schema name: a Bun that renames it stores
    // items that reader cannot find, while libsecret (the slow path) still can.
    const asked: Array<[string, boolean]> = [];
    const fastPathMisses: Keyring = {
      ...keyring,
      async get(id, options) {
        asked.push([id, Boolean(options?.expected)]);
        return options?.expected ? keyring.get(id) : null;
      },
    };
    const { store } = storeFor(home, "keyring", fastPathMisses);
    expect((await store.readSecrets("openrouter"))?.key).toBe(KEY);
    expect(asked).toEqual([["openrouter", true]]);
    // A write reads every keyring record (and its own writes back) the same way: nothing is lost.
    await store.update((c) => {
      c.openrouter = { ...c.openrouter!, label: "home" };
    });
    expect(await fullCredentials(home, keyring)).toEqual({
      ...credentials(),
      openrouter: { ...credentials().openrouter!, label: "home" },
    });
  });

  test("two stores (two AUTHCTL_HOMEs) never silently use, overwrite or delete each other's item", async () => {
    const keyring = fakeKeyring();
    const [homeA, homeB] = [freshHome(), freshHome()];
    const a = storeFor(homeA, "keyring", keyring);
    const b = storeFor(homeB, "keyring", keyring);
    const login = (store: typeof a.store, key: string) =>
      store.update((c) => {
        c.openrouter = { ...credentials().openrouter!, key };
      });
    await login(a.store, "sk-or-v1-store-a");
    expect(a.notices).toEqual([]);
    await login(b.store, "sk-or-v1-store-b");
    expect(b.notices).toEqual([
      `replaced the keyring item authctl/openrouter, which held the openrouter login of the authctl store at ${homeA} (it will ask to log in again)`,
    ]);

    // A does not hand out B's key as its own.
    const error = await a.store.readSecrets("openrouter").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthctlError);
    expect((error as AuthctlError).message).toBe(
      `the keyring item authctl/openrouter now holds the openrouter login of the authctl store at ${homeB}`,
    );
    expect((error as AuthctlError).hint).toStartWith("run 'authctl login openrouter' to log in here again");
    expect((await b.store.readSecrets("openrouter"))!.key).toBe("sk-or-v1-store-b");

    // A may change its other credentials, and log out of openrouter, without touching B's item.
    await a.store.update((c) => {
      c["github-copilot"] = credentials()["github-copilot"]!;
    });
    expect(a.store.read().backends.openrouter).toBe("keyring");
    await a.store.update((c) => {
      delete c.openrouter;
    });
    expect(fileText(homeA)).not.toContain("keyring_cleanup");
    expect((await b.store.readSecrets("openrouter"))!.key).toBe("sk-or-v1-store-b");

    // A migration cannot carry a record whose item is another store's.
    await login(a.store, "sk-or-v1-store-a2");
    expect((await b.store.migrate("encrypted").catch((e: Error) => e.message)) as string).toContain(
      "now holds the openrouter login of the authctl store at",
    );
  });

  test("an item that is not authctl's JSON (another program's) does not block a login, which replaces it", async () => {
    const keyring = fakeKeyring(new Map([["openrouter", "not json at all"]]));
    const home = freshHome();
    const { store } = storeFor(home, "keyring", keyring);
    await store.update((c) => {
      c.openrouter = credentials().openrouter!;
    });
    expect(JSON.parse(keyring.items.get("openrouter")!)).toEqual({
      key: KEY,
      authctl_home: home,
      authctl_meta: expect.stringMatching(/^sha256:/),
    });
  });

  test("an item in this store's keyring_cleanup that another store has taken over since is not deleted", async () => {
    const keyring = fakeKeyring();
    const [homeA, homeB] = [freshHome(), freshHome()];
    const a = storeFor(homeA, "keyring", keyring);
    await a.store.update((c) => Object.assign(c, credentials()));
    keyring.available = false;
    await a.store.update((c) => {
      delete c.openrouter;
    });
    expect(fileText(homeA)).toContain("keyring_cleanup");
    keyring.available = true;
    const b = storeFor(homeB, "keyring", keyring);
    await b.store.update((c) => {
      c.openrouter = { ...credentials().openrouter!, key: "sk-or-v1-store-b" };
    });
    // B cannot know that A no longer needs the item, so it says whose it was.
    expect(b.notices).toEqual([
      `replaced the keyring item authctl/openrouter, which held the openrouter login of the authctl store at ${homeA} (it will ask to log in again)`,
    ]);
    await a.store.update((c) => {
      c["github-copilot"] = { ...c["github-copilot"]!, account: "hubot" };
    });
    expect(fileText(homeA)).not.toContain("keyring_cleanup");
    expect((await b.store.readSecrets("openrouter"))!.key).toBe("sk-or-v1-store-b");
  });

  test("a read between a refresh's new keyring item and its new file waits for the writer instead of calling the record altered", async () => {
    // A writer sets the item (with the digest of the new record) before it writes the file. A
    // lock-free reader that read the file just before gets the old record with the new item: that
    // pair is the writer's work in progress, not an edit behind authctl's back (seen as `token`
    // failing with "altered behind authctl's back" while a parallel `token` refreshed).
    const keyring = fakeKeyring();
    const home = freshHome();
    await seed(home, "keyring", keyring);
    const reader = storeFor(home, "keyring", keyring).store;
    let during: Promise<StoredCredential | undefined> | undefined;
    const writer = storeFor(home, "keyring", keyring, {
      checkpoint: (step) => {
        if (step === "keyring-set:github-copilot") during ??= reader.readSecrets("github-copilot");
      },
    }).store;
    const renewed = "gho_renewed0123456789abcdefABCDEF";
    await writer.update((c) => {
      c["github-copilot"] = {
        ...c["github-copilot"]!,
        access_token: renewed,
        expires_at: 1_900_000_000_000,
        updated_at: 1_800_000_000_000,
      };
    });
    expect(during).toBeDefined();
    const seen = await during!;
    expect(seen!.access_token).toBe(renewed);
    expect(seen!.expires_at).toBe(1_900_000_000_000);
  });

  test("secrets go to one item per provider as JSON; the file keeps metadata and a marker; read() never calls the keyring", async () => {
    const home = freshHome();
    const keyring = fakeKeyring();
    const store = await seed(home, "keyring", keyring);
    const text = fileText(home);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    expect(text).toContain('secret_store = "keyring"');
    expect(text).toContain('host = "github.com"');
    expect(JSON.parse(keyring.items.get("openrouter")!)).toEqual({
      key: KEY,
      authctl_home: home,
      authctl_meta: expect.stringMatching(/^sha256:/),
    });
    expect(JSON.parse(keyring.items.get("github-copilot")!)).toEqual({
      access_token: ACCESS,
      refresh_token: REFRESH,
      "extra.copilot_token": COPILOT,
      authctl_home: home,
      authctl_meta: expect.stringMatching(/^sha256:/),
    });
    const calls = keyring.calls;
    const snapshot = store.read();
    expect(keyring.calls).toBe(calls);
    expect(snapshot.credentials.openrouter!.key).toBeUndefined();
    expect(snapshot.credentials.openrouter!.label).toBe("work");
    expect(await store.readSecrets("github-copilot")).toEqual(credentials()["github-copilot"]);
  });

  test("logout removes the keyring item; an item that cannot be deleted now is deleted by the next write", async () => {
    const home = freshHome();
    const keyring = fakeKeyring();
    const store = await seed(home, "keyring", keyring);
    await store.update((c) => {
      delete c.openrouter;
    });
    expect(keyring.items.has("openrouter")).toBe(false);
    expect(fileText(home)).not.toContain("keyring_cleanup");

    keyring.available = false;
    const offline = storeFor(home, "encrypted", keyring).store;
    await offline.update((c) => {
      delete c["github-copilot"];
    });
    expect(fileText(home)).toContain('keyring_cleanup = [ "github-copilot" ]');
    keyring.available = true;
    await offline.update(() => undefined);
    expect(keyring.items.size).toBe(0);
    expect(fileText(home)).not.toContain("keyring_cleanup");
  });
});

describe("migration", () => {
  test("file → encrypted → keyring → file round-trips every credential byte for byte", async () => {
    const home = freshHome();
    const keyring = fakeKeyring();
    await seed(home, "file", keyring);
    const original = fileText(home);
    const { store } = storeFor(home, "file", keyring);
    expect(await store.migrate("encrypted")).toHaveLength(2);
    for (const secret of SECRETS) expect(fileText(home)).not.toContain(secret);
    expect(await fullCredentials(home, keyring)).toEqual(credentials());
    expect(await store.migrate("keyring")).toEqual([
      { id: "openrouter", from: "encrypted", to: "keyring" },
      { id: "github-copilot", from: "encrypted", to: "keyring" },
    ]);
    expect(store.read().backends).toEqual({ openrouter: "keyring", "github-copilot": "keyring" });
    expect(await fullCredentials(home, keyring)).toEqual(credentials());
    await store.migrate("file");
    expect(keyring.items.size).toBe(0);
    expect(fileText(home)).toBe(original);
  });

  test("a keyring that does not return what was stored stops the migration: nothing moved, every secret still in the file", async () => {
    const home = freshHome();
    const keyring = fakeKeyring();
    await seed(home, "file", keyring);
    const original = fileText(home);
    // A Secret Service that keeps the item but hands back other bytes (a mangled encoding).
    const put = keyring.put;
    keyring.put = (id, value) => put(id, value.replace(/}$/, ', "mangled": true}'));
    const { store } = storeFor(home, "file", keyring);
    await expect(store.migrate("keyring")).rejects.toThrow(
      "the keyring did not return what was stored for openrouter; nothing was moved",
    );
    expect(fileText(home)).toBe(original);
    expect(await fullCredentials(home, keyring)).toEqual(credentials());
  });

  test("keyring → file interrupted once the file is written, then back to the keyring: the old cleanup list does not delete the new items", async () => {
    const home = freshHome();
    const keyring = fakeKeyring();
    await seed(home, "keyring", keyring);
    const killed = storeFor(home, "file", keyring, {
      checkpoint: (step) => {
        if (step === "file-written") throw new Error("killed");
      },
    }).store;
    await expect(killed.migrate("file")).rejects.toThrow("killed");
    // The file holds every secret and still lists the keyring items to delete.
    expect(fileText(home)).toContain("keyring_cleanup");
    const { store } = storeFor(home, "file", keyring);
    await store.migrate("keyring");
    expect(store.read().backends).toEqual({ openrouter: "keyring", "github-copilot": "keyring" });
    expect([...keyring.items.keys()].sort()).toEqual(["github-copilot", "openrouter"]);
    expect(await fullCredentials(home, keyring)).toEqual(credentials());
    expect(fileText(home)).not.toContain("keyring_cleanup");
  });

  test("keyring → file: a file that does not read back as written (changed under the write) keeps the keyring items", async () => {
    const home = freshHome();
    const keyring = fakeKeyring();
    await seed(home, "keyring", keyring);
    const items = new Map(keyring.items);
    const { store } = storeFor(home, "file", keyring, {
      // Between the write and its read-back, the file on disk loses a byte of a key (a disk or a
      // program that changed it): the keyring copy is then the only good one.
      checkpoint: (step) => {
        if (step === "file-written")
          writeFileSync(join(home, "credentials.toml"), fileText(home).replace(KEY, KEY.slice(0, -1)));
      },
    });
    await expect(store.migrate("file")).rejects.toThrow(
      `openrouter did not read back from ${join(home, "credentials.toml")} as written; its keyring item is kept`,
    );
    expect(keyring.items).toEqual(items);
    // Kept for good: the file points at the keyring again and lists nothing to delete, so the next
    // write (any login or refresh) does not delete what is now the only good copy.
    expect(fileText(home)).not.toContain("keyring_cleanup");
    await storeFor(home, "file", keyring).store.update(() => {});
    expect(keyring.items).toEqual(items);
    expect(await fullCredentials(home, keyring)).toEqual(credentials());
  });

  const STEPS: Array<[BackendName, BackendName]> = [
    ["file", "encrypted"],
    ["encrypted", "keyring"],
    ["keyring", "file"],
    ["keyring", "encrypted"],
    ["file", "keyring"],
  ];
  for (const [from, to] of STEPS) {
    test(`${from} → ${to} interrupted after every durable step loses nothing, and finishes when run again`, async () => {
      const probe = freshHome();
      const keyring = fakeKeyring();
      await seed(probe, from, keyring);
      const steps: string[] = [];
      await storeFor(probe, "file", keyring, { checkpoint: (s) => void steps.push(s) }).store.migrate(to);
      expect(steps.length).toBeGreaterThan(0);
      for (let stop = 0; stop < steps.length; stop++) {
        const home = freshHome();
        const items = fakeKeyring();
        await seed(home, from, items);
        let seen = 0;
        const interrupted = storeFor(home, "file", items, {
          checkpoint: () => {
            if (seen++ === stop) throw new Error("killed");
          },
        }).store;
        await expect(interrupted.migrate(to)).rejects.toThrow("killed");
        expect(await fullCredentials(home, items)).toEqual(credentials());
        await storeFor(home, "file", items).store.migrate(to);
        expect(await fullCredentials(home, items)).toEqual(credentials());
        expect(storeFor(home, "file", items).store.read().backends).toEqual({
          openrouter: to,
          "github-copilot": to,
        });
        if (to !== "keyring") expect(items.items.size).toBe(0);
      }
    });
  }
});
