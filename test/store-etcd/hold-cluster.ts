/**
 * Not a test: a process that starts a cluster, prints its data directories and waits to be
 * killed. cluster.test.ts SIGKILLs it to check that the members die with it.
 */
import { startEtcdCluster } from "../helpers/etcd-cluster.ts";

const cluster = await startEtcdCluster();
console.log(JSON.stringify(cluster.members.map((m) => m.dataDir)));
await new Promise(() => {});
