import { afterEach, describe, expect, test } from "bun:test";
import * as realCrypto from "node:crypto";
import * as realFs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openAesGcm, openAheadAesGcm, sealAesGcm } from "../../src/store/_aead.ts";
import { createBackendStore } from "../../src/store/backend-store.ts";
import type { StoredCredential } from "../../src/store/types.ts";

// `env`, `token` and `exec` on the encrypted store read the key file with Bun's file API and open
// the sealed values with crypto.subtle ahead of the synchronous read (store/_aead.ts,
// backend-store.ts readQuickly): node:fs and node:crypto cost a compiled binary about 5 and 8 MiB
// of memory (issue 18, scripts/bench.ts). src/ requires both on first use, and looks each function
// up on the module object when it calls it: wrapping every function of those objects for the
// length of one call counts what it used of them (everything passes through).
async function nodeCallsDuring<T>(run: () => Promise<T>): Promise<{ result: T; calls: string[] }> {
  const calls: string[] = [];
  const restore: Array<() => void> = [];
  for (const name of ["node:crypto", "node:fs"]) {
    const module = require(name) as Record<string, unknown>;
    for (const [key, value] of Object.entries(module)) {
      if (typeof value !== "function" || /^[A-Z]/.test(key)) continue;
      const fn = value as (...args: unknown[]) => unknown;
      module[key] = function (this: unknown, ...args: unknown[]) {
        calls.push(`${name} ${key}`);
        return fn.apply(this, args);
      };
      restore.push(() => {
        module[key] = fn;
      });
    }
  }
  try {
    return { result: await run(), calls };
  } finally {
    for (const undo of restore) undo();
  }
}

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) realFs.rmSync(dir, { recursive: true, force: true });
});

const KEY = "sk-or-v1-quick0123456789abcdef0123456789abcdef";
const ACCESS = "gho_quick0123456789abcdefABCDEF";
const REFRESH = "ghr_quick0123456789abcdefABCDEF";
const COPILOT = "tid=quick0123456789;exp=1";
const credentials = (): Record<string, StoredCredential> => ({
  openrouter: { method: "key", type: "api_key", key: KEY, created_at: 1, updated_at: 1 },
  "github-copilot": {
    method: "device",
    type: "oauth",
    access_token: ACCESS,
    refresh_token: REFRESH,
    expires_at: 1_800_000_000_000,
    account: "octocat",
    extra: { host: "github.com", copilot_token: COPILOT },
    created_at: 1,
    updated_at: 2,
  },
});

const storeIn = (home: string, passphrase?: string) =>
  createBackendStore(home, {
    choice: { backend: "encrypted", from: "AUTHCTL_STORE" },
    notify: () => {},
    passphrase,
  });

async function sealedHome(passphrase?: string): Promise<string> {
  const dir = realFs.mkdtempSync(join(tmpdir(), "authctl-quick-"));
  scratch.push(dir);
  const home = join(dir, "home");
  await storeIn(home, passphrase).update((c) => Object.assign(c, credentials()));
  return home;
}

