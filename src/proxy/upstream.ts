import type { Socket, SocketHandler } from "bun";
import {
  ChunkedReader,
  headEnd,
  MAX_HEAD_BYTES,
  parseResponseHead,
  rest as restOf,
  upTo,
  WireError,
  withHead,
  type ResponseHead,
} from "./http1.ts";
import type { EgressProxy } from "./egress.ts";
import { Outbox } from "./outbox.ts";
import { withoutFTL } from "./tier.ts";

/**
 * The proxy's HTTP/1.1 client towards a provider: kept-alive connections per origin (TCP, or TLS
 * verified against the system's CAs plus NODE_EXTRA_CA_CERTS / SSL_CERT_FILE, which Bun reads at
 * start-up), one request at a time on each, the response body handed over as it arrives with
 * backpressure both ways. Replaces fetch on the proxy's path: fetch cost 0.2–0.3 ms a request on
 * this 2-core machine, a kept-alive socket about 0.03 ms (issue 17, scripts/bench-proxy.ts).
 */
export interface UpstreamOrigin {
  tls: boolean;
  hostname: string;
  port: number;
  /** `https://api.example.com` — the pool's key. */
  origin: string;
  /** The Host header: `api.example.com`, or with the port when it is not the scheme's. */
  hostHeader: string;
  /** `api.example.com:443`, as a CONNECT request names it. */
  authority: string;
  /** A company proxy (HTTPS_PROXY) to tunnel through. */
  via?: EgressProxy;
}

export interface ExchangeHandlers {
  /** The final response head (1xx answers are skipped). Return false to hold the body until `proceed()`. */
  head(head: ResponseHead, bodyless: boolean): boolean;
  /** A piece of the decoded body; false asks the exchange to pause until `resume()`. */
  data(piece: Uint8Array): boolean;
  /** Called after a batch of data events from one read: the place to flush. */
  flush(): void;
  end(): void;
  /** Before a response head: `started` false (nothing has reached the client). */
  error(error: Error, started: boolean): void;
  /** The request body can take more (after writeBody answered false). */
  drain(): void;
}

/** An idle kept-alive connection is closed after this (Node's agent uses 5 s; providers' idle limits are longer). */
const IDLE_MS = 4_000;
/** How often idle connections are looked at: one timer for the pool rather than one per request. */
const SWEEP_MS = 1_000;
const CONNECT_TIMEOUT_MS = 30_000;

class Connection {
  outbox = new Outbox(() => this.current?.handlers.drain());
  socket: Socket<Connection> | undefined;
  current: Exchange | undefined;
  reused = false;
  closed = false;
  /** When the connection was parked idle (Date.now()). */
  idleSince = 0;
  private paused = false;
  private headBuf: Buffer | undefined;
  private response: ResponseHead | undefined;
  private body:
    | { kind: "none" }
    | { kind: "length"; left: number }
    | { kind: "chunked"; reader: ChunkedReader }
    | { kind: "close" } = { kind: "none" };
  private held: Buffer[] | undefined;
  /** The proxy's answer to CONNECT, while it arrives. */
  tunnelBuf: Buffer | undefined;

  constructor(
    readonly pool: UpstreamPool,
    readonly origin: UpstreamOrigin,
  ) {}

  start(live: Exchange): void {
    this.current = live;
    this.response = undefined;
    this.headBuf = undefined;
  }

