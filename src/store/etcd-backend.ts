/**
 * The team store on etcd as a registry entry (a whole store: see backend.ts). Only this object is
 * loaded with the registry; the etcd code (store/etcd/) is required when the store is opened.
 */
import { AuthctlError } from "../errors.ts";
import { join } from "../lazy-path.ts";
import type { WholeStoreBackend } from "./backend.ts";
import type { EtcdSettings } from "./etcd/store.ts";

export const etcdBackend: WholeStoreBackend<"etcd"> = {
  kind: "store",
  name: "etcd",
  label: "the team store on etcd",
  describeLocation: (storePath) => `in ${storePath}`,
  unreadSecret: "(secret sealed in etcd)",
  // The team store's snapshot holds the secrets already: open() read them in one request.
  asyncReads: false,
  inClear: false,
  usesStoreKey: false,
  unavailableHint: "check [etcd] endpoints in config.toml and that the cluster answers",
  openStore(options) {
    if (!options.settings) {
      throw new AuthctlError(
        "CONFIG_INVALID",
        `the team store on etcd needs an [etcd] table in ${options.configPath}`,
        {
          hint: 'add [etcd] with endpoints = ["https://…:2379"] (see the README), or choose another store',
        },
      );
    }
    const { createEtcdBackendStore } = require("./etcd/store.ts") as typeof import("./etcd/store.ts");
    return createEtcdBackendStore({
      settings: options.settings as EtcdSettings,
      password: options.env.AUTHCTL_ETCD_PASSWORD || undefined,
      sealKey: options.env.AUTHCTL_ETCD_KEY || undefined,
      fetch: options.fetch,
      seenFile: join(options.home, "etcd-seen.json"),
      // TEST ONLY: a deterministic stall before a refresh request (store/etcd/_lock.ts). Only
      // test/e2e/store-etcd-stall.test.ts sets this variable.
      testStallFile: options.env.AUTHCTL_TEST_ETCD_STALL_BEFORE_REFRESH || undefined,
      // A getter passed on: the store reads it when a write takes the lock (StoreOpenOptions).
      get hostname() {
        return options.hostname;
      },
      lockTimeoutMs: options.lockTimeoutMs,
      notify: options.notify,
    });
  },
};
