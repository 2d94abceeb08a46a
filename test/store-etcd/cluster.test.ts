import { describe, expect, test } from "bun:test";
import { existsSync, rmSync, utimesSync } from "node:fs";
import { dirname, join } from "node:path";
import { HAVE_ETCD, startEtcdCluster, strayEtcdPids } from "../helpers/etcd-cluster.ts";
import { useEtcdCluster } from "../helpers/etcd-team.ts";

/** The pids of running etcd members whose command line names one of `dirs`. */
function membersUsing(dirs: string[]): number[] {
  const listed = Bun.spawnSync(["pgrep", "-a", "-x", "etcd"], { stdout: "pipe" }).stdout.toString();
  return listed
    .split("\n")
    .filter((line) => dirs.some((dir) => line.includes(dir)))
    .map((line) => Number(line.split(" ")[0]));
}

describe.skipIf(!HAVE_ETCD)("the etcd test cluster", () => {
  const etcd = useEtcdCluster();

  test("three members serve, survive one kill, rejoin after a restart, and leave nothing behind", async () => {
    expect((await etcd.cluster.etcdctl(["put", "/t/a", "1"])).code).toBe(0);
    await etcd.cluster.kill(0);
    expect((await etcd.cluster.etcdctl(["get", "/t/a", "--print-value-only"])).stdout.trim()).toBe("1");
    await etcd.cluster.restart(0);
    const status = await etcd.cluster.etcdctl(["endpoint", "health", "--cluster"]);
    expect(status.code).toBe(0);
    expect(strayEtcdPids(etcd.cluster)).toHaveLength(3);
    await etcd.cluster.stop();
    expect(strayEtcdPids(etcd.cluster)).toHaveLength(0);
  }, 90_000);

  test("members die with a test process that is SIGKILLed (no handler of it runs)", async () => {
    const holder = Bun.spawn([process.execPath, join(import.meta.dir, "hold-cluster.ts")], {
      stdout: "pipe",
      stderr: "inherit",
    });
    const reader = holder.stdout.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const dirs = JSON.parse(text) as string[];
    try {
      expect(membersUsing(dirs)).toHaveLength(3);
      holder.kill("SIGKILL");
      await holder.exited;
      // The kernel delivers the death signal as the parent exits; reaping the members takes a moment.
      for (let i = 0; i < 100 && membersUsing(dirs).length > 0; i++) await Bun.sleep(100);
      expect(membersUsing(dirs)).toEqual([]);
      // Its data (preallocated WAL, in memory under /dev/shm) goes with the next cluster started
      // once it is two minutes old: made so here rather than waited for.
      const root = dirname(dirs[0]!);
      const past = new Date(Date.now() - 180_000);
      utimesSync(root, past, past);
      const next = await startEtcdCluster();
      await next.stop();
      expect(existsSync(root)).toBe(false);
    } finally {
      for (const pid of membersUsing(dirs)) process.kill(pid, "SIGKILL");
      rmSync(dirname(dirs[0]!), { recursive: true, force: true });
    }
  }, 90_000);
});
