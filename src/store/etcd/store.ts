/**
 * The team store on etcd (issue 21): every credential is one key, `<prefix>credentials/<id>`,
 * holding the whole record (metadata authenticated, secrets sealed: seal.ts), so a login made on
 * one machine is served on every machine that shares the prefix and the seal key.
 *
 * Reads: `open()` is one linearizable range over the prefix (the hot path's only request when
 * nothing is due); `read()` then answers from it synchronously, like the file store.
 *
 * Writes (`update`) are single-flight across machines, the way lock.ts makes them across
 * processes: a lock key `<prefix>lock` created only if absent (txn `create_revision == 0`) and
 * attached to a lease, kept alive while the holder works, so a holder that dies releases it when
 * the lease expires. Inside the lock the store is read again, `fn` runs (a refresh re-checks
 * whether it is still due there), and the changes are written in one transaction that compares
 * the mod_revision of every key it read and that the lock is still held by this lease: an older
 * token never overwrites a newer one, and a holder whose lease expired mid-refresh (so that
 * another machine may hold the lock now) writes nothing.
 */
import { AuthctlError } from "../../errors.ts";
import { canonicalJson, listSecrets } from "../_secret-fields.ts";
import type { BackendStore } from "../backend-store.ts";
import type { Credentials, HeldLock, StoreSnapshot, StoredCredential } from "../types.ts";
import { type HeldLease, LeaseLapsed, withEtcdLock } from "./_lock.ts";
import { type Loaded, type Opened, openStoreState } from "./_open.ts";
import { readFileQuickly, USE_NODE_FS } from "../quick-read.ts";
import { readSeenQuickly, recordSeen, seenKey } from "./_seen.ts";
import {
  type Compare,
  createEtcdClient,
  type EtcdClient,
  type KeyValue,
  type Operation,
  prefixEnd,
} from "./client.ts";
import { type Manifest, newStoreId, openManifest, recordTag, sealManifest } from "./manifest.ts";
import {
  loadTeamKey,
  openRecordsAhead,
  recordMetadata,
  sealKeyCheck,
  sealRecord,
  type TeamKey,
} from "./seal.ts";

export interface EtcdSettings {
  endpoints: string[];
  prefix: string;
  username?: string;
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  seal_key_file?: string;
  /** Seconds the lock's lease lives without a keepalive (a dead holder's lock goes after this). */
  lock_ttl: number;
  /** Seconds one request may take across all members. */
  timeout: number;
}

export interface EtcdStoreOptions {
  settings: EtcdSettings;
  password?: string;
  sealKey?: string;
  fetch: typeof fetch;
  /**
   * `<AUTHCTL_HOME>/etcd-seen.json`: the newest generation of the store this machine has seen, so
   * that a rollback of the whole prefix is noticed here (_seen.ts). Without it, not checked.
   */
  seenFile?: string;
  /** TEST ONLY: see EtcdLockOptions.testStallFile (_lock.ts). */
  testStallFile?: string;
  /** The lock's owner; read when a write takes the lock (may be a getter: StoreOpenOptions). */
  hostname: string;
  /** How long update() waits for another machine's lock. */
  lockTimeoutMs: number;
  notify(message: string): void;
}

export interface EtcdStore {
  readonly path: string;
  readonly backend: "etcd";
  /** The endpoint that answered last, for `status`. */
  readonly answered: string | undefined;
  readonly prefix: string;
  open(): Promise<void>;
  read(): StoreSnapshot;
  readMetadata(): StoreSnapshot;
  readSecrets(id: string): Promise<StoredCredential | undefined>;
  update<T>(fn: (credentials: Credentials) => T | Promise<T>): Promise<T>;
  assertWritable(): void;
}

const CREDENTIALS = "credentials/";

