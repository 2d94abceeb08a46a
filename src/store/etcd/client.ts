/**
 * A small client for etcd's v3 JSON gateway (grpc-gateway over HTTP/1.1: every call is a POST of
 * the gRPC message as JSON, bytes as base64, 64-bit integers as strings). etcd 3.4 serves it at
 * both /v3/ and /v3beta/ (3.3 only at /v3beta/, 3.5 only at /v3/); /v3/ is used.
 * https://etcd.io/docs/v3.4/dev-guide/api_grpc_gateway/
 *
 * Fault handling: each member gets a bounded time per request; a member that refuses, times out or
 * answers that it cannot serve (no leader, request timed out) is skipped for the next one, round
 * after round until the request's total budget is spent. Reads are linearizable (etcd's default:
 * the member confirms its leadership with a quorum first), so a member cut off from the majority
 * never answers with stale data. When no member can serve, the error says whether the cluster has
 * lost its quorum (members answer but cannot serve) or cannot be reached at all.
 */
import { AuthctlError, errorCode } from "../../errors.ts";
import { readFileSync } from "../../lazy-fs.ts";
import { readTextQuickly, USE_NODE_FS } from "../quick-read.ts";

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: string;
}

export type Compare =
  | { key: string; target: "MOD"; modRevision: number }
  | { key: string; target: "CREATE"; createRevision: number }
  | { key: string; target: "LEASE"; lease: string }
  | { key: string; target: "VALUE"; value: string };

export type Operation =
  | { put: { key: string; value: string; lease?: string } }
  | { deleteRange: { key: string; rangeEnd?: string } }
  | { range: { key: string; rangeEnd?: string } };

export interface EtcdClientOptions {
  endpoints: string[];
  username?: string;
  password?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** How long one member gets for one request before the next is tried. */
  memberTimeoutMs: number;
  /** How long one request may take across every member and round. */
  totalTimeoutMs: number;
  fetch: typeof fetch;
}

export interface EtcdClient {
  /** The endpoint that answered the last request. */
  readonly answered: string | undefined;
  range(key: string, rangeEnd?: string): Promise<{ kvs: KeyValue[]; revision: number }>;
  txn(
    compare: Compare[],
    success: Operation[],
    failure?: Operation[],
  ): Promise<{ succeeded: boolean; revision: number; ranges: KeyValue[][] }>;
  put(key: string, value: string, lease?: string): Promise<void>;
  deleteRange(key: string, rangeEnd?: string): Promise<number>;
  leaseGrant(ttlSeconds: number): Promise<{ id: string; ttl: number }>;
  leaseRevoke(id: string): Promise<void>;
  /** Renews a lease once; the TTL left (0 or less: the lease is gone). */
  leaseKeepAlive(id: string): Promise<number>;
  /** Whole seconds the lease has left (-1: gone) and the keys attached to it. */
  leaseTimeToLive(id: string): Promise<{ ttl: number; keys: string[] }>;
}

const encoder = new TextEncoder();
export function b64(text: string): string {
  return Buffer.from(encoder.encode(text)).toString("base64");
}
export function unb64(text: string | undefined): string {
  return text ? Buffer.from(text, "base64").toString("utf8") : "";
}

/** The smallest key after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i]! += 1;
      return end.toString("latin1");
    }
  }
  return "\0";
}

/** range_end travels as raw bytes: prefixEnd's latin1 string is turned back into exactly them. */
function b64End(end: string): string {
  return end === "\0" ? "AA==" : Buffer.from(end, "latin1").toString("base64");
}

interface RawKv {
  key?: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
  lease?: string;
}

function toKv(raw: RawKv): KeyValue {
  return {
    key: unb64(raw.key),
    value: unb64(raw.value),
    createRevision: Number(raw.create_revision ?? 0),
    modRevision: Number(raw.mod_revision ?? 0),
    version: Number(raw.version ?? 0),
    lease: raw.lease ?? "0",
  };
}

