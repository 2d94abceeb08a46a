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
  listBackendNames,
} from "../../src/store/backends.ts";
import type { StoredCredential } from "../../src/store/types.ts";

const record = (fields: Record<string, unknown>) =>
  ({ method: "key", type: "api_key", created_at: 1, updated_at: 1, ...fields }) as StoredCredential;

test("every backend is registered under its own name and describes itself for people", () => {
  for (const [key, backend] of Object.entries(BACKENDS)) {
    expect(backend.name).toBe(key as typeof backend.name);
    expect(backendFor(backend.name)).toBe(backend);
    expect(backend.label).toMatch(/^the /);
    expect(backend.describeLocation("/h/credentials.toml")).toMatch(/^(in|encrypted in) /);
    expect(backend.unreadSecret).toMatch(/^\(.+\)$/);
    if (backend.kind === "external") {
      expect(backend.asyncReads).toBe(true);
      expect(backend.itemName("openrouter")).toContain("openrouter");
    } else expect(backend.asyncReads).toBe(false);
  }
  expect(BACKEND_NAMES).toEqual(["keyring", "encrypted", "file"]);
  expect(listBackendNames()).toBe("keyring, encrypted or file");
  expect(isBackendName("keyring")).toBe(true);
  expect(isBackendName("constructor")).toBe(false);
});

test("automatic selection ends with a backend that needs nothing, and never picks the plain file", () => {
  const automatic = automaticBackends();
  expect(automatic.map((b) => b.name)).toEqual(["keyring", "encrypted"]);
  const last = automatic.at(-1)!;
  expect(last.kind).toBe("index");
  expect(automatic.some((b) => b.inClear)).toBe(false);
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