  /** Reading stops (backpressure, a held answer); a call into the socket only when that changes. */
  pause(): void {
    if (this.paused || !this.socket) return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused || !this.socket) return;
    this.paused = false;
    this.socket.resume();
  }

  parkIdle(): void {
    this.current = undefined;
    this.reused = true;
    this.idleSince = Date.now();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.forget(this);
    this.socket?.terminate();
  }

  ready(socket: Socket<Connection>): void {
    this.socket = socket;
    socket.setNoDelay(true);
    this.outbox.attach(socket as Socket<unknown>);
  }

  onData(data: Buffer): void {
    const live = this.current;
    if (!live) {
      // Bytes on an idle connection: the server is confused or closing; never reuse it.
      this.destroy();
      return;
    }
    if (this.held) {
      this.held.push(Buffer.from(data));
      return;
    }
    try {
      this.consume(live, data);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    if (this.current === live) live.handlers.flush();
  }

  private consume(live: Exchange, data: Buffer): void {
    let rest: Buffer = data;
    while (rest.length && this.current === live && !this.held) {
      if (!this.response) {
        const buf = this.headBuf ? Buffer.concat([this.headBuf, rest]) : rest;
        const end = headEnd(buf);
        if (end > MAX_HEAD_BYTES || (end < 0 && buf.length > MAX_HEAD_BYTES))
          throw new WireError(502, "response head too large");
        if (end < 0) {
          this.headBuf = Buffer.from(buf);
          return;
        }
        this.headBuf = undefined;
        const head = parseResponseHead(buf.toString("latin1", 0, end));
        rest = restOf(buf, end);
        if (head.status < 200) {
          if (head.status === 101) throw new WireError(502, "unexpected protocol switch");
          continue; // 100 Continue, 103 Early Hints: the final answer follows
        }
        this.response = head;
        live.started = true;
        const bodyless = live.isHead || head.status === 204 || head.status === 304;
        if (bodyless) this.body = { kind: "none" };
        else if (head.chunked) this.body = { kind: "chunked", reader: new ChunkedReader() };
        else if (head.otherCoding || head.length === undefined) this.body = { kind: "close" };
        else this.body = head.length ? { kind: "length", left: head.length } : { kind: "none" };
        if (!live.handlers.head(head, bodyless)) {
          this.held = [Buffer.from(rest)];
          this.pause();
          return;
        }
        if (this.body.kind === "none") return this.finish(live, rest.length === 0);
        continue;
      }
      const body = this.body;
      if (body.kind === "length") {
        const n = Math.min(body.left, rest.length);
        body.left -= n;
        const more = live.handlers.data(upTo(rest, n));
        rest = restOf(rest, n);
        if (body.left === 0) return this.finish(live, rest.length === 0);
        if (!more) this.pause();
      } else if (body.kind === "chunked") {
        const used = this.readChunks(live, body.reader, rest);
        rest = restOf(rest, used);
        if (body.reader.done) return this.finish(live, rest.length === 0);
      } else if (body.kind === "close") {
        if (!live.handlers.data(rest)) this.pause();
        return;
      } else {
        // A bodyless response followed by more bytes: the server is not speaking HTTP we understand.
        return this.finish(live, false);
      }
    }
  }

  /** Apart from consume: a function that makes a closure pays for its scope on every call. */
  private readChunks(live: Exchange, reader: ChunkedReader, rest: Buffer): number {
    let more = true;
    const used = reader.feed(rest, (piece) => {
      if (!live.handlers.data(piece)) more = false;
    });
    if (!more) this.pause();
    return used;
  }

  proceed(live: Exchange): void {
    const held = this.held;
    if (!held || this.current !== live) return;
    this.held = undefined;
    this.resume();
    try {
      if (this.body.kind === "none")
        return this.finish(
          live,
          held.every((b) => b.length === 0),
        );
      for (const piece of held) if (this.current === live) this.consume(live, piece);
    } catch (error) {
      return this.fail(error as Error);
    }
    if (this.current === live) live.handlers.flush();
  }

  private finish(live: Exchange, clean: boolean): void {
    const head = this.response!;
    const reusable =
      clean &&
      live.bodySent &&
      head.minor === 1 &&
      !head.connection.has("close") &&
      this.body.kind !== "close" &&
      !this.closed;
    this.current = undefined;
    this.resume();
    if (reusable) this.pool.release(this);
    else this.destroy();
    live.handlers.end();
  }

  onClose(error?: Error): void {
    const live = this.current;
    this.closed = true;
    this.pool.forget(this);
    if (!live) return;
    this.current = undefined;
    // A body without a length ends with the connection.
    if (this.response && this.body.kind === "close" && !error && !this.held) return live.handlers.end();
    this.failLive(live, error ?? new Error("the connection closed before the answer was complete"));
  }

  fail(error: Error): void {
    const live = this.current;
    this.current = undefined;
    this.destroy();
    if (live) this.failLive(live, error);
  }

  private failLive(live: Exchange, error: Error): void {
    // A kept-alive connection the server had already closed: nothing was answered, so the request
    // goes again on a new connection when it is still in hand.
    if (this.reused && !live.started && live.replayable) {
      live.retry();
      return;
    }
    live.handlers.error(error, live.started);
  }
}

