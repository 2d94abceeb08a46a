/**
 * The backend registry (src/store/backends.ts) and what every registered backend promises, so a
 * new backend that breaks the contract of src/store/backend.ts fails here rather than in a store.
 */
import { expect, test } from "bun:test";
import {
  automaticBackends,
  BACKEND_NAMES,
  BACKENDS,
  backendFor,
  backendOfRecord,
  isBackendName,
  isStoreName,
  isWholeStoreName,
  listBackendNames,
  STORE_NAMES,
  storeBackendFor,
} from "../../src/store/backends.ts";
import { chooseBackend, parseStoreName } from "../../src/store/select-backend.ts";
import { describeStore } from "../../src/store/stores.ts";
import type { StoredCredential } from "../../src/store/types.ts";

const record = (fields: Record<string, unknown>) =>
  ({ method: "key", type: "api_key", created_at: 1, updated_at: 1, ...fields }) as StoredCredential;

test("every backend is registered under its own name and describes itself for people", () => {
  for (const [key, backend] of Object.entries(BACKENDS)) {
    expect(backend.name).toBe(key as typeof backend.name);
    expect(storeBackendFor(backend.name)).toBe(backend);
    expect(describeStore(backend.name)).toBe(backend);
    expect(backend.label).toMatch(/^the /);
    expect(backend.describeLocation("/h/credentials.toml")).toMatch(/^(in|encrypted in) /);
    expect(backend.unreadSecret).toMatch(/^\(.+\)$/);
    expect(typeof backend.inClear).toBe("boolean");
    expect(typeof backend.usesStoreKey).toBe("boolean");
    if (backend.kind === "store") {
      // A whole store: holds metadata and secrets (its snapshot has the secrets), opens itself,
      // is never chosen without being asked, and is not a backend of the local store.
      expect(backend.asyncReads).toBe(false);
      expect(backend.autoRank).toBeUndefined();
      expect(backend.unavailableHint).toBeTruthy();
      expect(typeof backend.openStore).toBe("function");
      expect(isBackendName(backend.name)).toBe(false);
      expect(isWholeStoreName(backend.name)).toBe(true);
      continue;
    }
    expect(backendFor(backend.name)).toBe(backend);
    expect(isBackendName(backend.name)).toBe(true);
    expect(isWholeStoreName(backend.name)).toBe(false);
    if (backend.kind === "external") {
      expect(backend.asyncReads).toBe(true);
      expect(backend.itemName("openrouter")).toContain("openrouter");
    } else expect(backend.asyncReads).toBe(false);
  }
  expect(STORE_NAMES).toEqual(["keyring", "encrypted", "file", "etcd"]);
  expect(BACKEND_NAMES).toEqual(["keyring", "encrypted", "file"]);
  expect(listBackendNames()).toBe("keyring, encrypted, file or etcd");
  expect(isBackendName("keyring")).toBe(true);
  expect(isBackendName("constructor")).toBe(false);
  expect(isStoreName("constructor")).toBe(false);
  expect(isWholeStoreName("etcd")).toBe(true);
});

test("a whole store does not open without its config table, and says where to add it", () => {
  const etcd = BACKENDS.etcd;
  expect(etcd.kind).toBe("store");
  expect(() =>
    etcd.openStore({
      env: {},
      home: "/h",
      settings: undefined,
      configPath: "/h/config.toml",
      fetch,
      hostname: "h",
      lockTimeoutMs: 1000,
      notify: () => {},
    }),
  ).toThrow("the team store on etcd needs an [etcd] table in /h/config.toml");
});

test("an unknown store name lists every registered name, whole stores included", () => {
  expect(() => chooseBackend({ AUTHCTL_STORE: "vault" }, undefined)).toThrow(
    'AUTHCTL_STORE must be keyring, encrypted, file or etcd, not "vault"',
  );
  expect(() => chooseBackend({}, "vault")).toThrow(
    'store in config.toml must be keyring, encrypted, file or etcd, not "vault"',
  );
  expect(parseStoreName("etcd", "--to")).toBe("etcd");
  expect(() => parseStoreName("vault", "--to")).toThrow("keyring, encrypted, file or etcd");
});

test("automatic selection ends with a backend that needs nothing, and never picks the plain file", () => {
  const automatic = automaticBackends();
  expect(automatic.map((b) => b.name)).toEqual(["keyring", "encrypted"]);
  const last = automatic.at(-1)!;
  expect(last.kind).toBe("index");
  expect(automatic.some((b) => b.inClear)).toBe(false);
  expect(automatic.some((b) => (b.kind as string) === "store")).toBe(false);
});

test("a record's backend is read from its shape: the external marker, sealed values, else the plain file", () => {
  expect(backendOfRecord(record({ secret_store: "keyring" })).name).toBe("keyring");
  expect(backendOfRecord(record({ key: "enc:v1:AAAA" })).name).toBe("encrypted");
  expect(backendOfRecord(record({ extra: { copilot_token: "enc:v1:AAAA" } })).name).toBe("encrypted");
  expect(backendOfRecord(record({ key: "sk-plain" })).name).toBe("file");
  // A marker this authctl does not know (a newer one wrote it) is not an external backend.
  expect(backendOfRecord(record({ secret_store: "vault", key: "sk-plain" })).name).toBe("file");
  expect(backendOfRecord(record({ secret_store: "encrypted", key: "sk-plain" })).name).toBe("file");
});
