/**
 * The team store on etcd (issue 21) against replay: someone who can write the etcd prefix but has
 * no seal key puts back older, validly sealed records they saw earlier, deletes records, or puts
 * back a whole older prefix. The store's manifest (src/store/etcd/manifest.ts) and each machine's
 * etcd-seen.json make each of these a named error (exit 1) that writes nothing.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expectOk, type Sandbox, secret, writeFollowingBrowser } from "../helpers/binary.ts";
import { HAVE_ETCD } from "../helpers/etcd-cluster.ts";
import { etcdTeam } from "../helpers/etcd-team.ts";

const SEAL_KEY = secret(Buffer.alloc(32, 13).toString("base64"));
const K1 = secret("sk-or-v1-replayone0123456789abcdef0123456789abcdef0123456789abcdef01");
const K2 = secret("sk-or-v1-replaytwo0123456789abcdef0123456789abcdef0123456789abcdef01");
const K3 = secret("sk-or-v1-replaythree23456789abcdef0123456789abcdef0123456789abcdef01");
const WORK = secret("sk-or-v1-replaywork0123456789abcdef0123456789abcdef0123456789abcdef0");
const PREFIX = "/authctl/replay/";
const STORE = `the team store on etcd (prefix ${PREFIX})`;

/** test/e2e/fixtures/etcd-before-manifest: a prefix written by authctl before the manifest existed. */
const LEGACY_PREFIX = "/authctl/legacy/";
const LEGACY_KEY = secret(Buffer.alloc(32, 11).toString("base64"));
const LEGACY_OR = secret("sk-or-v1-legacy00123456789abcdef0123456789abcdef0123456789abcdef012");
const LEGACY_WORK = secret("sk-or-v1-legacywork123456789abcdef0123456789abcdef0123456789abcdef");
const LEGACY = JSON.parse(
  readFileSync(join(import.meta.dir, "fixtures", "etcd-before-manifest", "prefix.json"), "utf8"),
) as Record<string, string>;

const team = etcdTeam({ prefix: PREFIX, sealKey: SEAL_KEY, cleanPrefix: "/authctl/" });
const { machine } = team;

async function get(key: string): Promise<string> {
  const result = await team.cluster.etcdctl(["get", key, "--print-value-only"]);
  expect(result.code).toBe(0);
  return result.stdout.replace(/\n$/, "");
}

async function put(key: string, value: string): Promise<void> {
  expect((await team.cluster.etcdctl(["put", key, value])).code).toBe(0);
}

async function del(key: string, ...flags: string[]): Promise<void> {
  expect((await team.cluster.etcdctl(["del", key, ...flags])).code).toBe(0);
}

/** Every key under a prefix and its value (the lock left out: it comes and goes with leases). */
async function snapshot(prefix = PREFIX): Promise<Record<string, string>> {
  const result = await team.cluster.etcdctl(["get", "--prefix", prefix, "-w", "json"]);
  expect(result.code).toBe(0);
  const kvs = (JSON.parse(result.stdout).kvs ?? []) as Array<{ key: string; value: string }>;
  const out: Record<string, string> = {};
  for (const kv of kvs) {
    const key = Buffer.from(kv.key, "base64").toString();
    if (!key.endsWith("/lock")) out[key] = Buffer.from(kv.value, "base64").toString();
  }
  return out;
}

/** Replaces the whole prefix with `state`: what restoring an older etcd backup of it does. */
async function restore(state: Record<string, string>, prefix = PREFIX): Promise<void> {
  await del(prefix, "--prefix");
  for (const [key, value] of Object.entries(state)) await put(key, value);
}

async function login(box: Sandbox, ref: string, key: string): Promise<void> {
  expectOk(await box.run(["login", ref, "--with-key", "--no-verify"], { stdin: key }));
}

/** `token` that must fail with exit 1, nothing on stdout, and `message` on its first stderr line. */
async function refused(box: Sandbox, ref: string, message: string): Promise<string> {
  const result = await box.run(["token", ref]);
  expect(result.stdout).toBe("");
  expect(result.code).toBe(1);
  const first = result.stderr.split("\n")[0]!;
  expect(first).toContain(message);
  return result.stderr;
}

