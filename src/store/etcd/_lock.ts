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
  work(lease: string, isLost: () => boolean): Promise<T>;
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
    return await options.work(lease.id, () => lost);
  } finally {
    clearInterval(renewal);
    // Releasing is revoking the lease: the lock key goes with it. Best effort: it expires anyway.
    await client.leaseRevoke(lease.id).catch(() => {});
  }
}