function toOperation(op: Operation): Record<string, unknown> {
  if ("put" in op)
    return {
      request_put: { key: b64(op.put.key), value: b64(op.put.value), lease: op.put.lease ?? "0" },
    };
  if ("deleteRange" in op)
    return {
      request_delete_range: {
        key: b64(op.deleteRange.key),
        range_end: op.deleteRange.rangeEnd === undefined ? undefined : b64End(op.deleteRange.rangeEnd),
      },
    };
  return {
    request_range: {
      key: b64(op.range.key),
      range_end: op.range.rangeEnd === undefined ? undefined : b64End(op.range.rangeEnd),
    },
  };
}

function toCompare(c: Compare): Record<string, unknown> {
  const base = { key: b64(c.key), result: "EQUAL", target: c.target };
  if (c.target === "MOD") return { ...base, mod_revision: String(c.modRevision) };
  if (c.target === "CREATE") return { ...base, create_revision: String(c.createRevision) };
  if (c.target === "LEASE") return { ...base, lease: c.lease };
  return { ...base, value: b64(c.value) };
}

/** Answers from a member that say this member cannot serve now; another one may. */
const MEMBER_TROUBLE =
  /request timed out|no leader|leader changed|not capable|too many requests|stopped|unhealthy|timed out waiting|context deadline exceeded/i;

type Attempt =
  | { kind: "ok"; body: Record<string, unknown> }
  | { kind: "down"; why: string }
  | { kind: "busy"; why: string }
  | { kind: "tls"; why: string };

function describeFetchError(error: unknown): { kind: "down" | "busy" | "tls"; why: string } {
  const code = errorCode(error) ?? errorCode((error as { cause?: unknown })?.cause) ?? "";
  const message = (error as Error)?.message ?? String(error);
  if ((error as Error)?.name === "TimeoutError" || (error as Error)?.name === "AbortError")
    return { kind: "busy", why: "did not answer in time" };
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_|HANDSHAKE|ERR_TLS/i.test(`${code} ${message}`))
    return { kind: "tls", why: `${code || message}` };
  if (/ECONNREFUSED|ConnectionRefused/.test(`${code} ${message}`)) return { kind: "down", why: "refused" };
  return { kind: "down", why: code || message };
}

