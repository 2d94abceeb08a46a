/**
 * Accounts (`provider@account`) on the team store on etcd (issue 21): what one machine does with
 * an account (login, switch, logout, migrate) is what every machine sharing the prefix sees.
 */
import { describe, expect, test } from "bun:test";
import { expectOk, type Sandbox, secret, writeFollowingBrowser } from "../helpers/binary.ts";
import { HAVE_ETCD } from "../helpers/etcd-cluster.ts";
import { etcdTeam } from "../helpers/etcd-team.ts";

const SEAL_KEY = secret(Buffer.alloc(32, 19).toString("base64"));
const PERSONAL = secret("sk-or-v1-teamacctdefault0123456789abcdef0123456789abcdef0123456789ab");
const WORK = secret("sk-or-v1-teamacctwork0123456789abcdef0123456789abcdef0123456789abcdef");
const BETA = secret("sk-or-v1-teamacctbeta0123456789abcdef0123456789abcdef0123456789abcdef");
const ANT = secret("sk-ant-api03-teamaccounts0123456789abcdef0123456789abcdef0123456789");
const PREFIX = "/authctl/accounts/";

const team = etcdTeam({ prefix: PREFIX, sealKey: SEAL_KEY });
const { machine } = team;

async function login(box: Sandbox, ref: string, key: string, env: Record<string, string> = {}) {
  const result = await box.run(["login", ref, "--with-key", "--no-verify"], { stdin: key, env });
  expectOk(result);
  return result;
}

async function token(box: Sandbox, ref: string, env: Record<string, string> = {}): Promise<string> {
  const result = await box.run(["token", ref], { env });
  expectOk(result);
  return result.stdout.trim();
}

async function dump(): Promise<string> {
  const result = await team.cluster.etcdctl(["get", "--prefix", PREFIX]);
  expect(result.code).toBe(0);
  return result.stdout;
}

async function manifestText(): Promise<string> {
  const result = await team.cluster.etcdctl(["get", `${PREFIX}manifest`, "--print-value-only"]);
  expect(result.code).toBe(0);
  return result.stdout.trim();
}

async function statusJson(box: Sandbox): Promise<Array<Record<string, unknown>>> {
  const result = await box.run(["status", "--json"]);
  expectOk(result);
  return JSON.parse(result.stdout).providers.map(
    ({ id, provider, account, default: d }: Record<string, unknown>) => ({
      id,
      provider,
      account,
      default: d,
    }),
  );
}