async function manifest(prefix = PREFIX): Promise<{ generation: number; records: Record<string, string> }> {
  return JSON.parse(await get(`${prefix}manifest`));
}

describe.skipIf(!HAVE_ETCD)(
  "team store on etcd, older records put back by someone without the seal key",
  () => {
    team.register();

    test("an older version of a record put back with etcdctl is refused by name on every machine, writes nothing, and a login stores it again", async () => {
      const [a, b] = [machine(), machine()];
      await login(a, "openrouter", K1);
      const key = `${PREFIX}credentials/openrouter`;
      const old = await get(key);
      // Rotated (a new key; a refresh rotates a refresh token the same way).
      await login(a, "openrouter", K2);
      await put(key, old);
      const before = await snapshot();
      const message = `${STORE}: the record of openrouter is not the version authctl last wrote with the team's seal key (an older copy was put back: rolled back)`;
      for (const box of [a, b, machine()]) {
        const stderr = await refused(box, "openrouter", message);
        expect(stderr).toContain("run 'authctl login openrouter' to store it again");
      }
      const env = await b.run(["env", "openrouter"]);
      expect(env.code).toBe(1);
      expect(env.stdout).toBe("");
      // Ordinary commands that rewrite records do not vouch for it (switch, a refresh's write).
      await b.run(["switch", "openrouter"]);
      expect(await snapshot()).toEqual(before);
      const status = await b.run(["status"]);
      expect(status.stderr).toContain("the record of openrouter is not the version authctl last wrote");
      expect(status.stdout).not.toContain(K1.slice(-6));
      await login(b, "openrouter", K3);
      expect((await a.run(["token", "openrouter"])).stdout).toBe(`${K3}\n`);
    }, 90_000);

    test("an OAuth record from before a refresh put back: refused by name, and its spent refresh token is never sent", async () => {
      const oidc = await team.startOidc({ accessTokenTtl: 3600 });
      const [a, b] = [machine(), machine()];
      expectOk(await a.run(["login", "mycorp"], { env: { BROWSER: writeFollowingBrowser(a.root) } }));
      const key = `${PREFIX}credentials/mycorp`;
      const beforeRefresh = await get(key);
      oidc.setAccessTokenTtl(3 * 3600);
      expectOk(await b.run(["token", "mycorp", "--min-ttl", "2h"]));
      expect(oidc.counts.refresh).toBe(1);
      // The old record holds the refresh token the server has just rotated away.
      await put(key, beforeRefresh);
      const result = await machine().run(["token", "mycorp", "--min-ttl", "2h"]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr.split("\n")[0]).toContain(
        `${STORE}: the record of mycorp is not the version authctl last wrote with the team's seal key`,
      );
      // Sent, it would have been a reuse, and oidc-provider revokes the grant on one.
      expect(oidc.counts.refresh).toBe(1);
    }, 90_000);

    test("a record deleted behind authctl's back, a logout undone, a manifest altered or deleted: each a named error", async () => {
      const a = machine();
      await login(a, "openrouter", K1);
      await login(a, "openrouter@work", WORK);
      const workKey = `${PREFIX}credentials/openrouter@work`;

      await del(workKey);
      await refused(
        a,
        "openrouter@work",
        `${STORE}: the record of openrouter@work was deleted by someone other than authctl (the store's manifest still lists it)`,
      );
      // The other records are still served.
      expect((await a.run(["token", "openrouter"])).stdout).toBe(`${K1}\n`);

      await login(a, "openrouter@work", WORK);
      const loggedIn = await get(workKey);
      expectOk(await a.run(["logout", "openrouter@work"]));
      await put(workKey, loggedIn);
      await refused(
        a,
        "openrouter@work",
        `${STORE}: the record of openrouter@work was not written by authctl with the team's seal key since the store's manifest was`,
      );
      await del(workKey);
      expect((await a.run(["token", "openrouter@work"])).code).toBe(4);

      // The manifest itself cannot be edited without the key: an entry removed, the MAC kept.
      const manifestKey = `${PREFIX}manifest`;
      const text = await get(manifestKey);
      const edited = JSON.parse(text);
      delete edited.records.openrouter;
      await put(manifestKey, JSON.stringify(edited));
      const before = await snapshot();
      const forged = `${STORE} holds a manifest (${manifestKey}) that was not written by authctl with the team's seal key: nothing was read or written`;
      await refused(a, "openrouter", forged);
      const write = await a.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: K2 });
      expect(write.code).toBe(1);
      expect(write.stderr).toContain(forged);
      expect(await snapshot()).toEqual(before);
      await put(manifestKey, text);
      expect((await a.run(["token", "openrouter"])).stdout).toBe(`${K1}\n`);

      // Deleting the manifest does not make the store look like one from before manifests.
      await del(manifestKey);
      await refused(
        machine(),
        "openrouter",
        `${STORE} has no manifest (${manifestKey}), but its record of openrouter was written under one: the manifest was deleted`,
      );
    }, 90_000);

    test("a whole-prefix rollback is refused on each machine that saw the newer state; etcd-seen.json is 0600 and not rewritten when nothing changed", async () => {
      const [a, b] = [machine(), machine()];
      await login(a, "openrouter", K1);
      const older = await snapshot();
      expect((await b.run(["token", "openrouter"])).stdout).toBe(`${K1}\n`);
      await login(a, "openrouter", K2);
      expect((await b.run(["token", "openrouter"])).stdout).toBe(`${K2}\n`);
      const seenFile = join(b.home, "etcd-seen.json");
      const seen = statSync(seenFile);
      expect(seen.mode & 0o777).toBe(0o600);
      expect(readFileSync(seenFile, "utf8")).toContain('"generation":2');
      // The hot path, with nothing new in etcd, reads the file and writes nothing.
      expectOk(await b.run(["token", "openrouter"]));
      expectOk(await b.run(["env", "openrouter"]));
      const again = statSync(seenFile);
      expect([again.ino, again.mtimeMs]).toEqual([seen.ino, seen.mtimeMs]);

      // Manifest and records put back together: consistent, and every MAC verifies.
      await restore(older);
      for (const box of [a, b]) {
        const stderr = await refused(
          box,
          "openrouter",
          `${STORE} was rolled back: its manifest is at generation 1, and this machine has seen generation 2: nothing was read or written`,
        );
        expect(stderr).toContain(`delete ${join(box.home, "etcd-seen.json")} on this machine`);
      }
      expect(await snapshot()).toEqual(older);
      // What the store alone cannot show: a machine that never saw generation 2 takes it.
      expect((await machine().run(["token", "openrouter"])).stdout).toBe(`${K1}\n`);
    }, 90_000);

    test("an earlier store put back whole after the team started again (prefix emptied, new manifest) is refused on each machine that saw it replaced", async () => {
      const [a, b] = [machine(), machine()];
      await login(a, "openrouter", K1);
      expect((await b.run(["token", "openrouter"])).stdout).toBe(`${K1}\n`);
      const earlier = await snapshot();
      // The team starts again: a new store id, at generation 1 like the earlier one.
      await del(PREFIX, "--prefix");
      await login(a, "openrouter", K2);
      expect((await b.run(["token", "openrouter"])).stdout).toBe(`${K2}\n`);
      const current = await snapshot();
      await restore(earlier);
      for (const box of [a, b])
        await refused(box, "openrouter", `${STORE} was rolled back: its manifest is an earlier store's (`);
      // Nothing was written, and the current store is taken again once it is back.
      expect(await snapshot()).toEqual(earlier);
      await restore(current);
      for (const box of [a, b]) expect((await box.run(["token", "openrouter"])).stdout).toBe(`${K2}\n`);
    }, 90_000);

    test("a machine that cannot record the generation it saw still reads the store, and says what it cannot notice", async () => {
      const [a, b] = [machine(), machine()];
      await login(a, "openrouter", K1);
      // Stands for a read-only AUTHCTL_HOME (the tests run as root, which a file mode would not stop).
      mkdirSync(join(b.home, "etcd-seen.json"), { recursive: true });
      const read = await b.run(["token", "openrouter"]);
      expectOk(read);
      expect(read.stdout).toBe(`${K1}\n`);
      expect(read.stderr).toContain(
        `could not record the team store's generation in ${join(b.home, "etcd-seen.json")} (`,
      );
      expect(read.stderr).toContain("a rollback of the whole store would not be noticed on this machine");
      const write = await b.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: K2 });
      expectOk(write);
      expect((await a.run(["token", "openrouter"])).stdout).toBe(`${K2}\n`);
    }, 60_000);

    test("a store written before the manifest existed is read as it is, adopted by its first write, and guarded from then on", async () => {
      await restore(LEGACY, LEGACY_PREFIX);
      const legacy = `the team store on etcd (prefix ${LEGACY_PREFIX})`;
      const a = machine({ prefix: LEGACY_PREFIX, sealKey: LEGACY_KEY });
      expect((await a.run(["token", "openrouter"])).stdout).toBe(`${LEGACY_OR}\n`);
      expect((await a.run(["token", "openrouter@work"])).stdout).toBe(`${LEGACY_WORK}\n`);
      // Reads do not write: not to etcd, not to this machine.
      expect(await snapshot(LEGACY_PREFIX)).toEqual(LEGACY);
      expect(await Bun.file(join(a.home, "etcd-seen.json")).exists()).toBe(false);

      await login(a, "openrouter@beta", K1);
      const adopted = await manifest(LEGACY_PREFIX);
      expect(adopted.generation).toBe(1);
      expect(Object.keys(adopted.records).sort()).toEqual([
        "openrouter",
        "openrouter@beta",
        "openrouter@work",
      ]);
      for (const ref of ["openrouter", "openrouter@work", "openrouter@beta"])
        expect((await a.run(["token", ref])).code).toBe(0);

      // From now on the old records are caught.
      const current = await get(`${LEGACY_PREFIX}credentials/openrouter`);
      await put(`${LEGACY_PREFIX}credentials/openrouter`, LEGACY[`${LEGACY_PREFIX}credentials/openrouter`]!);
      await refused(
        machine({ prefix: LEGACY_PREFIX, sealKey: LEGACY_KEY }),
        "openrouter",
        "the record of openrouter is not the version authctl last wrote",
      );
      await put(`${LEGACY_PREFIX}credentials/openrouter`, current);
      // The manifest deleted: every record now says it was written under one.
      await del(`${LEGACY_PREFIX}manifest`);
      await refused(
        machine({ prefix: LEGACY_PREFIX, sealKey: LEGACY_KEY }),
        "openrouter",
        "the manifest was deleted",
      );
      // The whole prefix put back to before the manifest: the machine that saw it refuses it.
      await restore(LEGACY, LEGACY_PREFIX);
      await refused(
        a,
        "openrouter",
        `${legacy} was rolled back: it has no manifest (${LEGACY_PREFIX}manifest), and this machine has seen generation 1`,
      );
    }, 90_000);

    test("concurrent logins on three machines all land, one manifest generation each", async () => {
      const machines = [machine(), machine(), machine()];
      const keys = Array.from({ length: 6 }, (_, i) =>
        secret(`sk-or-v1-concurrent${i}23456789abcdef0123456789abcdef0123456789abcdef0`),
      );
      const results = await Promise.all(
        keys.map((key, i) =>
          machines[i % 3]!.run(["login", `openrouter@m${i}`, "--with-key", "--no-verify"], { stdin: key }),
        ),
      );
      for (const result of results) expectOk(result);
      const written = await manifest();
      expect(written.generation).toBe(6);
      expect(Object.keys(written.records)).toHaveLength(6);
      for (const [i, key] of keys.entries())
        expect((await machines[(i + 1) % 3]!.run(["token", `openrouter@m${i}`])).stdout).toBe(`${key}\n`);
    }, 120_000);
  },
);