/**
 * One request sent upstream and its answer: what the connection reports to (`handlers`), and
 * what the caller steers (body, pause, abort). One object per request, no closures.
 */
export class Exchange {
  conn!: Connection;
  started = false;
  bodySent: boolean;
  /** The whole request is in hand (head and any body), so it can be sent again. */
  readonly replayable: boolean;

  constructor(
    private readonly pool: UpstreamPool,
    private readonly origin: UpstreamOrigin,
    /** The request head, latin1 (withHead makes it and the body one buffer). */
    private readonly head: string,
    private readonly body: Uint8Array | undefined | "stream",
    readonly isHead: boolean,
    readonly handlers: ExchangeHandlers,
  ) {
    this.bodySent = body !== "stream";
    this.replayable = body !== "stream";
  }

  /** On a kept-alive connection unless `fresh` (or streamed: a failed stream cannot be re-sent). */
  attempt(fresh: boolean): void {
    const body = this.body;
    this.conn = this.pool.acquire(this.origin, fresh || body === "stream");
    this.conn.start(this);
    this.conn.outbox.write(withHead(this.head, body instanceof Uint8Array ? body : undefined));
  }

  /** A kept-alive connection the server had already closed: again, on a new one. */
  retry(): void {
    this.attempt(true);
  }

  writeBody(...pieces: Uint8Array[]): boolean {
    return this.conn.outbox.writeAll(pieces);
  }

  /** The streamed body has been written in full (the connection may be reused after the answer). */
  endBody(): void {
    this.bodySent = true;
  }

  /** Let a held response (head answered false) go on. */
  proceed(): void {
    this.conn.proceed(this);
  }

  pause(): void {
    this.conn.pause();
  }

  resume(): void {
    this.conn.resume();
  }

  /** Drops the connection: the client went away, or the response is not wanted (a 401 replayed). */
  abort(): void {
    if (this.conn.current === this) {
      this.conn.current = undefined;
      this.conn.destroy();
    }
  }
}

const handlers: SocketHandler<Connection> = {
  open(socket) {
    socket.data.socket = socket;
    // Dropped while connecting (the client went away): close at once.
    if (socket.data.closed) return void socket.terminate();
    if (!socket.data.origin.tls) socket.data.ready(socket);
  },
  handshake(socket, success, authorizationError) {
    // Bun reports an untrusted or mismatched certificate here and leaves the decision to us.
    if (!success || authorizationError) {
      const reason = authorizationError?.message ?? "TLS handshake failed";
      socket.data.fail(new Error(`TLS certificate not trusted: ${reason}`));
      return;
    }
    socket.data.ready(socket);
  },
  data(socket, data) {
    socket.data.onData(data);
  },
  drain(socket) {
    socket.data.outbox.flush();
  },
  close(socket, error) {
    socket.data.onClose(error);
  },
  error(socket, error) {
    socket.data.fail(error);
  },
  connectError(socket, error) {
    socket.data.fail(error);
  },
  end(socket) {
    socket.end();
  },
};

/**
 * Through a company proxy: CONNECT to the provider's host and port, then TLS inside the tunnel,
 * verified against the provider's name as on a direct connection.
 */
