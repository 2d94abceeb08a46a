import { expect, test } from "bun:test";
import { join } from "node:path";
import { HOT_ENTRIES, ROOT, walkStaticImports } from "../helpers/import-graph.ts";

// `env`, `token` and `exec` load the modules below (main.ts statically, the rest on the way), and a
// compiled binary pays for each Node module they import when it loads them: node:fs about 5 MiB,
// node:crypto 4, node:path 2, node:os and node:tty 2–3, against a 25 MiB hello-world (issue 18,
// scripts/bench.ts). They use src/lazy-fs.ts, src/lazy-path.ts or a require() at the point of use.
const HEAVY =
  /^(node:)?(fs|fs\/promises|path|os|crypto|tty|util|stream|net|tls|http|https|readline|child_process)$/;

test("the modules env, token and exec load import no heavy Node module at top level", () => {
  const { seen, offenders } = walkStaticImports(HOT_ENTRIES, (specifier) => HEAVY.test(specifier));
  expect(seen.size).toBeGreaterThan(20);
  expect(offenders).toEqual([]);
});

// The team store (store/etcd/) is required by compose.ts when config.toml chooses it, and then
// `env`, `token` and `exec` load all of it: client.ts imported node:fs at top level to read the TLS
// files, so every read of the team store paid for node:fs, TLS or not (issue 18).
test("the team store's modules import no heavy Node module at top level", () => {
  const { seen, offenders } = walkStaticImports(["src/store/etcd/store.ts"], (specifier) =>
    HEAVY.test(specifier),
  );
  expect(seen.size).toBeGreaterThan(8);
  expect(offenders).toEqual([]);
});

// The sealing code (encrypted.ts) and the keyring's (keyring.ts, the D-Bus client) are required by
// the backend that uses them, when it does: statically imported, they were a 24 KB chunk that
// `env openrouter` on the plain file store loaded for nothing (issue 18: 0.4-0.5 MiB of peak
// memory for env, token and a fresh OAuth token). The opening half (store/opening.ts, _aead.ts)
// is imported: the usual case opens a store sealed with its key file with it, where a require()
// costs about 1 ms of CPU; measured over three builds of each, `env openrouter` on the plain
// file store peaks the same with it (30.7-30.8 MiB) and the encrypted store 1.1 MiB lower (issue 18).
const BACKEND_CODE = [
  "src/store/encrypted.ts",
  "src/store/keyring.ts",
  "src/store/secret-service.ts",
  "src/io/dbus.ts",
  "src/io/dbus-wire.ts",
  "src/io/os-secrets.ts",
];

test("the modules env, token and exec load import neither the sealing code nor the keyring's at top level", () => {
  const { seen, offenders } = walkStaticImports(HOT_ENTRIES, (_specifier, target) =>
    BACKEND_CODE.some((path) => target === join(ROOT, path)),
  );
  expect(seen.size).toBeGreaterThan(20);
  expect(offenders).toEqual([]);
});

// The usual-case lane (main.ts and what it imports: reads-ahead.ts, cli/usual.ts,
// actions/usual-case.ts) answers a keyring record with the store's own merge rules
// (_external-item.ts) and never loads the full path's store: the write and move code (_move.ts),
// the store object (backend-store.ts, file-store.ts, its lock) and the composition root come only
// with `await import("./root.ts")` when the lane hands over (issue 18).
const FULL_PATH_ONLY = [
  "src/root.ts",
  "src/compose.ts",
  "src/store/_move.ts",
  "src/store/backend-store.ts",
  "src/store/file-store.ts",
  "src/store/lock.ts",
];

test("the usual-case lane imports none of the full path's store code, nor the keyring's, at top level", () => {
  const { seen, offenders } = walkStaticImports(["src/main.ts"], (_specifier, target) =>
    [...FULL_PATH_ONLY, ...BACKEND_CODE].some((path) => target === join(ROOT, path)),
  );
  expect(seen).toContain(join(ROOT, "src/store/_external-item.ts"));
  expect(offenders).toEqual([]);
});