export function createEtcdStore(options: EtcdStoreOptions): EtcdStore {
  const { settings } = options;
  const prefix = settings.prefix;
  const lockKey = `${prefix}lock`;
  const keyCheckKey = `${prefix}key-check`;
  const manifestKey = `${prefix}manifest`;
  const seenId = seenKey(settings.endpoints, prefix);
  const credentialsPrefix = `${prefix}${CREDENTIALS}`;
  const path = `the team store on etcd (prefix ${prefix})`;
  const timeoutMs = settings.timeout * 1000;
  const client: EtcdClient = createEtcdClient({
    endpoints: settings.endpoints,
    username: settings.username,
    password: options.password,
    caFile: settings.ca_file,
    certFile: settings.cert_file,
    keyFile: settings.key_file,
    memberTimeoutMs: Math.min(3000, timeoutMs),
    totalTimeoutMs: timeoutMs,
    fetch: options.fetch,
  });
  let teamKey: TeamKey | undefined;
  /** The seal key file's bytes, read by open() (taken by the next key() that loads the key). */
  let keyBytes: Uint8Array | undefined;
  const key = () => {
    if (teamKey) return teamKey;
    const early = keyBytes;
    keyBytes = undefined;
    return (teamKey = loadTeamKey(options.sealKey, settings.seal_key_file, early));
  };
  let loaded: Loaded | undefined;
  let opened: Opened | undefined;
  /** etcd-seen.json as open() read it after its request: for the first check of that state only. */
  let seenAfterOpen: { state: Loaded; text: string } | undefined;

  async function fetchAll(): Promise<Loaded> {
    const { kvs } = await client.range(prefix, prefixEnd(prefix));
    const records = new Map<string, KeyValue>();
    let keyCheck: KeyValue | undefined;
    let manifest: KeyValue | undefined;
    for (const kv of kvs) {
      if (kv.key.startsWith(credentialsPrefix)) records.set(kv.key.slice(credentialsPrefix.length), kv);
      else if (kv.key === keyCheckKey) keyCheck = kv;
      else if (kv.key === manifestKey) manifest = kv;
    }
    return { records, keyCheck, manifest };
  }

  function wrongKey(): AuthctlError {
    return new AuthctlError(
      "STORE_CORRUPT",
      `the etcd seal key from ${key().source} is not the one this team store is sealed with (it does not open ${keyCheckKey})`,
      { hint: "use the team's seal key (AUTHCTL_ETCD_KEY or [etcd] seal_key_file)" },
    );
  }

  const openAll = (state: Loaded): Opened => {
    const seenText = seenAfterOpen?.state === state ? seenAfterOpen.text : undefined;
    seenAfterOpen = undefined;
    return openStoreState(state, {
      key,
      prefix,
      path,
      manifestKey,
      seenFile: options.seenFile,
      seenId,
      seenText,
      notify: options.notify,
      wrongKey,
    });
  };

  /**
   * The sealed values read() will open, opened now with crypto.subtle (seal.ts openRecordsAhead),
   * so the read `env`, `token` and `exec` make loads no node:crypto (issue 18: measured, opening
   * them with node:crypto instead is about 2 ms slower and 0.4 MiB smaller). A store
   * openStoreState would not open needs no key; a missing or malformed key is left for read() to
   * report, as it did before.
   */
  async function openAhead(state: Loaded): Promise<void> {
    if (state.records.size === 0 && !state.manifest) return;
    let k: TeamKey;
    try {
      k = key();
    } catch {
      return;
    }
    const records = [...state.records].map(([id, kv]): [string, string] => [id, kv.value]);
    await openRecordsAhead(k, prefix, state.keyCheck?.value, records);
  }

  function snapshot(credentials: Credentials, damaged?: Record<string, Error>): StoreSnapshot {
    const backends: StoreSnapshot["backends"] = Object.create(null);
    for (const id of Object.keys(credentials)) (backends as Record<string, string>)[id] = "etcd";
    return {
      credentials,
      backends,
      path,
      exists: (loaded?.records.size ?? 0) > 0,
      warnings: [],
      ...(damaged && Object.keys(damaged).length ? { damaged } : {}),
    };
  }

  function requireLoaded(): Loaded {
    if (!loaded) throw new AuthctlError("INTERNAL", "the etcd store was read before it was opened");
    return loaded;
  }

  /** After a write: this machine has seen the generation it wrote (see _seen.ts). */
  function noteSeen(manifest: Manifest): void {
    if (options.seenFile)
      recordSeen(
        options.seenFile,
        seenId,
        { store: manifest.store, generation: manifest.generation },
        options.notify,
      );
  }

  const withLock = <T>(work: (held: HeldLease) => Promise<T>) =>
    withEtcdLock(client, {
      key: lockKey,
      ttlSeconds: settings.lock_ttl,
      timeoutMs: options.lockTimeoutMs,
      owner: options.hostname,
      what: path,
      testStallFile: options.testStallFile,
      work,
    });

  /**
   * One locked read-modify-write (see the file's comment): fn may call lock.confirm() before a
   * request that spends something; the writes and the manifest go in one transaction.
   */
  async function writeUnderLock<T>(
    fn: (credentials: Credentials, lock: HeldLock) => T | Promise<T>,
  ): Promise<T> {
    const k = key();
    return withLock(async ({ lease, isLost, confirm }) => {
      // Inside the lock: what another machine wrote before releasing it is what fn sees.
      const state = await fetchAll();
      // A store that fails its whole-store checks throws here: nothing is written.
      const { credentials, damaged, manifest } = openAll(state);
      const before = new Map(Object.keys(credentials).map((id) => [id, canonicalJson(credentials[id])]));
      const result = await fn(credentials, { confirm });
      /** Per record written or deleted, the mod_revision it had when read (0: absent). */
      const expected = new Map<string, number>();
      const writes: Operation[] = [];
      const written = new Map<string, string>();
      const deleted: string[] = [];
      const put = (id: string, credential: StoredCredential) => {
        if (!/^[a-z0-9][a-z0-9@_-]*$/.test(id))
          throw new AuthctlError("INTERNAL", `cannot store the id ${JSON.stringify(id)}`);
        const text = sealRecord(k, prefix, id, credential);
        expected.set(id, state.records.get(id)?.modRevision ?? 0);
        writes.push({ put: { key: credentialsPrefix + id, value: text } });
        written.set(id, text);
      };
      for (const [id, credential] of Object.entries(credentials)) {
        if (credential === undefined || canonicalJson(credential) === before.get(id)) continue;
        // A damaged record is replaced by a new login (it brings secrets) or deleted, never
        // re-sealed from what it holds: that would vouch for what someone without the key wrote
        // (or for an older record put back).
        if (damaged[id] && listSecrets(credential).length === 0) continue;
        put(id, credential);
      }
      for (const id of before.keys()) {
        if (credentials[id] !== undefined) continue;
        expected.set(id, state.records.get(id)!.modRevision);
        writes.push({ deleteRange: { key: credentialsPrefix + id } });
        deleted.push(id);
      }
      // A damaged record fn did not replace is left as it is (see above).
      if (writes.length === 0) return result;
      if (!manifest) {
        // Adopting a store written before manifests: every record that verifies is sealed again
        // (so that each now says it was written under a manifest; seal.ts) and listed in the new
        // manifest. What it held is vouched for as it is: replays made before this cannot be seen.
        for (const [id, credential] of Object.entries(credentials))
          if (credential !== undefined && !damaged[id] && !written.has(id) && state.records.has(id))
            put(id, credential);
      }
      const keyCheckText = state.keyCheck ? undefined : sealKeyCheck(k, prefix);
      const compares = (base: KeyValue | undefined): Compare[] => [
        { key: lockKey, target: "LEASE", lease },
        ...[...expected].map(
          ([id, modRevision]): Compare =>
            modRevision
              ? { key: credentialsPrefix + id, target: "MOD", modRevision }
              : { key: credentialsPrefix + id, target: "CREATE", createRevision: 0 },
        ),
        // The first write to a prefix records what the team's key looks like (see openAll).
        ...(keyCheckText ? [{ key: keyCheckKey, target: "CREATE", createRevision: 0 } as Compare] : []),
        base
          ? { key: manifestKey, target: "MOD", modRevision: base.modRevision }
          : { key: manifestKey, target: "CREATE", createRevision: 0 },
      ];
      const storeId = manifest?.store ?? newStoreId();
      const nextManifest = (base: Manifest | undefined): Manifest => {
        const records: Record<string, string> = Object.create(null);
        Object.assign(records, base?.records ?? {});
        for (const id of deleted) delete records[id];
        for (const [id, text] of written) records[id] = recordTag(text);
        return { store: base?.store ?? storeId, generation: (base?.generation ?? 0) + 1, records };
      };
      let base = { kv: state.manifest, manifest };
      for (let attempt = 1; ; attempt++) {
        const next = nextManifest(base.manifest);
        const manifestText = sealManifest(k, prefix, next);
        const ops: Operation[] = [...writes, { put: { key: manifestKey, value: manifestText } }];
        if (keyCheckText) ops.push({ put: { key: keyCheckKey, value: keyCheckText } });
        if (isLost()) throw lostLock();
        const done = await client.txn(compares(base.kv), ops, [{ range: { key: lockKey } }]);
        if (done.succeeded) {
          // Every key this transaction wrote now has its revision: no second read needed.
          const at = (key: string, value: string, old?: KeyValue): KeyValue => ({
            key,
            value,
            createRevision: old?.createRevision ?? done.revision,
            modRevision: done.revision,
            version: (old?.version ?? 0) + 1,
            lease: "0",
          });
          const records = new Map(state.records);
          for (const id of deleted) records.delete(id);
          for (const [id, text] of written)
            records.set(id, at(credentialsPrefix + id, text, state.records.get(id)));
          loaded = {
            records,
            keyCheck: state.keyCheck ?? at(keyCheckKey, keyCheckText!),
            manifest: at(manifestKey, manifestText, base.kv),
          };
          noteSeen(next);
          break;
        }
        // A retried transaction whose first attempt landed compares as failed: check what is
        // there. The manifest text is new with every write (its generation), so it tells.
        const after = await fetchAll();
        if (after.manifest?.value === manifestText) {
          loaded = after;
          noteSeen(next);
          break;
        }
        if (done.ranges[0]?.[0]?.lease !== lease) throw lostLock();
        // Only the manifest moved (a writer that did not take the lock, and did not touch these
        // records): apply this write on top of its manifest, as a compare-and-swap retry does.
        const mine = [...expected].every(([id, rev]) => (after.records.get(id)?.modRevision ?? 0) === rev);
        const again = after.manifest && openManifest(k, prefix, after.manifest.value);
        if (!mine || !again || (keyCheckText && after.keyCheck) || attempt >= 5) {
          throw new AuthctlError(
            "STORE_IO",
            `${path} changed while this process held its lock: nothing was written`,
            { hint: "run the command again" },
          );
        }
        base = { kv: after.manifest, manifest: again };
      }
      opened = undefined;
      return result;
    });

    function lostLock(): AuthctlError {
      return new AuthctlError(
        "STORE_LOCKED",
        `lost the lock of ${path} (its lease of ${settings.lock_ttl} s expired) before writing: nothing was written`,
        { hint: "run the command again" },
      );
    }
  }

  return {
    path,
    backend: "etcd",
    prefix,
    get answered() {
      return client.answered;
    },
    async open() {
      // The files the read needs besides etcd's answer, read with Bun's file API in the usual case,
      // so that `env`, `token` and `exec` load no node:fs (issue 18); in any other case the code
      // that needs them reads them with node:fs, as before. The seal key file while the request
      // is out; etcd-seen.json only after it (see _seen.ts readSeenQuickly).
      const keyRead =
        !teamKey && !options.sealKey && settings.seal_key_file
          ? readFileQuickly(settings.seal_key_file)
          : undefined;
      const state = await fetchAll();
      loaded = state;
      opened = undefined;
      seenAfterOpen = undefined;
      const seenRead =
        options.seenFile && (state.records.size > 0 || state.manifest)
          ? readSeenQuickly(options.seenFile)
          : undefined;
      const bytes = await keyRead;
      if (bytes !== undefined && bytes !== USE_NODE_FS && !teamKey) keyBytes = bytes;
      await openAhead(state);
      const seenText = await seenRead;
      if (seenText !== undefined && loaded === state) seenAfterOpen = { state, text: seenText };
    },
    read() {
      opened ??= openAll(requireLoaded());
      return snapshot(opened.credentials, opened.damaged);
    },
    readMetadata() {
      const credentials: Credentials = Object.create(null);
      for (const [id, kv] of requireLoaded().records) {
        const metadata = recordMetadata(kv.value);
        if (metadata) credentials[id] = metadata;
      }
      return snapshot(credentials);
    },
    async readSecrets(id) {
      const { credentials, damaged } = (opened ??= openAll(requireLoaded()));
      if (damaged[id]) throw damaged[id];
      return credentials[id];
    },
    assertWritable() {
      key();
    },
    async update(fn) {
      // A lock that lapsed before fn's request (LeaseLapsed from confirm()): nothing was sent or
      // written, so fn runs again under the lock taken anew, on the store read anew (another
      // machine may have refreshed meanwhile, and then fn sends nothing).
      for (let attempt = 1; ; attempt++) {
        try {
          return await writeUnderLock(fn);
        } catch (error) {
          if (!(error instanceof LeaseLapsed)) throw error;
          if (attempt >= 3)
            throw new AuthctlError(
              "STORE_LOCKED",
              `lost the lock of ${path} (its lease of ${settings.lock_ttl} s lapsed) ${attempt} times before a request: nothing was sent or written`,
              { hint: "run the command again; if it keeps happening, raise [etcd] lock_ttl" },
            );
        }
      }
    },
  };
}

/**
 * The team store behind the local store's interface, so actions use it unchanged. What only a
 * local store can do (re-sealing with a passphrase, moving the file aside) is refused with a
 * line saying so; migrations to and from it are done by actions/store-migrate.ts.
 */
export function createEtcdBackendStore(options: EtcdStoreOptions): BackendStore & EtcdStore {
  const store = createEtcdStore(options);
  const notHere = (what: string) =>
    new AuthctlError("USAGE", `${what} applies to the local store, not to ${store.path}`, {
      hint: "the team store is sealed with AUTHCTL_ETCD_KEY or [etcd] seal_key_file",
    });
  return Object.assign(store, {
    async migrate(): Promise<never> {
      throw notHere("this migration");
    },
    async reseal(): Promise<never> {
      throw notHere("store seal");
    },
    async reset(): Promise<never> {
      throw notHere("store reset");
    },
  }) as unknown as BackendStore & EtcdStore;
}
