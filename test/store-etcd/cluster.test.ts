import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type EtcdCluster, HAVE_ETCD, startEtcdCluster, strayEtcdPids } from "../helpers/etcd-cluster.ts";

describe.skipIf(!HAVE_ETCD)("the etcd test cluster", () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster();
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  test("three members serve, survive one kill, rejoin after a restart, and leave nothing behind", async () => {
    expect((await cluster.etcdctl(["put", "/t/a", "1"])).code).toBe(0);
    await cluster.kill(0);
    expect((await cluster.etcdctl(["get", "/t/a", "--print-value-only"])).stdout.trim()).toBe("1");
    await cluster.restart(0);
    const status = await cluster.etcdctl(["endpoint", "health", "--cluster"]);
    expect(status.code).toBe(0);
    expect(strayEtcdPids(cluster)).toHaveLength(3);
    await cluster.stop();
    expect(strayEtcdPids(cluster)).toHaveLength(0);
  }, 90_000);
});
