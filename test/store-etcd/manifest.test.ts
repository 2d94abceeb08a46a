/**
 * The team store's manifest (src/store/etcd/manifest.ts): what its MAC binds, and the
 * compare-and-swap retry of a write whose manifest moved under it, against a real cluster.
 */
import { describe, expect, test } from "bun:test";
import { createEtcdClient } from "../../src/store/etcd/client.ts";
import { type Manifest, openManifest, recordTag, sealManifest } from "../../src/store/etcd/manifest.ts";
import { createTeamKey, sealRecord } from "../../src/store/etcd/seal.ts";
import { createEtcdStore } from "../../src/store/etcd/store.ts";
import type { StoredCredential } from "../../src/store/types.ts";
import { HAVE_ETCD } from "../helpers/etcd-cluster.ts";
import { useEtcdCluster } from "../helpers/etcd-team.ts";

const RAW = Buffer.alloc(32, 21);
const key = createTeamKey(RAW, "test");
const PREFIX = "/authctl/manifest-test/";

const apiKey = (value: string) =>
  ({ type: "api_key", method: "key", key: value, updated_at: 1 }) as unknown as StoredCredential;

describe("the manifest's MAC", () => {
  const manifest: Manifest = { store: "s1", generation: 3, records: { openrouter: recordTag("x") } };
  const text = sealManifest(key, PREFIX, manifest);

  test("opens under its key and prefix only, and with nothing changed", () => {
    expect(openManifest(key, PREFIX, text)).toEqual(manifest);
    expect(openManifest(key, "/authctl/other/", text)).toBeUndefined();
    expect(openManifest(createTeamKey(Buffer.alloc(32, 22), "other"), PREFIX, text)).toBeUndefined();
    const parsed = JSON.parse(text);
    for (const change of [
      { generation: 4 },
      { store: "s2" },
      { records: {} },
      { records: { openrouter: recordTag("y") } },
      { records: { ...parsed.records, "openrouter@work": recordTag("x") } },
    ])
      expect(openManifest(key, PREFIX, JSON.stringify({ ...parsed, ...change }))).toBeUndefined();
  });

  test("its key is its own: neither the AES key nor the record MAC key", () => {
    expect(key.manifestKey.length).toBe(32);
    expect(key.manifestKey.equals(RAW)).toBe(false);
    expect(key.manifestKey.equals(key.macKey)).toBe(false);
  });
});

describe.skipIf(!HAVE_ETCD)("a write whose manifest moved while it held the lock", () => {
  const etcd = useEtcdCluster();

  const open = () =>
    createEtcdStore({
      settings: { endpoints: etcd.cluster.endpoints, prefix: PREFIX, lock_ttl: 5, timeout: 10 },
      sealKey: RAW.toString("base64"),
      fetch,
      hostname: "test",
      lockTimeoutMs: 10_000,
      notify: () => {},
    });

  test("is applied on top of the newer manifest (a CAS retry), not lost and not refused", async () => {
    const store = open();
    await store.open();
    await store.update((credentials) => {
      credentials.openrouter = apiKey("sk-one");
    });
    const client = createEtcdClient({
      endpoints: etcd.cluster.endpoints,
      memberTimeoutMs: 3000,
      totalTimeoutMs: 10_000,
      fetch,
    });
    await store.update(async (credentials) => {
      // A writer with the seal key that does not take the lock writes another record and its
      // manifest while this update holds the lock.
      const current = (await client.range(`${PREFIX}manifest`)).kvs[0]!;
      const before = openManifest(key, PREFIX, current.value)!;
      const record = sealRecord(key, PREFIX, "anthropic", apiKey("sk-ant-other"));
      const moved: Manifest = {
        ...before,
        generation: before.generation + 1,
        records: { ...before.records, anthropic: recordTag(record) },
      };
      const done = await client.txn(
        [{ key: `${PREFIX}manifest`, target: "MOD", modRevision: current.modRevision }],
        [
          { put: { key: `${PREFIX}credentials/anthropic`, value: record } },
          { put: { key: `${PREFIX}manifest`, value: sealManifest(key, PREFIX, moved) } },
        ],
      );
      expect(done.succeeded).toBe(true);
      credentials["openrouter@work"] = apiKey("sk-two");
    });
    const reader = open();
    await reader.open();
    const snapshot = reader.read();
    expect(snapshot.damaged).toBeUndefined();
    expect(Object.keys(snapshot.credentials).sort()).toEqual(["anthropic", "openrouter", "openrouter@work"]);
    const final = openManifest(key, PREFIX, (await client.range(`${PREFIX}manifest`)).kvs[0]!.value)!;
    expect(final.generation).toBe(3);
  }, 60_000);
});
