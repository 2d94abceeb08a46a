import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { seenKey } from "../../src/store/etcd/_seen.ts";
import {
  callsDuring,
  GATEWAY_KEY,
  GATEWAY_PREFIX,
  GATEWAY_SEAL_KEY,
  GATEWAY_STORE,
  teamStoreOnGateway,
} from "../helpers/etcd-gateway.ts";

// `env`, `token` and `exec` on the team store read files besides etcd's answer: etcd-seen.json
// (the rollback check, on every read), the seal key file when config.toml names one, and the TLS
// files over https. They read them with node:fs (about 5 MiB of a compiled binary's memory), and
// the store asked for the host name (node:os) before anything needed it (issue 18). The usual
// case is now read with Bun's file API (store/quick-read.ts); anything unusual still goes to
// node:fs, which means what it meant before. Counted as etcd-read-crypto.test.ts counts node:crypto.
const NODE = ["node:fs", "node:os", "node:path"];
const ENDPOINT = "http://127.0.0.1:2379";
const hostname = () => (require("node:os") as typeof import("node:os")).hostname();
const SEEN_AT_5 = `${JSON.stringify({
  v: 1,
  stores: { [seenKey([ENDPOINT], GATEWAY_PREFIX)]: { store: GATEWAY_STORE.store, generation: 5 } },
})}\n`;
const ROLLED_BACK =
  "was rolled back: its manifest is at generation 3, and this machine has seen generation 5";

describe("env on the team store reads its files with Bun's file API", () => {
  test("etcd-seen.json: no node:fs, node:os or node:path call, and a rollback is still refused", async () => {
    const { t, runEnv } = teamStoreOnGateway({ deps: { hostname } });
    try {
      // The first read on this machine records generation 3 (a write: node:fs).
      await runEnv();
      const seenFile = join(t.home, "etcd-seen.json");
      expect(readFileSync(seenFile, "utf8")).toContain('"generation":3');
      expect(await callsDuring(NODE, runEnv)).toEqual([]);
      expect(t.stdout()).toBe(`export OPENROUTER_API_KEY='${GATEWAY_KEY}'\n`.repeat(2));
      // This machine saw generation 5: the store answering generation 3 was rolled back. The
      // check read the file with Bun's file API and refused, as it refused with node:fs.
      writeFileSync(seenFile, SEEN_AT_5, { mode: 0o600 });
      let error: unknown;
      const calls = await callsDuring(NODE, () => runEnv().catch((thrown) => void (error = thrown)));
      expect(String((error as Error)?.message)).toContain(ROLLED_BACK);
      expect(calls).toEqual([]);
      expect(t.stdout()).toBe(`export OPENROUTER_API_KEY='${GATEWAY_KEY}'\n`.repeat(2));
    } finally {
      t.cleanup();
    }
  });

  test("seal_key_file, and ca_file, cert_file and key_file over https: read without node:fs and handed to fetch as before", async () => {
    const { t, requests, runEnv } = teamStoreOnGateway({
      env: { AUTHCTL_ETCD_KEY: undefined },
      endpoint: "https://127.0.0.1:2379",
      deps: { hostname },
    });
    try {
      const files = {
        seal: join(t.root, "seal.key"),
        ca: join(t.root, "ca.pem"),
        cert: join(t.root, "client.pem"),
        key: join(t.root, "client-key.pem"),
      };
      writeFileSync(files.seal, `${GATEWAY_SEAL_KEY.toString("base64")}\n`, { mode: 0o600 });
      const pem = (what: string) => `-----BEGIN ${what}-----\nMIIB${what.length}\n-----END ${what}-----\n`;
      writeFileSync(files.ca, pem("CERTIFICATE"), { mode: 0o644 });
      writeFileSync(files.cert, pem("CERTIFICATE"), { mode: 0o644 });
      writeFileSync(files.key, pem("PRIVATE KEY"), { mode: 0o600 });
      t.writeConfig(
        `store = "etcd"\n[etcd]\nendpoints = ["https://127.0.0.1:2379"]\nprefix = "${GATEWAY_PREFIX}"\nseal_key_file = "${files.seal}"\nca_file = "${files.ca}"\ncert_file = "${files.cert}"\nkey_file = "${files.key}"\n`,
      );
      await runEnv();
      expect(await callsDuring(NODE, runEnv)).toEqual([]);
      expect(t.stdout()).toBe(`export OPENROUTER_API_KEY='${GATEWAY_KEY}'\n`.repeat(2));
      expect(requests.map((request) => (request.init as { tls?: unknown }).tls)).toEqual(
        Array(2).fill({ ca: pem("CERTIFICATE"), cert: pem("CERTIFICATE"), key: pem("PRIVATE KEY") }),
      );
    } finally {
      t.cleanup();
    }
  });

  test("an unusual etcd-seen.json, seal key file or ca_file is read with node:fs, and means what it meant", async () => {
    const { t, runEnv } = teamStoreOnGateway({ env: { AUTHCTL_ETCD_KEY: undefined }, deps: { hostname } });
    try {
      const sealFile = join(t.root, "seal.key");
      // Others may write both: not the usual case, so node:fs reads them, which accepts them as before.
      writeFileSync(sealFile, GATEWAY_SEAL_KEY);
      chmodSync(sealFile, 0o666);
      t.writeConfig(
        `store = "etcd"\n[etcd]\nendpoints = ["${ENDPOINT}"]\nprefix = "${GATEWAY_PREFIX}"\nseal_key_file = "${sealFile}"\n`,
      );
      const seenFile = join(t.home, "etcd-seen.json");
      writeFileSync(seenFile, SEEN_AT_5);
      chmodSync(seenFile, 0o666);
      let error: unknown;
      const calls = await callsDuring(NODE, () => runEnv().catch((thrown) => void (error = thrown)));
      expect(String((error as Error)?.message)).toContain(ROLLED_BACK);
      expect(calls.filter((call) => call === "node:fs.readFileSync")).toHaveLength(2);
      // A directory where etcd-seen.json belongs: nothing seen yet, as before (and it cannot be
      // recorded: the person is told).
      const dir = teamStoreOnGateway();
      try {
        mkdirSync(join(dir.t.home, "etcd-seen.json"));
        await dir.runEnv();
        expect(dir.t.stdout()).toBe(`export OPENROUTER_API_KEY='${GATEWAY_KEY}'\n`);
        expect(dir.t.stderr()).toContain("could not record the team store's generation in");
      } finally {
        dir.t.cleanup();
      }
      // A ca_file that is not there: the same error as before, naming it.
      const missing = join(t.root, "no-ca.pem");
      t.writeConfig(
        `store = "etcd"\n[etcd]\nendpoints = ["https://127.0.0.1:2379"]\nprefix = "${GATEWAY_PREFIX}"\nseal_key_file = "${sealFile}"\nca_file = "${missing}"\n`,
      );
      await expect(runEnv()).rejects.toMatchObject({
        code: "CONFIG_INVALID",
        message: `cannot read [etcd] ca_file ${missing}: ENOENT`,
      });
    } finally {
      t.cleanup();
    }
  });
});
