/**
 * Issue 13.2: someone who can edit credentials.toml of an encrypted store (a backup, a synced
 * copy, a shared file) but has no key must not be able to steer the decrypted secrets. Each attack
 * is made on a real store and run through the binary against a listener on 127.0.0.1 that records
 * every request: the secret must never arrive there.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createBackendStore } from "../../src/store/backend-store.ts";
import type { Keyring } from "../../src/store/keyring.ts";
import type { Credentials } from "../../src/store/types.ts";
import { createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";
import {
  V1_KEY_FILE_BASE64,
  V1_KEY_FILE_STORE,
  V1_PASSPHRASE,
  V1_PASSPHRASE_STORE,
  V1_SECRETS,
} from "../unit/fixtures/store-v1.ts";

const KEY = secret("sk-or-v1-integrity0123456789abcdef0123456789abcdef0123456789abcd");
const OLD_KEY = secret("sk-or-v1-previous0123456789abcdef0123456789abcdef0123456789abcd");
const ACCESS = secret("AT-integrity-0123456789abcdef");
const REFRESH = secret("RT-integrity-0123456789abcdef");
const GITHUB = secret("gho_integrity0123456789abcdefABCDEF");
const ATTACKER_KEY = "sk-or-v1-attacker0123456789abcdef0123456789abcdef0123456789abcd";
for (const value of Object.values(V1_SECRETS)) secret(value);

const ENCRYPTED = { AUTHCTL_STORE: "encrypted" };
const noKeyring: Keyring = {
  quickUnavailableReason: () => "none in tests",
  probe: async () => "none in tests",
  get: async () => null,
  put: async () => {},
  remove: async () => false,
};

let box: Sandbox;
let hits: string[];
let server: ReturnType<typeof Bun.serve>;
let origin: string;
beforeAll(async () => {
  await ensureBinary();
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      hits.push(
        `${request.method} ${new URL(request.url).pathname} ${request.headers.get("authorization") ?? ""} ${await request.text()}`,
      );
      return Response.json({
        access_token: "stolen",
        token_type: "bearer",
        expires_in: 3600,
        token: "stolen",
        expires_at: 2_000_000_000,
      });
    },
  });
  origin = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(true));
beforeEach(() => {
  box = createSandbox();
  hits = [];
  box.writeConfig(`[providers.mycorp]\nissuer = "https://sso.mycorp.example"\nclient_id = "authctl"\n`);
});
afterEach(() => box.cleanup());

const storePath = () => join(box.home, "credentials.toml");
const storeText = () => readFileSync(storePath(), "utf8");
const writeStore = (text: string) => writeFileSync(storePath(), text);

/** Seeds the store as a login would: mycorp's tokens expire in an hour unless told otherwise. */
async function seed(change: (credentials: Credentials) => void = () => {}, passphrase?: string) {
  const store = createBackendStore(box.home, {
    choice: { backend: "encrypted", from: "AUTHCTL_STORE" },
    vaults: { keyring: noKeyring },
    notify: () => {},
    passphrase,
  });
  const now = Date.now();
  await store.update((c) => {
    c.openrouter = { method: "key", type: "api_key", key: KEY, created_at: now, updated_at: now };
    c.mycorp = {
      method: "oauth",
      type: "oauth",
      access_token: ACCESS,
      refresh_token: REFRESH,
      expires_at: now + 3_600_000,
      extra: { token_url: "https://sso.mycorp.example/token" },
      created_at: now,
      updated_at: now,
    };
    c["github-copilot"] = {
      method: "github",
      type: "oauth",
      access_token: GITHUB,
      created_at: now,
      updated_at: now,
    };
    change(c);
  });
}

/** Adds `line` to the table `[table]` of the store (creating the table at the end when missing). */
function addLine(text: string, table: string, line: string): string {
  const header = `[${table}]\n`;
  if (text.includes(header)) return text.replace(header, `${header}${line}\n`);
  return `${text}\n${header}${line}\n`;
}