describe("the quick read of the encrypted store", () => {
  test("opens every value as the full read does, and calls neither node:crypto nor node:fs", async () => {
    const home = await sealedHome();
    // A store object of its own: the one that wrote keeps its key.
    const { result: quick, calls } = await nodeCallsDuring(() => storeIn(home).readQuickly!());
    expect(calls).toEqual([]);
    expect(quick.credentials).toEqual(credentials());
    const full = storeIn(home).read();
    expect(quick.credentials).toEqual(full.credentials);
    expect(quick.backends).toEqual(full.backends);
  });

  test("a record altered in the file is damaged alike in both reads", async () => {
    const home = await sealedHome();
    const path = join(home, "credentials.toml");
    const text = realFs.readFileSync(path, "utf8");
    const access = /access_token = "(enc:v1:[^"]+)"/.exec(text)![1]!;
    const refresh = /refresh_token = "(enc:v1:[^"]+)"/.exec(text)![1]!;
    realFs.writeFileSync(path, text.replace(access, "@").replace(refresh, access).replace("@", refresh));
    const quick = await storeIn(home).readQuickly!();
    const full = storeIn(home).read();
    expect(quick.damaged?.["github-copilot"]?.message).toBe(full.damaged?.["github-copilot"]?.message);
    expect(quick.damaged?.["github-copilot"]?.message).toContain("does not authenticate");
    expect(quick.credentials.openrouter!.key).toBe(KEY);
  });

  test("a wrong key file is the same error; a key file others may read is tightened with the same warning", async () => {
    const home = await sealedHome();
    const keyPath = join(home, "key");
    const key = realFs.readFileSync(keyPath);
    realFs.writeFileSync(keyPath, Buffer.alloc(32, 7));
    const wrong = `key file ${keyPath} does not open credentials store ${join(home, "credentials.toml")} (wrong key)`;
    expect(() => storeIn(home).read()).toThrow(wrong);
    await expect(storeIn(home).readQuickly!()).rejects.toThrow(wrong);
    realFs.writeFileSync(keyPath, key);
    realFs.chmodSync(keyPath, 0o644);
    const notices: string[] = [];
    const quick = await createBackendStore(home, {
      choice: { backend: "encrypted", from: "AUTHCTL_STORE" },
      notify: (m) => notices.push(m),
    }).readQuickly!();
    expect(quick.credentials).toEqual(credentials());
    expect(notices).toEqual([
      expect.stringContaining(`key file ${keyPath} was open to other users (mode 0644)`),
    ]);
    expect(realFs.statSync(keyPath).mode & 0o777).toBe(0o600);
  });

  test("a store sealed with a passphrase reads the same (through node:crypto's scrypt)", async () => {
    // Three scrypt derivations of 128 MiB each (the seal, the read, the wrong passphrase).
    const home = await sealedHome("correct horse battery");
    const quick = await storeIn(home, "correct horse battery").readQuickly!();
    expect(quick.credentials).toEqual(credentials());
    await expect(storeIn(home, "wrong passphrase!").readQuickly!()).rejects.toThrow("wrong passphrase");
    // The full read of the same store through the wrapped modules: the counting sees node:crypto.
    const { calls } = await nodeCallsDuring(async () => storeIn(home, "correct horse battery").read());
    expect(calls).toContain("node:crypto scryptSync");
  }, 60_000);
});

describe("AES-GCM opened ahead with crypto.subtle", () => {
  test("answers exactly as node:crypto does, for good, altered, misplaced and malformed values", async () => {
    const key = Buffer.from(realCrypto.randomBytes(32));
    const other = Buffer.from(realCrypto.randomBytes(32));
    const aad = Buffer.from("authctl:v1:openrouter:key");
    const good = sealAesGcm(key, "sk-secret ✓", aad);
    const raw = Buffer.from(good.slice("enc:v1:".length), "base64");
    const flip = (at: number) => {
      const copy = Buffer.from(raw);
      copy[at]! ^= 1;
      return `enc:v1:${copy.toString("base64")}`;
    };
    const cases = [
      { sealed: good, additional: aad },
      { sealed: good, additional: Buffer.from("authctl:v1:openrouter:refresh_token") },
      { sealed: flip(0), additional: aad },
      { sealed: flip(14), additional: aad },
      { sealed: flip(raw.length - 1), additional: aad },
      { sealed: sealAesGcm(other, "another key", aad), additional: aad },
      { sealed: sealAesGcm(key, "", aad), additional: aad },
      { sealed: "enc:v1:AAAA", additional: aad },
      { sealed: "plain text", additional: aad },
    ];
    // Copies of the key: openAesGcm answers from what was opened ahead only for that very Buffer.
    const ahead = Buffer.from(key);
    await openAheadAesGcm(ahead, cases);
    for (const { sealed, additional } of cases)
      expect(openAesGcm(ahead, sealed, additional)).toBe(openAesGcm(Buffer.from(key), sealed, additional));
    expect(openAesGcm(ahead, good, aad)).toBe("sk-secret ✓");
    expect(openAesGcm(ahead, cases[6]!.sealed, aad)).toBe("");
  });
});
