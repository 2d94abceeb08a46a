/**
 * The JSON-gateway client against a real three-member cluster: the calls the store makes, a
 * member that is down skipped, a cluster without quorum reported within the request's bound.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createEtcdClient, type EtcdClient, prefixEnd } from "../../src/store/etcd/client.ts";
import { type EtcdCluster, HAVE_ETCD, startEtcdCluster } from "../helpers/etcd-cluster.ts";

describe.skipIf(!HAVE_ETCD)("etcd gateway client", () => {
  let cluster: EtcdCluster;
  let client: EtcdClient;
  beforeAll(async () => {
    cluster = await startEtcdCluster();
    client = createEtcdClient({
      endpoints: cluster.endpoints,
      memberTimeoutMs: 2000,
      totalTimeoutMs: 6000,
      fetch,
    });
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  test("put, range over a prefix, compare-and-swap transactions", async () => {
    await client.put("/p/a", "1");
    await client.put("/p/b", "ü2");
    await client.put("/q", "x");
    const { kvs } = await client.range("/p/", prefixEnd("/p/"));
    expect(kvs.map((kv) => [kv.key, kv.value])).toEqual([
      ["/p/a", "1"],
      ["/p/b", "ü2"],
    ]);
    const a = kvs[0]!;
    const lost = await client.txn(
      [{ key: "/p/a", target: "MOD", modRevision: a.modRevision - 1 }],
      [{ put: { key: "/p/a", value: "2" } }],
      [{ range: { key: "/p/a" } }],
    );
    expect(lost.succeeded).toBe(false);
    expect(lost.ranges[0]![0]!.value).toBe("1");
    const won = await client.txn(
      [{ key: "/p/a", target: "MOD", modRevision: a.modRevision }],
      [{ put: { key: "/p/a", value: "2" } }],
    );
    expect(won.succeeded).toBe(true);
    const create = await client.txn(
      [{ key: "/p/new", target: "CREATE", createRevision: 0 }],
      [{ put: { key: "/p/new", value: "n" } }],
    );
    expect(create.succeeded).toBe(true);
    expect(await client.deleteRange("/p/", prefixEnd("/p/"))).toBe(3);
  }, 30_000);

  test("a key held by a lease: kept alive, compared by lease, gone when revoked", async () => {
    const lease = await client.leaseGrant(5);
    expect(lease.ttl).toBeGreaterThan(0);
    const took = await client.txn(
      [{ key: "/lock", target: "CREATE", createRevision: 0 }],
      [{ put: { key: "/lock", value: "me", lease: lease.id } }],
    );
    expect(took.succeeded).toBe(true);
    expect(await client.leaseKeepAlive(lease.id)).toBeGreaterThan(0);
    const mine = await client.txn([{ key: "/lock", target: "LEASE", lease: lease.id }], []);
    expect(mine.succeeded).toBe(true);
    await client.leaseRevoke(lease.id);
    expect((await client.range("/lock")).kvs).toHaveLength(0);
    expect(await client.leaseKeepAlive(lease.id)).toBeLessThanOrEqual(0);
    const notMine = await client.txn([{ key: "/lock", target: "LEASE", lease: lease.id }], []);
    expect(notMine.succeeded).toBe(false);
  }, 30_000);

  test("a member that accepts connections but does not answer is skipped within the per-member bound", async () => {
    await client.put("/slow", "1");
    cluster.pause(0);
    try {
      const fresh = createEtcdClient({
        endpoints: cluster.endpoints,
        memberTimeoutMs: 1500,
        totalTimeoutMs: 10_000,
        fetch,
      });
      const began = Date.now();
      expect((await fresh.range("/slow")).kvs[0]!.value).toBe("1");
      expect(fresh.answered).not.toBe(cluster.endpoints[0]);
      // One bound for the paused member, then an answer from the next (an election, when the
      // paused one led, is waited out by the member asked).
      expect(Date.now() - began).toBeLessThan(10_000);
    } finally {
      cluster.resume(0);
    }
    await cluster.waitHealthy();
  }, 60_000);

  test("a member that is down is skipped; without quorum the error says so within the bound", async () => {
    await client.put("/f", "1");
    await cluster.kill(0);
    const fresh = createEtcdClient({
      endpoints: cluster.endpoints,
      memberTimeoutMs: 2000,
      totalTimeoutMs: 6000,
      fetch,
    });
    expect((await fresh.range("/f")).kvs[0]!.value).toBe("1");
    expect(fresh.answered).not.toBe(cluster.endpoints[0]);
    await cluster.kill(1);
    const began = Date.now();
    const error = await fresh.range("/f").catch((e) => e);
    expect(String(error.message)).toMatch(
      /^the etcd cluster has no quorum: no member could serve within 6 s/,
    );
    expect(Date.now() - began).toBeLessThan(15_000);
    await cluster.restart(0);
    await cluster.restart(1);
    expect((await fresh.range("/f")).kvs[0]!.value).toBe("1");
  }, 90_000);
});