describe("an encrypted store edited without its key", () => {
  test("a plaintext revocation_url added to a record does not receive the refresh token at logout", async () => {
    await seed();
    writeStore(addLine(storeText(), "mycorp.extra", `revocation_url = "${origin}/revoke"`));
    const logout = await box.run(["logout", "mycorp"], { env: ENCRYPTED });
    expect(hits).toEqual([]);
    expect(logout.stderr).toContain("the record of mycorp does not authenticate");
    expect(logout.stderr).not.toContain(REFRESH);
  }, 30_000);

  test("a token_url replaced by another one is not used at refresh", async () => {
    await seed((c) => {
      c.mycorp!.expires_at = Date.now() - 1_000;
    });
    writeStore(storeText().replace(/token_url = "[^"]+"/, `token_url = "${origin}/token"`));
    const token = await box.run(["token", "mycorp"], { env: ENCRYPTED });
    expect(hits).toEqual([]);
    expect(token.code).toBe(1);
    expect(token.stdout).toBe("");
    expect(token.stderr).toContain("the record of mycorp does not authenticate");
  }, 30_000);

  test("a plaintext key in place of the sealed one is refused, not handed out", async () => {
    await seed();
    writeStore(storeText().replace(/\nkey = "enc:v1:[^"]+"/, `\nkey = "${ATTACKER_KEY}"`));
    const token = await box.run(["token", "openrouter"], { env: ENCRYPTED });
    expect(token.code).toBe(1);
    expect(token.stdout).toBe("");
    expect(token.stderr).toContain("the record of openrouter does not authenticate");
    // The other credentials are not affected.
    expect((await box.run(["token", "mycorp"], { env: ENCRYPTED })).stdout).toBe(`${ACCESS}\n`);
  }, 30_000);

  test("a whole plaintext record put in place of a sealed one is refused", async () => {
    await seed();
    const now = Date.now();
    writeStore(
      storeText().replace(
        /\[openrouter\][^[]+/,
        `[openrouter]\nmethod = "key"\ntype = "api_key"\nkey = "${ATTACKER_KEY}"\ncreated_at = ${now}\nupdated_at = ${now}\n\n`,
      ),
    );
    const token = await box.run(["token", "openrouter"], { env: ENCRYPTED });
    expect(token.stdout).toBe("");
    expect(token.stderr).toContain("the record of openrouter is not authenticated");
  }, 30_000);

  test("a Copilot host that smuggles another host in as user info does not get the GitHub token", async () => {
    await seed();
    writeStore(addLine(storeText(), "github-copilot.extra", `host = "x@127.0.0.1:${server.port}"`));
    const token = await box.run(["token", "github-copilot"], { env: ENCRYPTED });
    expect(hits).toEqual([]);
    expect(token.stdout).toBe("");
    expect(token.code).toBe(1);
  }, 30_000);

  test("an older sealed value, or an older whole record, of the same provider is refused (rollback)", async () => {
    await seed((c) => {
      c.openrouter!.key = OLD_KEY;
    });
    const old = storeText();
    const oldKey = /\nkey = "(enc:v1:[^"]+)"/.exec(old)![1]!;
    const oldRecord = /\[openrouter\][^[]+/.exec(old)![0];
    await seed();
    expect((await box.run(["token", "openrouter"], { env: ENCRYPTED })).stdout).toBe(`${KEY}\n`);
    const current = storeText();
    for (const rolledBack of [
      current.replace(/\nkey = "enc:v1:[^"]+"/, `\nkey = "${oldKey}"`),
      current.replace(/\[openrouter\][^[]+/, oldRecord),
    ]) {
      writeStore(rolledBack);
      const token = await box.run(["token", "openrouter"], { env: ENCRYPTED });
      expect(token.stdout).toBe("");
      expect(token.stderr).toContain("the record of openrouter does not authenticate");
    }
  }, 30_000);

  test("turning the file back into the old format (version 1, no MACs) does not open with the key", async () => {
    await seed();
    writeStore(
      storeText()
        .replace("version = 2", "version = 1")
        .replace(/\nmac = "[^"]+"/g, "")
        .replace(/\ngeneration = \d+/, ""),
    );
    const token = await box.run(["token", "openrouter"], { env: ENCRYPTED });
    expect(token.stdout).toBe("");
    expect(token.stderr).toContain("(wrong key)");
  }, 30_000);

  test("token_url is metadata, not a secret: written plain (and authenticated), while the Copilot token stays sealed", async () => {
    await seed((c) => {
      c["github-copilot"]!.extra = {
        copilot_token: secret("tid=integrity0123456789"),
        copilot_expires_at: "1900000000000",
      };
    });
    const text = storeText();
    expect(text).toContain('token_url = "https://sso.mycorp.example/token"');
    expect(text).toMatch(/copilot_token = "enc:v1:/);
    expect(text).toContain('copilot_expires_at = "1900000000000"');
    expect(text).toMatch(/\nversion = 2\n/);
    expect(text.match(/\nmac = "hmac-sha256:/g)?.length).toBe(3);
  }, 30_000);
});

describe("hosts and URLs from any store are parsed, never concatenated", () => {
  test("a plain-file store with a smuggled Copilot host or a non-https revocation_url is refused for that credential", async () => {
    const now = Date.now();
    writeStore(
      [
        "version = 1",
        "[github-copilot]",
        'method = "github"',
        'type = "oauth"',
        `access_token = "${GITHUB}"`,
        `created_at = ${now}`,
        `updated_at = ${now}`,
        "[github-copilot.extra]",
        `host = "x@127.0.0.1:${server.port}"`,
        "[mycorp]",
        'method = "oauth"',
        'type = "oauth"',
        `access_token = "${ACCESS}"`,
        `refresh_token = "${REFRESH}"`,
        `created_at = ${now}`,
        `updated_at = ${now}`,
        "[mycorp.extra]",
        'revocation_url = "http://sso.mycorp.example/revoke"',
        "",
      ].join("\n"),
    );
    const token = await box.run(["token", "github-copilot"]);
    expect(hits).toEqual([]);
    expect(token.stdout).toBe("");
    expect(token.stderr).toContain(
      "the record of github-copilot has an unusable extra.host (it is not a host name)",
    );
    const logout = await box.run(["token", "mycorp"]);
    expect(logout.stderr).toContain(
      "the record of mycorp has an unusable extra.revocation_url (it is neither https nor http on loopback)",
    );
  }, 30_000);
});

describe("stores written before record MACs (format 1)", () => {
  function writeV1(text: string, withKey: boolean) {
    box.writeConfig(`[providers.mycorp]\nissuer = "https://sso.example"\nclient_id = "authctl"\n`);
    // The fixture's tokens expired an hour after it was made: not what these tests are about.
    writeStore(text.replace(/expires_at = \d+/g, `expires_at = ${Date.now() + 86_400_000}`));
    if (withKey)
      writeFileSync(join(box.home, "key"), Buffer.from(V1_KEY_FILE_BASE64, "base64"), { mode: 0o600 });
  }

  test("a key-file store opens, its unverifiable host is not used, and the next write makes it format 2", async () => {
    writeV1(V1_KEY_FILE_STORE, true);
    const token = await box.run(["token", "openrouter"], { env: ENCRYPTED });
    expectOk(token);
    expect(token.stdout).toBe(`${V1_SECRETS.openrouter}\n`);
    expect((await box.run(["token", "mycorp"], { env: ENCRYPTED })).stdout).toBe(`${V1_SECRETS.access}\n`);
    // Any write migrates: logging out of one provider.
    const logout = await box.run(["logout", "github-copilot"], { env: ENCRYPTED });
    expectOk(logout);
    const text = storeText();
    expect(text).toMatch(/\nversion = 2\n/);
    expect(text).toContain('token_url = "https://sso.example/token"');
    // Same origin as the (sealed, so authentic) token endpoint: kept.
    expect(text).toContain('revocation_url = "https://sso.example/revoke"');
    expect((await box.run(["token", "openrouter"], { env: ENCRYPTED })).stdout).toBe(
      `${V1_SECRETS.openrouter}\n`,
    );
    expect((await box.run(["token", "mycorp"], { env: ENCRYPTED })).stdout).toBe(`${V1_SECRETS.access}\n`);
  }, 30_000);

  test("a plaintext revocation_url, host or api_url in an old-format file is not trusted, and not carried into the new format", async () => {
    const injected = V1_KEY_FILE_STORE.replace(
      'revocation_url = "https://sso.example/revoke"',
      `revocation_url = "${origin}/revoke"`,
    );
    writeV1(`${injected}\n[openrouter.extra]\napi_url = "https://evil.example/v1"\n`, true);
    const logout = await box.run(["logout", "mycorp"], { env: ENCRYPTED });
    expectOk(logout);
    expect(hits).toEqual([]);
    expect(logout.stderr).toContain(
      "mycorp: the revocation endpoint recorded before this version of authctl cannot be verified",
    );
    expect(logout.stderr).toContain(
      "openrouter: the api_url recorded before this version of authctl cannot be verified",
    );
    expect(storeText()).not.toContain("evil.example");
    expect(storeText()).not.toContain("ghe.example.com");
    expect(storeText()).not.toContain(origin);
  }, 30_000);

  test("a plaintext value where the old format sealed one is refused", async () => {
    writeV1(
      V1_KEY_FILE_STORE.replace(/token_url = "enc:v1:[^"]+"/, `token_url = "${origin}/token"`).replace(
        /\nkey = "enc:v1:[^"]+"/,
        `\nkey = "${ATTACKER_KEY}"`,
      ),
      true,
    );
    const token = await box.run(["token", "openrouter"], { env: ENCRYPTED });
    expect(token.stdout).toBe("");
    expect(token.stderr).toContain("the record of openrouter holds key in clear where this store seals it");
    const mycorp = await box.run(["token", "mycorp"], { env: ENCRYPTED });
    expect(mycorp.stderr).toContain(
      "the record of mycorp holds extra.token_url in clear where this store seals it",
    );
    expect(hits).toEqual([]);
  }, 30_000);

  test("a passphrase store with the old scrypt parameters opens, and its next write records N=2^17", async () => {
    writeV1(V1_PASSPHRASE_STORE, false);
    const env = { ...ENCRYPTED, AUTHCTL_PASSPHRASE: V1_PASSPHRASE };
    expect((await box.run(["token", "openrouter"], { env })).stdout).toBe(`${V1_SECRETS.openrouter}\n`);
    expect(storeText()).not.toContain("kdf_n");
    expectOk(await box.run(["logout", "github-copilot"], { env }));
    const text = storeText();
    expect(text).toContain("kdf_n = 131072");
    expect(text).toContain("kdf_r = 8");
    expect(text).toContain("kdf_p = 1");
    expect((await box.run(["token", "openrouter"], { env })).stdout).toBe(`${V1_SECRETS.openrouter}\n`);
    expect((await box.run(["token", "mycorp"], { env })).stdout).toBe(`${V1_SECRETS.access}\n`);
  }, 60_000);
});
