/**
 * The team store's lock, as lock.ts is the local store's: a key created only if it is absent
 * (txn `create_revision == 0`) and attached to a lease, renewed while its holder works. A holder
 * that dies stops renewing, and etcd deletes the key when the lease expires, so the lock never
 * outlives a dead machine by more than its TTL. The holder passes its lease to the write, which
 * compares it (see store.ts): a holder whose lease expired meanwhile writes nothing.
 */
import { AuthctlError } from "../../errors.ts";
import type { EtcdClient } from "./client.ts";

export interface EtcdLockOptions<T> {
  key: string;
  ttlSeconds: number;
  /** How long to wait for another holder before STORE_LOCKED. */
  timeoutMs: number;
  /** Who holds it, for the message another machine sees: this host's name. */
  owner: string;
  /** The store, for messages. */
  what: string;
  /**
   * TEST ONLY (AUTHCTL_TEST_ETCD_STALL_BEFORE_REFRESH, set by test/e2e/store-etcd-stall.test.ts and
   * by nothing else): confirm() first freezes this process until this file exists, as a process
   * stopped by the scheduler, a debugger or a suspended VM would be. Undefined in a normal run.
   */
  testStallFile?: string;
  work(held: HeldLease): Promise<T>;
}

export interface HeldLease {
  lease: string;
  /** A renewal answered that the lease is gone. */
  isLost(): boolean;
  /**
   * Right before a request that spends something another machine would spend again (a refresh
   * token): renews the lease, then asks etcd how long it has left and whether the lock key is
   * still attached to it. Throws LeaseLapsed when the lease is gone or has less than half its TTL
   * left: this process stalled or lost etcd, and another machine may hold the lock, or take it
   * before the request is answered.
   */
  confirm(): Promise<void>;
}

/** The lock was lost before the request it guards was sent: nothing was sent or written. */
export class LeaseLapsed extends Error {
  constructor() {
    super("the team store's lock lapsed before the request it guards");
  }
}

export async function withEtcdLock<T>(client: EtcdClient, options: EtcdLockOptions<T>): Promise<T> {
  const { key, ttlSeconds: ttl } = options;
  const lease = await client.leaseGrant(ttl);
  let lost = false;
  // Renewed at a third of its life, so two missed renewals still leave it alive. A renewal that
  // fails is tried again at the next tick; if the lease expires meanwhile, the write's compare fails.
  const renewal = setInterval(
    () => {
      client.leaseKeepAlive(lease.id).then(
        (ttlLeft) => {
          if (ttlLeft <= 0) lost = true;
        },
        () => {},
      );
    },
    (ttl * 1000) / 3,
  );
  try {
    const began = Date.now();
    const holderText = JSON.stringify({ host: options.owner, at: new Date().toISOString() });
    let delay = 50;
    for (;;) {
      const took = await client.txn(
        [{ key, target: "CREATE", createRevision: 0 }],
        [{ put: { key, value: holderText, lease: lease.id } }],
        [{ range: { key } }],
      );
      const holder = took.ranges[0]?.[0];
      // A retried request whose first attempt did land: the lock is ours already.
      if (took.succeeded || holder?.lease === lease.id) break;
      if (Date.now() - began > options.timeoutMs) {
        let who = "another machine";
        try {
          const parsed = JSON.parse(holder?.value ?? "{}") as { host?: string };
          if (parsed.host) who = parsed.host;
        } catch {}
        throw new AuthctlError(
          "STORE_LOCKED",
          `${options.what} is locked by ${who} for more than ${Math.round(options.timeoutMs / 1000)} s`,
          { hint: `run the command again; a holder that died releases it within ${ttl} s` },
        );
      }
      await Bun.sleep(delay);
      delay = Math.min(delay * 2, 250);
    }
    // The TTL etcd granted (it raises one below its minimum, 3 × election timeout / 2).
    const margin = Math.max(1, Math.floor(lease.ttl / 2));
    return await options.work({
      lease: lease.id,
      isLost: () => lost,
      async confirm() {
        if (options.testStallFile) stallForTest(options.testStallFile);
        // A renewal now gives the request the lease's whole TTL before another machine can take
        // the lock; its answer (0: gone) already says whether this process stalled past it.
        const renewed = await client.leaseKeepAlive(lease.id);
        const left = renewed > 0 ? await client.leaseTimeToLive(lease.id) : { ttl: -1, keys: [] };
        if (left.ttl < margin || !left.keys.includes(key)) {
          lost = true;
          throw new LeaseLapsed();
        }
      },
    });
  } finally {
    clearInterval(renewal);
    // Releasing is revoking the lease: the lock key goes with it. Best effort: it expires anyway.
    await client.leaseRevoke(lease.id).catch(() => {});
  }
}

/**
 * TEST ONLY (see testStallFile): blocks the thread, so no timer runs and the lease is not renewed,
 * until `file` exists (at most two minutes). Says it has started by creating `<file>.stalled`.
 */
function stallForTest(file: string): void {
  const fs = require("node:fs") as typeof import("node:fs");
  fs.writeFileSync(`${file}.stalled`, "");
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + 120_000;
  while (!fs.existsSync(file) && Date.now() < until) Atomics.wait(cell, 0, 0, 50);
}