describe.skipIf(!HAVE_ETCD)("accounts on the team store on etcd", () => {
  team.register();

  test("an account logged in on one machine is served by env, token and exec on another, and status there lists every account", async () => {
    const [a, b] = [machine(), machine()];
    await login(a, "openrouter", PERSONAL);
    const work = await login(a, "openrouter@work", WORK);
    expect(work.stderr).toContain("logged in to OpenRouter (account work)");
    await login(a, "anthropic@team", ANT);
    expect(await dump()).toContain(`${PREFIX}credentials/openrouter@work`);

    expect(await token(b, "openrouter@work")).toBe(WORK);
    expect(await token(b, "openrouter")).toBe(PERSONAL);
    expect(await token(b, "openrouter@default")).toBe(PERSONAL);
    expect(await token(b, "anthropic")).toBe(ANT);
    expect((await b.run(["env", "openrouter@work"])).stdout).toBe(`export OPENROUTER_API_KEY='${WORK}'\n`);
    const exec = await b.run([
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

    // Without a provider: each provider's default account, once; two accounts of one provider: exit 2.
    const every = await b.run(["env"]);
    expectOk(every);
    expect(every.stdout).toContain(`export OPENROUTER_API_KEY='${PERSONAL}'\n`);
    expect(every.stdout).not.toContain(WORK);
    const both = await b.run(["env", "openrouter@default", "openrouter@work"]);
    expect(both.code).toBe(2);
    expect(both.stdout).toBe("");
    const named = JSON.parse((await b.run(["status", "openrouter@work", "--json"])).stdout);
    expect(named.providers).toHaveLength(1);
    expect(named.providers[0]).toMatchObject({ id: "openrouter@work", account: "work", default: false });

    const text = await b.run(["status"]);
    expectOk(text);
    expect(text.stdout).toContain("Anthropic (anthropic@team) — account team, the default");
    expect(text.stdout).toContain("OpenRouter (openrouter) — account default, the default");
    expect(text.stdout).toContain("OpenRouter (openrouter@work) — account work\n");
    expect(await statusJson(b)).toEqual([
      { id: "anthropic@team", provider: "anthropic", account: "team", default: true },
      { id: "openrouter", provider: "openrouter", account: "default", default: true },
      { id: "openrouter@work", provider: "openrouter", account: "work", default: false },
    ]);
  }, 60_000);

  test("switch on one machine changes the default account on every machine", async () => {
    const [a, b, c] = [machine(), machine(), machine()];
    await login(a, "openrouter", PERSONAL);
    await login(a, "openrouter@work", WORK);
    const switched = await b.run(["switch", "openrouter@work"]);
    expectOk(switched);
    expect(switched.stderr).toContain("openrouter now means openrouter@work; it replaces openrouter@default");
    expect(await token(c, "openrouter")).toBe(WORK);
    expect(await token(c, "openrouter@default")).toBe(PERSONAL);
    expect(await statusJson(a)).toEqual([
      { id: "openrouter", provider: "openrouter", account: "default", default: false },
      { id: "openrouter@work", provider: "openrouter", account: "work", default: true },
    ]);
    const before = await dump();
    const unknown = await c.run(["switch", "openrouter@nope"]);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain("openrouter@nope is not logged in (openrouter accounts: default, work)");
    expect(await dump()).toBe(before);
    expectOk(await c.run(["switch", "openrouter@default"]));
    expect(await token(a, "openrouter")).toBe(PERSONAL);
  }, 60_000);

  test("logout of one account, of the default (the next one takes over), and `logout p --all`: every machine sees it", async () => {
    const [a, b, c] = [machine(), machine(), machine()];
    await login(a, "openrouter", PERSONAL);
    await login(a, "openrouter@zeta", WORK);
    await login(a, "openrouter@beta", BETA);
    await login(a, "anthropic", ANT);

    const one = await b.run(["logout", "openrouter@zeta"]);
    expectOk(one);
    expect(one.stderr).toContain("logged out of OpenRouter (account zeta)");
    expect((await c.run(["token", "openrouter@zeta"])).code).toBe(4);
    expect(await token(c, "openrouter")).toBe(PERSONAL);

    const bare = await b.run(["logout", "openrouter"]);
    expectOk(bare);
    expect(bare.stderr).toContain(
      "openrouter@beta is now the default openrouter account (it was openrouter@default)",
    );
    expect(await token(c, "openrouter")).toBe(BETA);

    await login(c, "openrouter@work", WORK);
    const all = await b.run(["logout", "openrouter", "--all"]);
    expectOk(all);
    expect(await dump()).not.toContain(`${PREFIX}credentials/openrouter`);
    expect(Object.keys(JSON.parse(await manifestText()).records)).toEqual(["anthropic"]);
    for (const ref of ["openrouter", "openrouter@beta", "openrouter@work"])
      expect((await c.run(["token", ref])).code).toBe(4);
    expect(await token(c, "anthropic")).toBe(ANT);
    expectOk(await a.run(["logout", "--all"]));
    expect(JSON.parse(await manifestText()).records).toEqual({});
    expect((await c.run(["token", "anthropic"])).code).toBe(4);
  }, 60_000);

  test("store migrate --to etcd and back moves two accounts of one provider, and the default mark with them", async () => {
    const [a, b] = [machine(), machine()];
    const local = { AUTHCTL_STORE: "file" };
    await login(a, "openrouter", PERSONAL, local);
    await login(a, "openrouter@work", WORK, local);
    expectOk(await a.run(["switch", "openrouter@work"], { env: local }));
    const into = await a.run(["store", "migrate", "--to", "etcd"], { env: local });
    expectOk(into);
    expect(into.stderr).toContain("2 credentials in the team store on etcd");
    expect(await Bun.file(`${a.home}/credentials.toml`).text()).not.toContain("openrouter");
    expect(await token(b, "openrouter")).toBe(WORK);
    expect(await token(b, "openrouter@default")).toBe(PERSONAL);
    expect(await token(b, "openrouter@work")).toBe(WORK);
    const sealed = await dump();
    expect(sealed).not.toContain(PERSONAL);
    expect(sealed).not.toContain(WORK);

    const out = await b.run(["store", "migrate", "--to", "encrypted"]);
    expectOk(out);
    expect(out.stderr).toContain("2 credentials in the encrypted file");
    expect(await dump()).not.toContain(`${PREFIX}credentials/`);
    const mine = { AUTHCTL_STORE: "encrypted" };
    expect(await token(b, "openrouter", mine)).toBe(WORK);
    expect(await token(b, "openrouter@default", mine)).toBe(PERSONAL);
    expect(await token(b, "openrouter@work", mine)).toBe(WORK);
    expect((await a.run(["token", "openrouter@work"])).code).toBe(4);
  }, 60_000);

  test("an OAuth account is refreshed once for every machine: 9 racing `token p@work` calls on three machines", async () => {
    const oidc = await team.startOidc({ accessTokenTtl: 3600 });
    const machines = [machine(), machine(), machine()];
    const a = machines[0]!;
    expectOk(await a.run(["login", "mycorp@work"], { env: { BROWSER: writeFollowingBrowser(a.root) } }));
    expect(await dump()).toContain(`${PREFIX}credentials/mycorp@work`);
    oidc.setAccessTokenTtl(3 * 3600);
    const results = await Promise.all(
      Array.from({ length: 9 }, (_, i) => machines[i % 3]!.run(["token", "mycorp@work", "--min-ttl", "2h"])),
    );
    for (const result of results) expectOk(result);
    expect(new Set(results.map((r) => r.stdout)).size).toBe(1);
    expect(oidc.counts.refresh).toBe(1);
    // The account is the provider's only one, so its default: the bare id is the same login.
    expect(await token(machines[2]!, "mycorp")).toBe(results[0]!.stdout.trim());
  }, 90_000);
});