const tunnelHandlers: SocketHandler<Connection> = {
  open(socket) {
    const conn = socket.data;
    conn.socket = socket;
    if (conn.closed) return void socket.terminate();
    const { authority, via } = conn.origin;
    const auth = via?.authorization ? `proxy-authorization: ${via.authorization}\r\n` : "";
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n${auth}\r\n`);
  },
  data(socket, data) {
    const conn = socket.data;
    if (conn.socket !== socket) return;
    const buf = conn.tunnelBuf ? Buffer.concat([conn.tunnelBuf, data]) : Buffer.from(data);
    const end = headEnd(buf);
    if (end < 0) {
      conn.tunnelBuf = buf;
      if (buf.length > MAX_HEAD_BYTES)
        conn.fail(new Error("the proxy in HTTPS_PROXY sent an oversized answer"));
      return;
    }
    conn.tunnelBuf = undefined;
    let status = 0;
    try {
      status = parseResponseHead(buf.toString("latin1", 0, end)).status;
    } catch {}
    if (status !== 200 || end !== buf.length) {
      conn.fail(new Error(`the proxy in HTTPS_PROXY refused the tunnel (${status || "no HTTP answer"})`));
      return;
    }
    const [, tls] = socket.upgradeTLS<Connection>({
      data: conn,
      tls: { serverName: conn.origin.hostname },
      socket: handlers,
    });
    conn.socket = tls;
  },
  close(socket, error) {
    // After the upgrade the TLS socket reports for the connection.
    if (socket.data.socket === socket) socket.data.onClose(error);
  },
  error(socket, error) {
    if (socket.data.socket === socket) socket.data.fail(error);
  },
  connectError(socket, error) {
    socket.data.fail(error);
  },
  end(socket) {
    socket.end();
  },
};

export class UpstreamPool {
  private idle = new Map<string, Connection[]>();
  private all = new Set<Connection>();
  private sweeper: ReturnType<typeof setInterval> | undefined;

  release(conn: Connection): void {
    let list = this.idle.get(conn.origin.origin);
    if (!list) this.idle.set(conn.origin.origin, (list = []));
    list.push(conn);
    conn.parkIdle();
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
      this.sweeper.unref?.();
    }
  }

  /** Closes connections idle for IDLE_MS; the timer stops once none is idle. */
  private sweep(): void {
    const now = Date.now();
    let left = 0;
    for (const list of this.idle.values()) {
      for (let i = list.length - 1; i >= 0; i--) {
        const conn = list[i]!;
        if (now - conn.idleSince >= IDLE_MS) conn.destroy();
        else left++;
      }
    }
    if (left === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  forget(conn: Connection): void {
    this.all.delete(conn);
    const list = this.idle.get(conn.origin.origin);
    const i = list?.indexOf(conn) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }

  acquire(origin: UpstreamOrigin, fresh: boolean): Connection {
    const list = this.idle.get(origin.origin);
    while (!fresh && list?.length) {
      const conn = list.pop()!;
      if (!conn.closed) return conn;
    }
    const conn = new Connection(this, origin);
    this.all.add(conn);
    const via = origin.via;
    Bun.connect<Connection>({
      hostname: via?.hostname ?? origin.hostname,
      port: via?.port ?? origin.port,
      tls: origin.tls && !via ? { serverName: origin.hostname } : undefined,
      data: conn,
      socket: via ? tunnelHandlers : handlers,
    }).catch((error: Error) => conn.fail(error));
    const timer = setTimeout(() => {
      if (!conn.socket && !conn.closed) conn.fail(new Error("timed out connecting"));
    }, CONNECT_TIMEOUT_MS);
    timer.unref?.();
    return conn;
  }

  /**
   * Sends a request. `head` is the complete request head; `body` the whole body when it is in
   * hand (then a stale kept-alive connection is retried transparently), or `"stream"` when the
   * caller will `writeBody` it (then a new connection is used, since a failed stream cannot be re-sent).
   */
  send(
    origin: UpstreamOrigin,
    head: string,
    body: Uint8Array | undefined | "stream",
    isHead: boolean,
    handlers: ExchangeHandlers,
  ): Exchange {
    const exchange = new Exchange(this, origin, head, body, isHead, handlers);
    exchange.attempt(false);
    return exchange;
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const conn of [...this.all]) conn.destroy();
    this.idle.clear();
  }
}

// Per-request code: see tier.ts.
withoutFTL(Connection, Exchange, UpstreamPool, handlers);
