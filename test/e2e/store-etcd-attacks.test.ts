/**
 * The team store on etcd (issue 21) against someone who can write etcd but has no seal key: what
 * they put there must never come back authenticated, whatever ordinary command runs next.
 */
import { describe, expect, test } from "bun:test";
import { createSandbox, expectOk, type Sandbox, secret } from "../helpers/binary.ts";
import { HAVE_ETCD } from "../helpers/etcd-cluster.ts";
import { etcdTeam } from "../helpers/etcd-team.ts";

const SEAL_KEY = secret(Buffer.alloc(32, 5).toString("base64"));
const PERSONAL = secret("sk-or-v1-teampersonal0123456789abcdef0123456789abcdef0123456789abcd");
const WORK = secret("sk-or-v1-teamwork0123456789abcdef0123456789abcdef0123456789abcdef0123");
const ATTACKER = "sk-or-v1-attacker0123456789abcdef0123456789abcdef0123456789abcdef01";
const PREFIX = "/authctl/redteam/";

const team = etcdTeam({ prefix: PREFIX, sealKey: SEAL_KEY, cleanPrefix: "/authctl/" });
const { machine } = team;

async function get(key: string): Promise<string> {
  const result = await team.cluster.etcdctl(["get", key, "--print-value-only"]);
  expect(result.code).toBe(0);
  return result.stdout.trim();
}

async function put(key: string, value: string): Promise<void> {
  expect((await team.cluster.etcdctl(["put", key, value])).code).toBe(0);
}

describe.skipIf(!HAVE_ETCD)("team store on etcd, written by someone without the seal key", () => {
  team.register();

  async function twoAccounts(): Promise<Sandbox> {
    const a = machine();
    expectOk(await a.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: PERSONAL }));
    expectOk(await a.run(["login", "openrouter@work", "--with-key", "--no-verify"], { stdin: WORK }));
    return a;
  }

  test("a record copied to another account's key, or to another team's prefix, does not authenticate there", async () => {
    const a = await twoAccounts();
    const work = await get(`${PREFIX}credentials/openrouter@work`);
    // The work record put where the default account's is, and under a new account name.
    await put(`${PREFIX}credentials/openrouter`, work);
    await put(`${PREFIX}credentials/openrouter@home`, work);
    for (const ref of ["openrouter", "openrouter@home"]) {
      const refused = await a.run(["token", ref]);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe("");
      expect(refused.stderr).toContain("does not authenticate with the team's seal key");
    }
    expect((await a.run(["token", "openrouter@work"])).stdout.trim()).toBe(WORK);
    // Another team's prefix under the same seal key: the record does not open there either.
    const other = "/authctl/other-team/";
    const b = machine({ prefix: other });
    expectOk(await b.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: PERSONAL }));
    await put(`${other}credentials/openrouter@work`, work);
    const moved = await b.run(["token", "openrouter@work"]);
    expect(moved.code).toBe(1);
    expect(moved.stdout).toBe("");
    expect(moved.stderr).toContain("does not authenticate with the team's seal key");
  }, 60_000);

  test("an altered record marked default is not re-sealed by 'switch': it stays refused", async () => {
    const a = await twoAccounts();
    // The attacker replaces the work record with their own key in clear, their endpoint, and the
    // default mark (so a bare 'openrouter' fails and the person reaches for 'switch').
    const work = JSON.parse(await get(`${PREFIX}credentials/openrouter@work`));
    const forged = { ...work, key: ATTACKER, default: true, extra: { api_url: "https://attacker.example" } };
    await put(`${PREFIX}credentials/openrouter@work`, JSON.stringify(forged));
    // And a made-up account that sorts first, marked default too.
    await put(`${PREFIX}credentials/openrouter@aaa`, JSON.stringify(forged));
    const before = await a.run(["token", "openrouter@work"]);
    expect(before.code).toBe(1);
    expect(before.stdout).toBe("");
    // The default account stays the one the team chose: an unauthenticated mark does not move it.
    const bare = await a.run(["token", "openrouter"]);
    expectOk(bare);
    expect(bare.stdout.trim()).toBe(PERSONAL);
    // Ordinary commands that rewrite default marks must not vouch for the forged record.
    await a.run(["switch", "openrouter@work"]);
    await a.run(["switch", "openrouter@default"]);
    const after = await a.run(["token", "openrouter@work"]);
    expect(after.stdout).not.toContain(ATTACKER);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain("does not authenticate with the team's seal key");
    const env = await a.run(["env", "openrouter@work"]);
    expect(env.stdout).not.toContain(ATTACKER);
    expect(env.code).not.toBe(0);
    // A new login replaces it (and logout removes it): the account is not lost for good.
    expectOk(await a.run(["login", "openrouter@work", "--with-key", "--no-verify"], { stdin: WORK }));
    expect((await a.run(["token", "openrouter@work"])).stdout.trim()).toBe(WORK);
  }, 60_000);
});

describe("an etcd endpoint that answers with a redirect", () => {
  test("is not followed: the password never reaches the host it names, and the command fails (exit 1)", async () => {
    const PASSWORD = secret("etcd-password-redteam-0123456789");
    const seen: string[] = [];
    // Stands for a host nobody configured (here on loopback; a Location may name any http host).
    const elsewhere = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        seen.push(`${new URL(request.url).pathname} ${await request.text()}`);
        return Response.json({ error: "no" }, { status: 500 });
      },
    });
    const member = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const { pathname } = new URL(request.url);
        return new Response(null, {
          status: 307,
          headers: { location: `http://127.0.0.1:${elsewhere.port}${pathname}` },
        });
      },
    });
    const box = createSandbox();
    try {
      box.env.AUTHCTL_STORE = "etcd";
      box.env.AUTHCTL_ETCD_KEY = SEAL_KEY;
      box.env.AUTHCTL_ETCD_PASSWORD = PASSWORD;
      box.writeConfig(
        `store = "etcd"\n[etcd]\nendpoints = ["http://127.0.0.1:${member.port}"]\nusername = "runner"\ntimeout = 5\n`,
      );
      const result = await box.run(["token", "openrouter"]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain("a redirect, which authctl does not follow");
      expect(seen).toEqual([]);
    } finally {
      box.cleanup();
      member.stop(true);
      elsewhere.stop(true);
    }
  }, 30_000);
});
