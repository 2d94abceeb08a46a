/**
 * The team store on etcd (issue 21) through the binary: a real three-member cluster on loopback,
 * several AUTHCTL_HOMEs standing for machines that share it, oidc-provider as the OAuth server.
 * A refresh is made due with `token --min-ttl 2h` against 1-hour tokens (no waiting for expiry);
 * the refresh then brings 3-hour tokens, which satisfy every later caller.
 */
import { describe, expect, test } from "bun:test";
import { refusedPort } from "../fakes/key-api.ts";
import { BINARY, expectOk, type Sandbox, secret, writeFollowingBrowser } from "../helpers/binary.ts";
import { HAVE_ETCD } from "../helpers/etcd-cluster.ts";
import { etcdTeam } from "../helpers/etcd-team.ts";

const SEAL_KEY = secret(Buffer.alloc(32, 7).toString("base64"));
const OTHER_KEY = secret(Buffer.alloc(32, 9).toString("base64"));
const KEY = secret("sk-or-v1-team0123456789abcdef0123456789abcdef0123456789abcdef0123456");
const PREFIX = "/authctl/team-a/";

const team = etcdTeam({ prefix: PREFIX, sealKey: SEAL_KEY, restartMembers: true, noStrays: true });
const { machine } = team;

async function etcdDump(): Promise<string> {
  const result = await team.cluster.etcdctl(["get", "--prefix", PREFIX]);
  expect(result.code).toBe(0);
  return result.stdout;
}

async function loginMycorp(box: Sandbox): Promise<void> {
  const browser = writeFollowingBrowser(box.root);
  expectOk(await box.run(["login", "mycorp"], { env: { BROWSER: browser } }));
}

async function userinfo(token: string): Promise<number> {
  return (await fetch(`${team.server!.issuer}/me`, { headers: { authorization: `Bearer ${token}` } })).status;
}

