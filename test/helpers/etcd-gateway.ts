/**
 * `env` on the team store in this process, against a stand-in for etcd's JSON gateway (a fetch
 * that answers the one range request the hot path makes), for the tests that count which Node
 * modules that read calls (test/unit/etcd-read-crypto.test.ts, etcd-read-fs.test.ts). The store
 * holds one openrouter record, the key check and a manifest at generation 3, written as a login
 * writes them.
 */
import { env } from "../../src/actions/env.ts";
import { openContextQuickly } from "../../src/compose.ts";
import type { Deps } from "../../src/deps.ts";
import { recordTag, sealManifest } from "../../src/store/etcd/manifest.ts";
import { createTeamKey, sealKeyCheck, sealRecord } from "../../src/store/etcd/seal.ts";
import type { StoredCredential } from "../../src/store/types.ts";
import { createTestDeps, type TestDeps } from "./deps.ts";

export const GATEWAY_KEY = "sk-or-v1-etcdquick0123456789abcdef";
export const GATEWAY_PREFIX = "/authctl/quick/";
/** The seal key (32 bytes of 9), and the manifest's store id and generation. */
export const GATEWAY_SEAL_KEY = Buffer.alloc(32, 9);
export const GATEWAY_STORE = { store: "QuickStore", generation: 3 };

export interface GatewayStore {
  t: TestDeps;
  /** Every request the store made: its URL and what fetch was given (the TLS files among it). */
  requests: { url: string; init?: RequestInit }[];
  /** `authctl env openrouter` through openContextQuickly, as cli/hot.ts runs it. */
  runEnv(): Promise<void>;
}

export interface GatewayOptions {
  /** Environment beside AUTHCTL_STORE=etcd; AUTHCTL_ETCD_KEY by default. */
  env?: Record<string, string | undefined>;
  /** The member's URL in config.toml (https: the TLS files go to fetch). */
  endpoint?: string;
  /** More lines for the [etcd] table (seal_key_file, ca_file…). */
  etcd?: string;
  deps?: Partial<Deps>;
}

export function teamStoreOnGateway(options: GatewayOptions = {}): GatewayStore {
  const key = createTeamKey(GATEWAY_SEAL_KEY, "test");
  const prefix = GATEWAY_PREFIX;
  // Written as a login would write it (the write path may use node:crypto and node:fs).
  const record = sealRecord(key, prefix, "openrouter", {
    method: "key",
    type: "api_key",
    key: GATEWAY_KEY,
    created_at: 1,
    updated_at: 1,
  } as StoredCredential);
  const kvs = {
    [`${prefix}credentials/openrouter`]: record,
    [`${prefix}key-check`]: sealKeyCheck(key, prefix),
    [`${prefix}manifest`]: sealManifest(key, prefix, {
      ...GATEWAY_STORE,
      records: { openrouter: recordTag(record) },
    }),
  };
  const requests: GatewayStore["requests"] = [];
  const gateway = (async (input: string | URL | Request, init?: RequestInit) => {
    requests.push({ url: String(input), init });
    if (!String(input).endsWith("/v3/kv/range")) return new Response("{}", { status: 404 });
    const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
    return Response.json({
      header: { revision: "9" },
      kvs: Object.entries(kvs).map(([k, value], i) => ({
        key: b64(k),
        value: b64(value),
        create_revision: String(i + 2),
        mod_revision: String(i + 2),
        version: "1",
      })),
    });
  }) as typeof fetch;
  const t = createTestDeps({
    env: {
      AUTHCTL_STORE: "etcd",
      AUTHCTL_ETCD_KEY: GATEWAY_SEAL_KEY.toString("base64"),
      ...options.env,
    },
    fetch: gateway,
    ...options.deps,
  });
  t.writeConfig(
    `store = "etcd"\n[etcd]\nendpoints = ["${options.endpoint ?? "http://127.0.0.1:2379"}"]\nprefix = "${prefix}"\n${options.etcd ?? ""}`,
  );
  return {
    t,
    requests,
    async runEnv() {
      const context = await openContextQuickly(t.deps);
      await env(context, { providerIds: ["openrouter"], format: "sh" });
    },
  };
}

/**
 * The functions of `modules` that `run` called, in order ("node:fs.readFileSync"). src/ requires
 * those modules on first use (lazy-fs.ts, require() at the point of use) and looks each function
 * up on the module object when it calls it, so wrapping every function of that object for the
 * length of `run` counts what it used (everything passes through).
 */
export async function callsDuring(modules: string[], run: () => Promise<unknown>): Promise<string[]> {
  const calls: string[] = [];
  const restore: (() => void)[] = [];
  try {
    for (const name of modules) {
      const module = require(name) as Record<string, unknown>;
      const before = restore.length;
      for (const [fn, value] of Object.entries(module)) {
        if (typeof value !== "function" || /^[A-Z]/.test(fn)) continue;
        try {
          module[fn] = function (this: unknown, ...args: unknown[]) {
            calls.push(`${name}.${fn}`);
            return (value as (...a: unknown[]) => unknown).apply(this, args);
          };
        } catch {
          continue; // read-only (node:os tmpdir)
        }
        restore.push(() => {
          module[fn] = value;
        });
      }
      if (restore.length - before < 10)
        throw new Error(`only ${restore.length - before} functions of ${name}`);
    }
    await run();
  } finally {
    for (const undo of restore) undo();
  }
  return calls;
}
