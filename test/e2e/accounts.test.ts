/**
 * Named accounts (issue 20): `<provider>@<account>` wherever a provider id is accepted, a default
 * per provider, `switch`, per-account logout, old stores read as the account `default`, and every
 * backend keeping accounts apart.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";
import {
  lookupWithSecretTool,
  missingSecretServicePrograms,
  type SecretService,
  startSecretService,
} from "../helpers/secret-service.ts";

const PERSONAL = secret("sk-or-v1-personal0123456789abcdef0123456789abcdef0123456789abcdef01");
const WORK = secret("sk-or-v1-worktest0123456789abcdef0123456789abcdef0123456789abcdef01");
const BETA = secret("sk-or-v1-betatest0123456789abcdef0123456789abcdef0123456789abcdef01");
const ANT = secret("sk-ant-api03-accounts0123456789abcdef0123456789abcdef0123456789");
/** The keys in test/e2e/fixtures/store-before-accounts, written by authctl before accounts existed. */
const OLD_OR = secret("sk-or-v1-oldstore0123456789abcdef0123456789abcdef0123456789abcdef");
const OLD_ANT = secret("sk-ant-api03-oldstore0123456789abcdef0123456789abcdef0123456789");
const FIXTURES = join(import.meta.dir, "fixtures", "store-before-accounts");

let box: Sandbox;
beforeAll(() => ensureBinary());
beforeEach(() => {
  box = createSandbox();
});
afterEach(() => box.cleanup());

const storeText = () => readFileSync(join(box.home, "credentials.toml"), "utf8");
async function login(ref: string, key: string, env: Record<string, string | undefined> = {}) {
  const result = await box.run(["login", ref, "--with-key", "--no-verify"], { stdin: key, env });
  expectOk(result);
  return result;
}
async function token(ref: string, env: Record<string, string | undefined> = {}) {
  const result = await box.run(["token", ref], { env });
  expectOk(result);
  return result.stdout.trim();
}
interface AccountJson {
  id: string;
  provider: string;
  account: string;
  default: boolean;
}
async function statusJson(env: Record<string, string | undefined> = {}): Promise<AccountJson[]> {
  const result = await box.run(["status", "--json"], { env });
  return JSON.parse(result.stdout).providers.map(({ id, provider, account, default: d }: AccountJson) => ({
    id,
    provider,
    account,
    default: d,
  }));
}