export function createEtcdClient(options: EtcdClientOptions): EtcdClient {
  const { endpoints } = options;
  /**
   * A TLS file config.toml names: with Bun's file API in the usual case (quick-read.ts), so that
   * `env` over https loads no node:fs (issue 18); else with node:fs, which reports what is wrong.
   */
  const readFile = async (what: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    const quick = await readTextQuickly(path);
    if (quick !== USE_NODE_FS) return quick;
    try {
      return readFileSync(path, "utf8");
    } catch (error) {
      throw new AuthctlError(
        "CONFIG_INVALID",
        `cannot read [etcd] ${what} ${path}: ${errorCode(error) ?? error}`,
        {
          hint: `fix ${what} in config.toml`,
        },
      );
    }
  };
  /** Read once per process; a file that cannot be read fails every request, the first one named. */
  let tls: Promise<Record<string, string>> | undefined;
  const tlsOptions = () =>
    (tls ??= (async () => {
      const reads = [
        readFile("ca_file", options.caFile),
        readFile("cert_file", options.certFile),
        readFile("key_file", options.keyFile),
      ];
      const settled = await Promise.allSettled(reads);
      for (const read of settled) if (read.status === "rejected") throw read.reason;
      const [ca, cert, key] = settled.map(
        (read) => (read as PromiseFulfilledResult<string | undefined>).value,
      );
      const out: Record<string, string> = {};
      if (ca) out.ca = ca;
      if (cert) out.cert = cert;
      if (key) out.key = key;
      return out;
    })());
  /** Simple auth tokens are per member (etcd's default `--auth-token simple`): one per endpoint. */
  const tokens = new Map<string, string>();
  // The member that answered last is asked first next time.
  let start = 0;
  let answered: string | undefined;

  async function post(endpoint: string, path: string, body: unknown, token?: string): Promise<Attempt> {
    const tls = endpoint.startsWith("https:") ? await tlsOptions() : undefined;
    let response: Response;
    try {
      response = await options.fetch(`${endpoint}/v3${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: token } : {}),
        },
        body: JSON.stringify(body),
        // A redirect is not followed: it would resend the password and the sealed records to a
        // host nobody configured, and over http to one that is not loopback (see validateEtcd).
        redirect: "manual",
        signal: AbortSignal.timeout(options.memberTimeoutMs),
        ...(tls ? { tls } : {}),
      } as RequestInit);
    } catch (error) {
      if (error instanceof AuthctlError) throw error;
      return describeFetchError(error);
    }
    if (response.status >= 300 && response.status < 400)
      return {
        kind: "down",
        why: `answered HTTP ${response.status} (a redirect, which authctl does not follow: list the member's own address)`,
      };
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      return describeFetchError(error);
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return { kind: "down", why: `answered HTTP ${response.status} that is not etcd's JSON` };
    }
    // keepalive is a stream: its one message arrives wrapped as {"result": …}.
    if (parsed.result && typeof parsed.result === "object") parsed = parsed.result as Record<string, unknown>;
    if (response.ok && parsed.error === undefined) return { kind: "ok", body: parsed };
    const message = String(parsed.message ?? parsed.error ?? `HTTP ${response.status}`);
    if (MEMBER_TROUBLE.test(message) || response.status === 503) return { kind: "busy", why: message };
    throw etcdAnswer(message, endpoint);
  }

  function etcdAnswer(message: string, endpoint: string): AuthctlError {
    if (/authentication failed|invalid user ID or password/i.test(message)) {
      return new AuthctlError(
        "STORE_IO",
        `etcd at ${endpoint} refused user '${options.username}': wrong username or password`,
        { hint: "check [etcd] username in config.toml and AUTHCTL_ETCD_PASSWORD" },
      );
    }
    if (
      /user name is empty|user name not found|auth.*not enabled|invalid auth token/i.test(message) &&
      !options.username
    ) {
      return new AuthctlError("STORE_IO", `etcd at ${endpoint} requires a user: ${message}`, {
        hint: "set [etcd] username in config.toml and AUTHCTL_ETCD_PASSWORD",
      });
    }
    if (/permission denied/i.test(message)) {
      return new AuthctlError(
        "STORE_IO",
        options.username
          ? `etcd at ${endpoint} denied user '${options.username}' access: ${message}`
          : `etcd at ${endpoint} denied access (no [etcd] username is set): ${message}`,
        {
          hint: "grant the user's role readwrite on the [etcd] prefix (etcdctl role grant-permission --prefix)",
        },
      );
    }
    return new AuthctlError("STORE_IO", `etcd at ${endpoint} answered: ${message}`);
  }

  async function authenticate(endpoint: string): Promise<Attempt | string> {
    const cached = tokens.get(endpoint);
    if (cached) return cached;
    const attempt = await post(endpoint, "/auth/authenticate", {
      name: options.username,
      password: options.password ?? "",
    });
    if (attempt.kind !== "ok") return attempt;
    const token = String(attempt.body.token ?? "");
    if (!token) throw new AuthctlError("PROTOCOL", `etcd at ${endpoint} authenticated without a token`);
    tokens.set(endpoint, token);
    return token;
  }

  async function call(path: string, body: unknown): Promise<Record<string, unknown>> {
    const began = Date.now();
    const problems = new Map<string, Attempt>();
    for (let round = 0; ; round++) {
      for (let i = 0; i < endpoints.length; i++) {
        const index = (start + i) % endpoints.length;
        const endpoint = endpoints[index]!;
        let attempt: Attempt;
        if (options.username !== undefined) {
          if (options.password === undefined) {
            throw new AuthctlError("STORE_IO", `[etcd] username '${options.username}' has no password`, {
              hint: "set AUTHCTL_ETCD_PASSWORD",
            });
          }
          const token = await authenticate(endpoint);
          if (typeof token !== "string") attempt = token;
          else {
            try {
              attempt = await post(endpoint, path, body, token);
            } catch (error) {
              // A member restarted (or the token expired): its simple token is gone; once more.
              if (!(error instanceof AuthctlError) || !/invalid auth token/i.test(error.message)) throw error;
              tokens.delete(endpoint);
              const again = await authenticate(endpoint);
              attempt = typeof again === "string" ? await post(endpoint, path, body, again) : again;
            }
          }
        } else {
          attempt = await post(endpoint, path, body);
        }
        if (attempt.kind === "ok") {
          start = index;
          answered = endpoint;
          return attempt.body;
        }
        problems.set(endpoint, attempt);
        if (Date.now() - began >= options.totalTimeoutMs) throw noService(problems);
      }
      // Every member refused the connection: nothing will change in a second round.
      if ([...problems.values()].every((p) => p.kind === "down" || p.kind === "tls"))
        throw noService(problems);
      if (Date.now() - began >= options.totalTimeoutMs) throw noService(problems);
      // An election takes about one election timeout; members that answered "busy" may serve soon.
      await Bun.sleep(Math.min(250 * (round + 1), 1000));
    }
  }

  function noService(problems: Map<string, Attempt>): AuthctlError {
    const list = [...problems.entries()].map(([endpoint, p]) => `${endpoint} ${"why" in p ? p.why : ""}`);
    const values = [...problems.values()];
    if (values.length > 0 && values.every((p) => p.kind === "tls")) {
      return new AuthctlError("STORE_IO", `TLS with the etcd cluster failed: ${list.join("; ")}`, {
        hint: "check [etcd] ca_file (the CA that signed the members' certificates), cert_file and key_file in config.toml",
      });
    }
    if (values.some((p) => p.kind === "busy")) {
      return new AuthctlError(
        "STORE_IO",
        `the etcd cluster has no quorum: no member could serve within ${Math.round(options.totalTimeoutMs / 1000)} s (${list.join("; ")}); nothing was changed`,
        { hint: "bring a majority of the etcd members back, then run the command again" },
      );
    }
    return new AuthctlError("STORE_IO", `no etcd member answers (${list.join("; ")}); nothing was changed`, {
      hint: "check [etcd] endpoints in config.toml and that etcd runs",
    });
  }

  return {
    get answered() {
      return answered;
    },
    async range(key, rangeEnd) {
      const body = await call("/kv/range", {
        key: b64(key),
        ...(rangeEnd === undefined ? {} : { range_end: b64End(rangeEnd) }),
      });
      const header = body.header as { revision?: string } | undefined;
      return {
        kvs: ((body.kvs as RawKv[] | undefined) ?? []).map(toKv),
        revision: Number(header?.revision ?? 0),
      };
    },
    async txn(compare, success, failure = []) {
      const body = await call("/kv/txn", {
        compare: compare.map(toCompare),
        success: success.map(toOperation),
        failure: failure.map(toOperation),
      });
      const header = body.header as { revision?: string } | undefined;
      const responses = (body.responses as Array<Record<string, { kvs?: RawKv[] }>> | undefined) ?? [];
      return {
        succeeded: body.succeeded === true,
        revision: Number(header?.revision ?? 0),
        ranges: responses.map((r) => (r.response_range?.kvs ?? []).map(toKv)),
      };
    },
    async put(key, value, lease) {
      await call("/kv/put", { key: b64(key), value: b64(value), lease: lease ?? "0" });
    },
    async deleteRange(key, rangeEnd) {
      const body = await call("/kv/deleterange", {
        key: b64(key),
        ...(rangeEnd === undefined ? {} : { range_end: b64End(rangeEnd) }),
      });
      return Number(body.deleted ?? 0);
    },
    async leaseGrant(ttlSeconds) {
      const body = await call("/lease/grant", { TTL: String(ttlSeconds), ID: "0" });
      if (body.error) throw new AuthctlError("STORE_IO", `etcd refused a lease: ${String(body.error)}`);
      return { id: String(body.ID), ttl: Number(body.TTL ?? ttlSeconds) };
    },
    async leaseRevoke(id) {
      try {
        await call("/lease/revoke", { ID: id });
      } catch (error) {
        // Already expired: nothing to release.
        if (!(error instanceof AuthctlError) || !/lease not found/i.test(error.message)) throw error;
      }
    },
    async leaseKeepAlive(id) {
      const body = await call("/lease/keepalive", { ID: id });
      return Number(body.TTL ?? 0);
    },
    async leaseTimeToLive(id) {
      const body = await call("/lease/timetolive", { ID: id, keys: true });
      return {
        ttl: Number(body.TTL ?? -1),
        keys: ((body.keys as string[] | undefined) ?? []).map((key) => unb64(key)),
      };
    },
  };
}