describe.skipIf(!HAVE_ETCD)("team store on etcd", () => {
  team.register();

  test("a login on one machine is served on the others, and etcd holds no secret in clear", async () => {
    const oidc = await team.startOidc({ accessTokenTtl: 3600 });
    const [a, b, c] = [machine(), machine(), machine()];
    await loginMycorp(a);
    expectOk(await a.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const fromB = await b.run(["token", "mycorp"]);
    expectOk(fromB);
    const access = fromB.stdout.trim();
    expect(await userinfo(access)).toBe(200);
    expect((await c.run(["token", "openrouter"])).stdout).toBe(`${KEY}\n`);
    expect((await c.run(["env", "mycorp"])).stdout).toBe(`export MYCORP_TOKEN='${access}'\n`);
    // The team's password and seal key never reach a program run under exec.
    const child = await c.run(["exec", "-p", "openrouter", "--", "env"], {
      env: { AUTHCTL_ETCD_PASSWORD: "not-used-here" },
    });
    expectOk(child);
    expect(child.stdout).toContain(`OPENROUTER_API_KEY=${KEY}`);
    expect(child.stdout).not.toContain("AUTHCTL_ETCD_KEY");
    expect(child.stdout).not.toContain("AUTHCTL_ETCD_PASSWORD");

    const dump = await etcdDump();
    expect(dump).toContain(`${PREFIX}credentials/mycorp`);
    expect(dump).toContain(`${PREFIX}credentials/openrouter`);
    expect(dump).not.toContain(KEY);
    expect(dump).not.toContain(access);
    // The refresh and ID tokens are JWTs or opaque strings: no field of a record holds one in clear.
    for (const line of dump.split("\n").filter((l) => l.startsWith("{"))) {
      const record = JSON.parse(line) as Record<string, unknown>;
      for (const field of ["key", "access_token", "refresh_token", "id_token"]) {
        if (record[field] !== undefined) expect(String(record[field])).toStartWith("enc:v1:");
      }
    }

    const status = await b.run(["status"]);
    expectOk(status);
    expect(status.stdout).toContain(
      `store: the team store on etcd (prefix ${PREFIX}), answered by ${team.cluster.endpoints[0]}`,
    );
    expect(status.stdout).toContain("MyCorp (mycorp)");
    expect(status.stdout).toContain("OpenRouter (openrouter)");
    const json = JSON.parse((await b.run(["status", "--json"])).stdout);
    expect(json.store).toMatchObject({ backend: "etcd", endpoint: team.cluster.endpoints[0] });
    // Nothing about the team's logins is kept on the machines.
    for (const box of [a, b, c]) expect(await Bun.file(`${box.home}/credentials.toml`).exists()).toBe(false);
  }, 90_000);

  test("21 racing `token` calls on three machines make one refresh, also with the leader (the first endpoint) killed as they start", async () => {
    const oidc = await team.startOidc({ accessTokenTtl: 3600 });
    const machines = [machine(), machine(), machine()];
    await loginMycorp(machines[0]!);
    oidc.setAccessTokenTtl(3 * 3600);
    // The member every client asks first is made the leader, then killed as the racers start: the
    // clients fail over, and the two left elect a new leader (leases survive the change).
    await team.cluster.makeLeader(0);
    const runs = Array.from({ length: 21 }, (_, i) =>
      machines[i % 3]!.run(["token", "mycorp", "--min-ttl", "2h"]),
    );
    await team.cluster.kill(0);
    const results = await Promise.all(runs);
    for (const r of results) expectOk(r);
    const tokens = new Set(results.map((r) => r.stdout.trim()));
    expect(tokens.size).toBe(1);
    expect(oidc.counts.refresh).toBe(1);
    expect(await userinfo([...tokens][0]!)).toBe(200);
    // The rotated refresh token is the one stored: oidc-provider revokes the grant on a replay,
    // so a second refresh works only with it.
    oidc.setAccessTokenTtl(5 * 3600);
    expectOk(await machines[1]!.run(["token", "mycorp", "--min-ttl", "4h"]));
    expect(oidc.counts.refresh).toBe(2);
  }, 120_000);

  test("a refresher killed while holding the lock: its lease expires and the next caller refreshes", async () => {
    const oidc = await team.startOidc({ accessTokenTtl: 3600 });
    // A token endpoint that never answers, for the machine that will be killed mid-refresh.
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const hang = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch() {
        arrived();
        return new Promise<Response>(() => {});
      },
    });
    try {
      const [a, b] = [machine(), machine()];
      const stuck = machine({ provider: `token_url = "http://127.0.0.1:${hang.port}/token"\n` });
      await loginMycorp(a);
      oidc.setAccessTokenTtl(3 * 3600);
      const proc = Bun.spawn([BINARY, "token", "mycorp", "--min-ttl", "2h"], {
        env: stuck.env,
        stdout: "pipe",
        stderr: "pipe",
      });
      await reached;
      // It holds the lock now (the refresh request is sent inside it).
      expect(await etcdDump()).toContain(`${PREFIX}lock`);
      proc.kill("SIGKILL");
      await proc.exited;
      const next = await b.run(["token", "mycorp", "--min-ttl", "2h"]);
      expectOk(next);
      expect(oidc.counts.refresh).toBe(1);
      expect(await userinfo(next.stdout.trim())).toBe(200);
    } finally {
      hang.stop(true);
    }
  }, 90_000);

  test("a refresh that outlives the lock's TTL keeps its lease alive: the next caller waits and uses its token", async () => {
    const oidc = await team.startOidc({ accessTokenTtl: 3600 });
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const SLOW = secret("slow-but-alive-access-token");
    const slowServer = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch() {
        arrived();
        await released;
        return Response.json({
          access_token: SLOW,
          token_type: "Bearer",
          expires_in: 3 * 3600,
          refresh_token: secret("slow-but-alive-refresh-token"),
        });
      },
    });
    try {
      const [a, b] = [machine(), machine()];
      const slow = machine({ provider: `token_url = "http://127.0.0.1:${slowServer.port}/token"\n` });
      await loginMycorp(a);
      const proc = Bun.spawn([BINARY, "token", "mycorp", "--min-ttl", "2h"], {
        env: slow.env,
        stdout: "pipe",
        stderr: "pipe",
      });
      await reached;
      const waiting = b.run(["token", "mycorp", "--min-ttl", "2h"]);
      // Twice the lock's 2 s TTL: without renewals the lease would be gone and b would refresh.
      await Bun.sleep(4500);
      release();
      expect(await proc.exited).toBe(0);
      expect((await new Response(proc.stdout).text()).trim()).toBe(SLOW);
      const next = await waiting;
      expectOk(next);
      expect(next.stdout.trim()).toBe(SLOW);
      expect(oidc.counts.refresh).toBe(0);
    } finally {
      slowServer.stop(true);
    }
  }, 60_000);

  test("a refresher whose lease expired mid-refresh writes nothing: the newer token stays", async () => {
    const oidc = await team.startOidc({ accessTokenTtl: 3600 });
    // Answers the paused machine's refresh, once released, with tokens that must never be stored.
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const STALE = secret("stale-access-token-from-a-lost-lease");
    const late = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch() {
        arrived();
        await released;
        return Response.json({
          access_token: STALE,
          token_type: "Bearer",
          expires_in: 3 * 3600,
          refresh_token: secret("stale-refresh-token-from-a-lost-lease"),
        });
      },
    });
    try {
      const [a, b] = [machine(), machine()];
      const slow = machine({ provider: `token_url = "http://127.0.0.1:${late.port}/token"\n` });
      await loginMycorp(a);
      oidc.setAccessTokenTtl(3 * 3600);
      const proc = Bun.spawn([BINARY, "token", "mycorp", "--min-ttl", "2h"], {
        env: slow.env,
        stdout: "pipe",
        stderr: "pipe",
      });
      await reached;
      // Paused: no keepalive, so its 2 s lease expires and another machine takes the lock.
      proc.kill("SIGSTOP");
      const next = await b.run(["token", "mycorp", "--min-ttl", "2h"]);
      expectOk(next);
      expect(oidc.counts.refresh).toBe(1);
      proc.kill("SIGCONT");
      release();
      const stderr = await new Response(proc.stderr).text();
      expect(await proc.exited).toBe(1);
      expect(stderr).toContain("lost the lock of the team store on etcd");
      expect(stderr).toContain("nothing was written");
      const now = await a.run(["token", "mycorp"]);
      expect(now.stdout.trim()).toBe(next.stdout.trim());
      expect(await etcdDump()).not.toContain(STALE);
    } finally {
      late.stop(true);
    }
  }, 90_000);

  test("a refresh that cannot reach the server changes nothing; a refused one marks the login for every machine", async () => {
    const oidc = await team.startOidc({ accessTokenTtl: 3600 });
    const refusing = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () =>
        Response.json({ error: "invalid_grant", error_description: "grant revoked" }, { status: 400 }),
    });
    try {
      const [a, b] = [machine(), machine()];
      const offline = machine({ provider: `token_url = "http://127.0.0.1:${refusedPort()}/token"\n` });
      const refused = machine({ provider: `token_url = "http://127.0.0.1:${refusing.port}/token"\n` });
      await loginMycorp(a);
      const before = await etcdDump();
      const down = await offline.run(["token", "mycorp", "--min-ttl", "2h"]);
      expect(down.code).toBe(1);
      expect(down.stderr).toContain("could not refresh the MyCorp login");
      expect(await etcdDump()).toBe(before);
      const dead = await refused.run(["token", "mycorp", "--min-ttl", "2h"]);
      expect(dead.code).toBe(4);
      expect(dead.stderr).toContain("MyCorp refused to refresh the login");
      // Another machine learns it from the team store, without asking the server.
      const elsewhere = await b.run(["token", "mycorp"]);
      expect(elsewhere.code).toBe(4);
      expect(elsewhere.stderr).toContain("the MyCorp login needs renewing");
      expect(oidc.counts.refresh).toBe(0);
    } finally {
      refusing.stop(true);
    }
  }, 60_000);

  test("a cluster without quorum: a clear error, exit 1, and nothing changed", async () => {
    const a = machine({ etcd: "timeout = 3\n" });
    expectOk(await a.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const before = await etcdDump();
    await team.cluster.loseQuorum();
    const token = await a.run(["token", "openrouter"]);
    expect(token.code).toBe(1);
    expect(token.stdout).toBe("");
    expect(token.stderr).toContain(
      "authctl: the etcd cluster has no quorum: no member could serve within 3 s",
    );
    const other = secret("sk-or-v1-other123456789abcdef0123456789abcdef0123456789abcdef0123456");
    const login = await a.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: other });
    expect(login.code).toBe(1);
    expect(login.stderr).toContain("no quorum");
    await team.cluster.restart(1);
    await team.cluster.restart(2);
    expect(await etcdDump()).toBe(before);
    expect((await a.run(["token", "openrouter"])).stdout).toBe(`${KEY}\n`);
  }, 90_000);

  test("a wrong or missing seal key, and a record altered in etcd: each a named one-line error", async () => {
    const a = machine();
    expectOk(await a.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const wrong = await a.run(["token", "openrouter"], { env: { AUTHCTL_ETCD_KEY: OTHER_KEY } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toStartWith(
      `authctl: the etcd seal key from AUTHCTL_ETCD_KEY is not the one this team store is sealed with (it does not open ${PREFIX}key-check)\n`,
    );
    const none = await a.run(["env"], { env: { AUTHCTL_ETCD_KEY: undefined } });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("the team store on etcd needs its seal key, and none is set");
    expect(none.stderr).toContain("AUTHCTL_ETCD_KEY");
    // Someone with write access to etcd but not the key points the key's record elsewhere.
    const key = `${PREFIX}credentials/openrouter`;
    const record = JSON.parse((await team.cluster.etcdctl(["get", key, "--print-value-only"])).stdout);
    record.extra = { api_url: "https://attacker.example" };
    expect((await team.cluster.etcdctl(["put", key, JSON.stringify(record)])).code).toBe(0);
    const altered = await a.run(["token", "openrouter"]);
    expect(altered.code).toBe(1);
    expect(altered.stderr).toContain(
      "the record of openrouter does not authenticate with the team's seal key",
    );
    expect(altered.stdout).toBe("");
  }, 60_000);

  test("`token` and `env` with nothing due make one request to etcd; logout on one machine logs out all", async () => {
    const a = machine();
    expectOk(await a.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    // A counting proxy in front of one member: what a machine's commands ask etcd.
    const seen: string[] = [];
    const member = team.cluster.endpoints[1]!;
    const proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        const path = new URL(request.url).pathname;
        seen.push(path);
        return fetch(`${member}${path}`, {
          method: "POST",
          headers: request.headers,
          body: await request.text(),
        });
      },
    });
    try {
      const b = machine();
      b.writeConfig(`[etcd]\nendpoints = ["http://127.0.0.1:${proxy.port}"]\nprefix = "${PREFIX}"\n`);
      expect((await b.run(["token", "openrouter"])).stdout).toBe(`${KEY}\n`);
      expect(seen).toEqual(["/v3/kv/range"]);
      seen.length = 0;
      expectOk(await b.run(["env", "openrouter"]));
      expect(seen).toEqual(["/v3/kv/range"]);
      expectOk(await b.run(["logout", "openrouter"]));
      expect((await a.run(["token", "openrouter"])).code).toBe(4);
      expect(await etcdDump()).not.toContain(`${PREFIX}credentials/openrouter`);
    } finally {
      proxy.stop(true);
    }
  }, 60_000);

  test("store migrate --to etcd moves local logins into the team store, and --to encrypted moves them out", async () => {
    const [a, b] = [machine(), machine()];
    const local = { AUTHCTL_STORE: "file" };
    expectOk(await a.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env: local }));
    const credentialsToml = `${a.home}/credentials.toml`;
    expect(await Bun.file(credentialsToml).text()).toContain(KEY);
    const into = await a.run(["store", "migrate", "--to", "etcd"], { env: local });
    expectOk(into);
    expect(into.stderr).toContain("moved openrouter from");
    expect(into.stderr).toContain("1 credential in the team store on etcd");
    expect(await Bun.file(credentialsToml).text()).not.toContain("openrouter");
    expect((await b.run(["token", "openrouter"])).stdout).toBe(`${KEY}\n`);
    expect(await etcdDump()).not.toContain(KEY);

    const out = await b.run(["store", "migrate", "--to", "encrypted"]);
    expectOk(out);
    expect(out.stderr).toContain("1 credential in the encrypted file");
    expect(out.stderr).toContain('set store = "encrypted" in config.toml');
    expect(await etcdDump()).not.toContain(`${PREFIX}credentials/openrouter`);
    const mine = await b.run(["token", "openrouter"], { env: { AUTHCTL_STORE: "encrypted" } });
    expect(mine.stdout).toBe(`${KEY}\n`);
    expect(await Bun.file(`${b.home}/credentials.toml`).text()).not.toContain(KEY);
    const gone = await a.run(["token", "openrouter"]);
    expect(gone.code).toBe(4);
  }, 60_000);

  test("config validation names the key", async () => {
    const box = machine();
    box.writeConfig('store = "etcd"\n[etcd]\nendpoints = ["http://10.1.2.3:2379"]\n');
    const http = await box.run(["token", "openrouter"]);
    expect(http.code).toBe(1);
    expect(http.stderr).toContain(
      'etcd.endpoints: "http://10.1.2.3:2379" is http but not loopback; use https',
    );
    box.writeConfig('store = "etcd"\n[etcd]\nendpoints = "https://etcd:2379"\n');
    expect((await box.run(["status"])).stderr).toContain("etcd.endpoints must be a list of URLs");
    box.writeConfig(
      `store = "etcd"\n[etcd]\nendpoints = ${JSON.stringify(team.cluster.endpoints)}\nlock_ttl = 0.5\n`,
    );
    expect((await box.run(["status"])).stderr).toContain(
      "etcd.lock_ttl must be a number of seconds from 2 to 300",
    );
    box.writeConfig('store = "etcd"\n');
    const missing = await box.run(["env"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("the team store on etcd needs an [etcd] table");
  }, 60_000);
});