describe("two accounts of one provider", () => {
  test("the first login is the default; a named second one does not take over; env, token and exec per account", async () => {
    await login("openrouter", PERSONAL);
    const second = await login("openrouter@work", WORK);
    expect(second.stderr).toContain("logged in to OpenRouter (account work)");
    expect(storeText()).toContain('["openrouter@work"]');

    expect(await token("openrouter")).toBe(PERSONAL);
    expect(await token("openrouter@default")).toBe(PERSONAL);
    expect(await token("openrouter@work")).toBe(WORK);
    expect((await box.run(["env", "openrouter@work"])).stdout).toBe(`export OPENROUTER_API_KEY='${WORK}'\n`);
    expect((await box.run(["env", "openrouter"])).stdout).toBe(`export OPENROUTER_API_KEY='${PERSONAL}'\n`);
    // Without a provider: each provider's default account, once.
    expect((await box.run(["env"])).stdout).toBe(`export OPENROUTER_API_KEY='${PERSONAL}'\n`);
    const exec = await box.run([
      "exec",
      "-p",
      "openrouter@work",
      "--",
      "sh",
      "-c",
      'echo "$OPENROUTER_API_KEY"',
    ]);
    expectOk(exec);
    expect(exec.stdout.trim()).toBe(WORK);
    const execDefault = await box.run(["exec", "--", "sh", "-c", 'echo "$OPENROUTER_API_KEY"']);
    expect(execDefault.stdout.trim()).toBe(PERSONAL);
  });

  test("a first login that names its account makes that account the default", async () => {
    await login("openrouter@work", WORK);
    expect(await token("openrouter")).toBe(WORK);
    expect(await statusJson()).toEqual([
      { id: "openrouter@work", provider: "openrouter", account: "work", default: true },
    ]);
    // A later bare login is the default account's: it replaces the work key.
    await login("openrouter", BETA);
    expect(await token("openrouter@work")).toBe(BETA);
    expect(storeText()).not.toContain("[openrouter]");
  });

  test("switch makes another account the default and says which it replaced", async () => {
    await login("openrouter", PERSONAL);
    await login("openrouter@work", WORK);
    const switched = await box.run(["switch", "openrouter@work"]);
    expectOk(switched);
    expect(switched.stderr).toContain("openrouter now means openrouter@work; it replaces openrouter@default");
    expect(await token("openrouter")).toBe(WORK);
    expect(await token("openrouter@default")).toBe(PERSONAL);
    const again = await box.run(["switch", "openrouter@work"]);
    expectOk(again);
    expect(again.stderr).toContain("openrouter@work is already the default openrouter account");
    expectOk(await box.run(["switch", "openrouter@default"]));
    expect(await token("openrouter")).toBe(PERSONAL);

    const before = storeText();
    const unknown = await box.run(["switch", "openrouter@nope"]);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain("openrouter@nope is not logged in (openrouter accounts: default, work)");
    const bare = await box.run(["switch", "openrouter"]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("switch needs an account");
    expect(storeText()).toBe(before);
  });

  test("status lists every account and marks each provider's default (text and --json)", async () => {
    await login("openrouter", PERSONAL);
    await login("openrouter@work", WORK);
    await login("anthropic@team", ANT);
    const text = await box.run(["status"]);
    expectOk(text);
    expect(text.stdout).toContain("Anthropic (anthropic@team) — account team, the default");
    expect(text.stdout).toContain("OpenRouter (openrouter) — account default, the default");
    expect(text.stdout).toContain("OpenRouter (openrouter@work) — account work\n");
    expect(await statusJson()).toEqual([
      { id: "anthropic@team", provider: "anthropic", account: "team", default: true },
      { id: "openrouter", provider: "openrouter", account: "default", default: true },
      { id: "openrouter@work", provider: "openrouter", account: "work", default: false },
    ]);
    const one = JSON.parse((await box.run(["status", "openrouter@work", "--json"])).stdout);
    expect(one.providers).toHaveLength(1);
    expect(one.providers[0]).toMatchObject({ id: "openrouter@work", account: "work", default: false });
  });

  test("logout p@a removes that account only; logging out the default makes the first remaining one by name the default, and says so", async () => {
    await login("openrouter", PERSONAL);
    await login("openrouter@zeta", WORK);
    await login("openrouter@beta", BETA);
    await login("anthropic", ANT);

    const one = await box.run(["logout", "openrouter@zeta"]);
    expectOk(one);
    expect(one.stderr).toContain("logged out of OpenRouter (account zeta)");
    expect(await token("openrouter")).toBe(PERSONAL);
    expect((await box.run(["token", "openrouter@zeta"])).code).toBe(4);

    const bare = await box.run(["logout", "openrouter"]);
    expectOk(bare);
    expect(bare.stderr).toContain("logged out of OpenRouter (removed");
    expect(bare.stderr).toContain(
      "openrouter@beta is now the default openrouter account (it was openrouter@default)",
    );
    expect(await token("openrouter")).toBe(BETA);

    await login("openrouter@work", WORK);
    expect(await token("openrouter")).toBe(BETA); // a new account never takes over
    const all = await box.run(["logout", "openrouter", "--all"]);
    expectOk(all);
    expect(storeText()).not.toContain("openrouter");
    expect(await token("anthropic")).toBe(ANT); // another provider's login stays
  });

  test("exec or env with two accounts of one provider is a usage error (exit 2), and nothing runs", async () => {
    await login("openrouter", PERSONAL);
    await login("openrouter@work", WORK);
    const marker = join(box.root, "ran");
    const exec = await box.run(["exec", "-p", "openrouter", "-p", "openrouter@work", "--", "touch", marker]);
    expect(exec.code).toBe(2);
    expect(exec.stderr).toContain("openrouter and openrouter@work are two accounts of openrouter");
    expect(existsSync(marker)).toBe(false);
    const env = await box.run(["env", "openrouter@default", "openrouter@work"]);
    expect(env.code).toBe(2);
    expect(env.stdout).toBe("");
    // The same account under two names is one account.
    const same = await box.run(["env", "openrouter", "openrouter@default"]);
    expectOk(same);
    expect(same.stdout).toBe(`export OPENROUTER_API_KEY='${PERSONAL}'\n`);
  });

  test("account names are lower-case letters, digits, '-' and '_', up to 32 characters", async () => {
    for (const ref of ["openrouter@Work", "openrouter@", "openrouter@a.b", `openrouter@${"a".repeat(33)}`]) {
      const result = await box.run(["login", ref, "--with-key", "--no-verify"], { stdin: WORK });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("is not an account name");
    }
    await login(`openrouter@${"a".repeat(32)}`, WORK);
    await login("openrouter@ci_bot-2", BETA);
    expect(await token("openrouter@ci_bot-2")).toBe(BETA);
  });

  test("a project file selects an account", async () => {
    await login("openrouter", PERSONAL);
    await login("openrouter@work", WORK);
    await login("anthropic", ANT);
    const project = join(box.env.HOME!, "app");
    mkdirSync(project);
    writeFileSync(join(project, ".authctl.toml"), 'providers = ["openrouter@work", "anthropic"]\n');
    expectOk(await box.run(["allow"], { cwd: project }));
    const env = await box.run(["env"], { cwd: project });
    expectOk(env);
    expect(env.stdout).toBe(`export OPENROUTER_API_KEY='${WORK}'\nexport ANTHROPIC_API_KEY='${ANT}'\n`);
  });
});

describe("a store written before accounts existed", () => {
  function installFixture(kind: "file" | "encrypted") {
    mkdirSync(box.home, { recursive: true, mode: 0o700 });
    copyFileSync(join(FIXTURES, `${kind}-credentials.toml`), join(box.home, "credentials.toml"));
    chmodSync(join(box.home, "credentials.toml"), 0o600);
    if (kind === "encrypted") {
      copyFileSync(join(FIXTURES, "encrypted-key"), join(box.home, "key"));
      chmodSync(join(box.home, "key"), 0o600);
    }
  }

  for (const kind of ["file", "encrypted"] as const) {
    test(`${kind}: its credentials are each provider's default account 'default'; a new account leaves them readable`, async () => {
      installFixture(kind);
      const env = { AUTHCTL_STORE: kind };
      expect(await statusJson(env)).toEqual([
        { id: "anthropic", provider: "anthropic", account: "default", default: true },
        { id: "openrouter", provider: "openrouter", account: "default", default: true },
      ]);
      expect((await box.run(["status"], { env })).stdout).toContain(
        "OpenRouter (openrouter) — account default, the default",
      );
      expect(await token("openrouter", env)).toBe(OLD_OR);
      expect(await token("anthropic@default", env)).toBe(OLD_ANT);
      await login("openrouter@work", WORK, env);
      expect(await token("openrouter", env)).toBe(OLD_OR);
      expect(await token("openrouter@work", env)).toBe(WORK);
      expect(await token("anthropic", env)).toBe(OLD_ANT);
      if (kind === "encrypted") {
        expect(storeText()).not.toContain(WORK);
        expect(storeText()).not.toContain(OLD_OR);
      }
    });
  }
});

describe("every backend keeps accounts apart", () => {
  test("file: each account is its own table", async () => {
    await login("openrouter", PERSONAL);
    await login("openrouter@work", WORK);
    const text = storeText();
    const work = text.slice(text.indexOf('["openrouter@work"]'));
    expect(work).toContain(WORK);
    expect(work).not.toContain(PERSONAL);
  });

  test("encrypted: a sealed record moved to another account's place does not open there", async () => {
    const env = { AUTHCTL_STORE: "encrypted" };
    await login("openrouter", PERSONAL, env);
    await login("openrouter@work", WORK, env);
    expect(await token("openrouter@work", env)).toBe(WORK);
    // Swap the two records' names: each now claims the other's account.
    const swapped = storeText()
      .replace("[openrouter]", "[SWAP]")
      .replace('["openrouter@work"]', "[openrouter]")
      .replace("[SWAP]", '["openrouter@work"]');
    writeFileSync(join(box.home, "credentials.toml"), swapped, { mode: 0o600 });
    for (const ref of ["openrouter", "openrouter@work"]) {
      const result = await box.run(["token", ref], { env });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain(`the record of ${ref}`);
    }
  });

  const keyring = missingSecretServicePrograms.length ? describe.skip : describe;
  if (missingSecretServicePrograms.length)
    console.warn(`SKIPPED: keyring accounts need ${missingSecretServicePrograms.join(", ")}`);
  keyring("keyring", () => {
    let service: SecretService;
    beforeAll(async () => {
      service = await startSecretService();
    });
    afterAll(() => service?.stop());

    test("one item per account (account = provider id for 'default', provider@account for the others); logout of one leaves the other", async () => {
      const env = { ...service.env, AUTHCTL_STORE: "keyring" };
      await login("openrouter", PERSONAL, env);
      await login("openrouter@work", WORK, env);
      expect(storeText()).not.toContain(PERSONAL);
      expect(storeText()).not.toContain(WORK);
      expect(JSON.parse(lookupWithSecretTool(service, "openrouter")!).key).toBe(PERSONAL);
      expect(JSON.parse(lookupWithSecretTool(service, "openrouter@work")!).key).toBe(WORK);
      expect(await token("openrouter", env)).toBe(PERSONAL);
      expect(await token("openrouter@work", env)).toBe(WORK);
      expectOk(await box.run(["switch", "openrouter@work"], { env }));
      expect(await token("openrouter", env)).toBe(WORK);
      expectOk(await box.run(["logout", "openrouter@work"], { env }));
      expect(lookupWithSecretTool(service, "openrouter@work")).toBeNull();
      expect(JSON.parse(lookupWithSecretTool(service, "openrouter")!).key).toBe(PERSONAL);
      expect(await token("openrouter", env)).toBe(PERSONAL);
    }, 60_000);
  });
});
