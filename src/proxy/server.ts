import type { Socket, SocketHandler, TCPSocketListener } from "bun";
import type { Env } from "../deps.ts";
import {
  createAdmission,
  FORWARDED_METHODS,
  refusalBody,
  upstreamFields,
  type Admission,
} from "./admission.ts";
import { type Evictable, makeRoom, MAX_CLIENT_CONNECTIONS, refuseConnection } from "./capacity.ts";
import type { ProxyCredential } from "./credentials.ts";
import { egressProxyFor } from "./egress.ts";
import { type Admitted, type BodyReader, DISCARD, Forward, type ForwardHost, type Turn } from "./forward.ts";
import {
  ChunkedReader,
  headEnd,
  MAX_HEAD_BYTES,
  parseRequestHead,
  rest,
  upTo,
  WireError,
  type RequestHead,
} from "./http1.ts";
import { Outbox } from "./outbox.ts";
import type { ProxyRoute } from "./routes.ts";
import { relayUpgrade, type UpgradeRelay } from "./upgrade.ts";
import { UpstreamPool, type UpstreamOrigin } from "./upstream.ts";
import { withoutFTL } from "./tier.ts";

/**
 * The session's reverse proxy, on raw TCP (Bun.listen) with the HTTP/1.1 parsing in http1.ts and
 * a kept-alive client towards the provider in upstream.ts. Neither Bun.serve nor node:http: Bun.serve
 * resolves dot segments and drops an absolute-form target before a handler sees the request, and a
 * proxy that guards the provider's base URL has to see (and refuse) exactly what the client sent;
 * node:http plus fetch added about 0.45 ms a request where nginx adds 0.09 ms (issue 17).
 */
export interface ProxyServer {
  port: number;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  stop(): Promise<void>;
}

export interface ProxyServerOptions {
  routes: ProxyRoute[];
  credentials: Map<string, ProxyCredential>;
  /** Redacted, human output (a refresh that failed). Requests themselves are never logged. */
  warn(message: string): void;
  /** Where HTTPS_PROXY and NO_PROXY are read (egress.ts). */
  env: Env;
}

/** A new connection must have sent a request's headers within this time. */
const HEADER_TIMEOUT_MS = 10_000;
/** A kept-alive connection with no request in flight is closed after this time. */
const IDLE_TIMEOUT_MS = 15_000;
/** Bytes read ahead of the request being answered (pipelining, a body during admission) before reading pauses. */
const READ_AHEAD = 256 * 1024;

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  417: "Expectation Failed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  505: "HTTP Version Not Supported",
};
/** RFC 9110 §15.5.6: a 405 lists the methods that are allowed. */
const ALLOW = `allow: ${[...FORWARDED_METHODS].join(", ")}\r\n`;
const CONTINUE = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n");
const EMPTY = Buffer.alloc(0);
/** Shared: a body reader of kind none is never changed. */
const NO_BODY: BodyReader = { kind: "none" };

interface Shared {
  admission: ReturnType<typeof createAdmission>;
  /** Starts the connections' clock (a sweep each second) if it is not running. */
  watch(): void;
  pool: UpstreamPool;
  origins: Map<ProxyRoute, UpstreamOrigin>;
  relays: Set<UpgradeRelay>;
}

class Client implements ForwardHost, Evictable {
  outbox = new Outbox(() => this.drained());
  private buf: Buffer = EMPTY;
  private phase: "head" | "admit" | "body" | "wait" | "upgrade" | "closed" = "head";
  private turn: Turn | undefined;
  /** When the connection is closed unless a request head has come (Date.now()); 0: no clock. */
  deadline = 0;
  private sinkBlocked = false;
  private paused = false;
  private relay: UpgradeRelay | undefined;
  private gone = false;
  /** The client half-closed: no request will follow the one being answered. */
  private ended = false;
  /** Refusals are queued past Outbox.HIGH_WATER (a client that does not read them): reading waits. */
  private backlog = false;

  constructor(
    private socket: Socket<Client>,
    private shared: Shared,
  ) {
    this.outbox.attach(socket as Socket<unknown>);
    this.arm(HEADER_TIMEOUT_MS);
  }

  /**
   * Before a request's head has arrived (after connecting, or after the previous answer on a
   * kept-alive connection) the connection is on a clock; while a request is answered it is not:
   * streams may stay quiet for minutes while a model thinks. One sweep a second for all
   * connections (startProxyServer) instead of a timer set and cleared on every request.
   */
  private arm(ms: number): void {
    this.deadline = Date.now() + ms;
    this.shared.watch();
  }

  /**
   * The clock runs exactly while nothing of the child's is in flight: waiting for a head (the
   * first, or the next on a kept-alive connection) or dropping a refused request's body.
   */
  evictable(): boolean {
    return this.deadline !== 0;
  }

  /** At the connection cap (capacity.ts): closed so a new connection can be served. */
  evict(): void {
    this.deadline = 0;
    this.phase = "closed";
    // A FIN rather than a reset when nothing is queued: a kept-alive client then sees the close.
    if (this.outbox.pending === 0) this.socket.end();
    else this.socket.terminate();
  }

  /** Everything queued has been written. */
  private drained(): void {
    this.turn?.exchange?.resume();
    if (!this.backlog) return;
    this.backlog = false;
    this.pump();
    this.reading();
  }

  /** The sweep: true when the clock ran out (the connection is then terminated). */
  expired(now: number): boolean {
    if (this.deadline === 0 || now < this.deadline) return false;
    this.deadline = 0;
    this.socket.terminate();
    return true;
  }

  onData(data: Buffer): void {
    if (this.phase === "closed") return;
    if (this.relay) return void this.relay.fromClient(data);
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    this.pump();
    // What stays for later must not be a view of a buffer Bun may reuse.
    if (this.buf.length && this.buf.buffer === data.buffer) this.buf = Buffer.from(this.buf);
  }

  onEnd(): void {
    this.ended = true;
    if (this.phase === "head") this.closeWhenIdle();
    else if (this.turn) this.turn.close = true;
  }

  private closeWhenIdle(): void {
    this.deadline = 0;
    this.phase = "closed";
    this.outbox.end();
  }

  onDrain(): void {
    this.outbox.flush();
  }

  onClose(): void {
    this.gone = true;
    this.phase = "closed";
    this.deadline = 0;
    this.relay?.close();
    const turn = this.turn;
    if (turn && !turn.responded) turn.exchange?.abort();
  }

  private reading(): void {
    const pause = this.sinkBlocked || this.backlog || this.buf.length > READ_AHEAD;
    if (pause === this.paused) return;
    this.paused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  pump(): void {
    for (;;) {
      if (this.phase === "head") {
        if (this.backlog) return this.reading();
        if (!this.buf.length) return;
        const end = headEnd(this.buf);
        if (end > MAX_HEAD_BYTES || (end < 0 && this.buf.length > MAX_HEAD_BYTES))
          return this.fatal(431, "request head too large");
        if (end < 0) {
          // Lines ended by a bare LF would never reach the CRLF CRLF that ends a head: say so now
          // rather than when the header clock runs out.
          if (hasBareLf(this.buf)) this.fatal(400, "bare LF in the head");
          return;
        }
        let req: RequestHead;
        try {
          req = parseRequestHead(this.buf.toString("latin1", 0, end));
        } catch (error) {
          return this.fatal(error instanceof WireError ? error.status : 400, (error as Error).message);
        }
        this.buf = rest(this.buf, end);
        this.deadline = 0;
        this.begin(req);
        continue;
      }
      if (this.phase === "body") {
        const turn = this.turn!;
        try {
          this.readBody(turn);
        } catch (error) {
          if (!turn.responded) turn.exchange?.abort();
          if (!turn.responded) return this.fatal(400, (error as Error).message);
          return this.destroy();
        }
        this.reading();
        if (this.phase === "body") return;
      }
      if (this.phase === "wait") {
        const turn = this.turn!;
        if (!turn.responded) return this.reading();
        if (turn.close) {
          this.phase = "closed";
          this.outbox.end();
          return;
        }
        this.turn = undefined;
        this.phase = "head";
        if (this.ended && !this.buf.length) return this.closeWhenIdle();
        this.arm(IDLE_TIMEOUT_MS);
        this.reading();
        continue;
      }
      // admit, upgrade, closed: someone else moves on
      return this.reading();
    }
  }

  private readBody(turn: Turn): void {
    const body = turn.body;
    if (body.kind === "length") {
      const n = Math.min(body.left, this.buf.length);
      const more = n ? turn.sink.take(upTo(this.buf, n)) : true;
      this.buf = rest(this.buf, n);
      body.left -= n;
      if (body.left > 0) return void (this.sinkBlocked = !more);
    } else if (body.kind === "chunked") {
      const more = this.readChunks(turn, body.reader);
      if (!body.reader.done) return void (this.sinkBlocked = !more);
    }
    this.sinkBlocked = false;
    this.phase = "wait";
    const sink = turn.sink;
    turn.sink = DISCARD;
    sink.done();
  }

  /** Apart from readBody: a function that makes a closure pays for its scope on every call. */
  private readChunks(turn: Turn, reader: ChunkedReader): boolean {
    let more = true;
    const used = reader.feed(this.buf, (piece) => {
      if (!turn.sink.take(piece)) more = false;
    });
    this.buf = rest(this.buf, used);
    return more;
  }

  /** The answer's bytes (ResponseWriter); nothing once the client has gone. */
  write(data: Uint8Array, more?: Uint8Array): boolean {
    return this.gone ? false : this.outbox.write(data, more);
  }

  writeAll(pieces: Uint8Array[]): boolean {
    return this.gone ? false : this.outbox.writeAll(pieces);
  }

  isClosed(): boolean {
    return this.phase === "closed";
  }

  isReadingBody(): boolean {
    return this.phase === "body";
  }

  unblock(): void {
    if (this.sinkBlocked) {
      this.sinkBlocked = false;
      this.pump();
    }
  }

  badGateway(turn: Turn, message: string): void {
    this.outbox.write(this.refusal(502, message, true, false));
    turn.responded = true;
    turn.close = true;
    turn.sink = DISCARD;
    this.pump();
  }

  private refusal(status: number, message: string, close: boolean, isHead: boolean): Buffer {
    const body = refusalBody(message);
    return Buffer.from(
      `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${status === 405 ? ALLOW : ""}${close ? "connection: close\r\n" : ""}\r\n${isHead ? "" : body}`,
    );
  }

  /** A request that cannot be read: answer and close, since where the next one starts is unknown. */
  private fatal(status: number, message: string): void {
    this.deadline = 0;
    this.phase = "closed";
    this.outbox.write(this.refusal(status, message, true, false));
    this.outbox.end();
  }

  destroy(): void {
    this.phase = "closed";
    this.socket.terminate();
  }

  private begin(req: RequestHead): void {
    this.phase = "admit";
    const admitted = this.shared.admission.admit(req);
    if (!(admitted instanceof Promise)) return this.admitted(req, admitted);
    this.admitLater(req, admitted);
  }

  /** Apart from begin, which runs on every request: its closures would cost a scope each time. */
  private admitLater(req: RequestHead, admitted: Promise<Admission>): void {
    admitted.then(
      (result) => this.admitted(req, result),
      (error: Error) => {
        if (this.phase !== "closed") this.fatal(500, error.message);
      },
    );
  }

  private admitted(req: RequestHead, admitted: Admission): void {
    if (this.phase === "closed") return;
    if (req.upgrade !== undefined) return this.upgrade(req, admitted);
    if ("status" in admitted) return this.refuse(req, admitted.status, admitted.message);
    this.forward(req, admitted);
  }

  private newTurn(req: RequestHead): Turn {
    const body: BodyReader =
      req.framing.kind === "length"
        ? { kind: "length", left: req.framing.length }
        : req.framing.kind === "chunked"
          ? { kind: "chunked", reader: new ChunkedReader() }
          : NO_BODY;
    return { req, body, sink: DISCARD, responded: false, close: !req.keepAlive };
  }

  /**
   * A refused request is answered at once. Its body, if the client sends one, is read and dropped
   * so the connection stays usable; after `Expect: 100-continue` the client may never send it,
   * so that connection is closed instead.
   */
  private refuse(req: RequestHead, status: number, message: string): void {
    const turn = this.newTurn(req);
    if (req.expectContinue && req.framing.kind !== "none") turn.close = true;
    this.turn = turn;
    // Anyone on this machine can send refused requests: one that pipelines them and never reads
    // the answers would have them queued without end (1 GB in 20 s, measured). Above the outbox's
    // high-water mark the next head waits until they have gone.
    if (!this.outbox.write(this.refusal(status, message, turn.close, req.method === "HEAD")))
      this.backlog = true;
    turn.responded = true;
    if (turn.close) {
      this.phase = "closed";
      this.outbox.end();
      return;
    }
    // Anyone on this machine can be refused (no placeholder needed): the body to drop must come
    // within the header clock too, or a head announcing a body that never comes would hold the
    // connection open for good.
    if (req.framing.kind !== "none") this.arm(HEADER_TIMEOUT_MS);
    this.phase = "body";
    this.pump();
  }

  private forward(req: RequestHead, admitted: Admitted): void {
    const turn = this.newTurn(req);
    this.turn = turn;
    if (req.expectContinue && req.framing.kind !== "none") this.outbox.write(CONTINUE);
    const forward = new Forward(
      this,
      turn,
      admitted,
      this.shared.origins.get(admitted.route)!,
      this.shared.pool,
    );
    turn.sink = forward;
    this.phase = "body";
    forward.start();
    this.pump();
  }

  /** WebSocket handshakes get the same admission, then upgrade.ts splices the sockets. */
  private upgrade(req: RequestHead, admitted: Admission): void {
    let refusal: [number, string] | undefined;
    if ("status" in admitted) refusal = [admitted.status, admitted.message];
    // The one upgrade a provider API offers; another protocol switch (h2c) would leave the
    // proxy relaying bytes it cannot check.
    else if (req.upgrade!.toLowerCase() !== "websocket")
      refusal = [400, "only WebSocket upgrades are forwarded"];
    // RFC 6455 §4.1: a GET without a body. Bytes framed as one would reach the provider unframed.
    else if (req.framing.kind !== "none") refusal = [400, "a WebSocket handshake has no body"];
    if (refusal || "status" in admitted) return this.fatal(...(refusal ?? [400, ""]));
    const { route, path, secret } = admitted;
    const origin = this.shared.origins.get(route)!;
    const head = `GET ${path} HTTP/1.1\r\nhost: ${origin.hostHeader}\r\nconnection: Upgrade\r\nupgrade: websocket\r\n${upstreamFields(req, route, secret)}\r\n`;
    this.phase = "upgrade";
    const rest = this.buf;
    this.buf = EMPTY;
    this.relay = relayUpgrade({
      origin,
      head: Buffer.from(head, "latin1"),
      early: rest,
      client: this.outbox,
      pauseClient: (pause) => (pause ? this.socket.pause() : this.socket.resume()),
      refuse: () => this.fatal(502, `${route.provider.name} could not be reached`),
      relays: this.shared.relays,
    });
  }
}

function hasBareLf(buf: Buffer): boolean {
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1))
    if (i === 0 || buf[i - 1] !== 13) return true;
  return false;
}

function originOf(route: ProxyRoute, env: Env): UpstreamOrigin {
  const url = new URL(route.origin);
  const tls = url.protocol === "https:";
  const port = Number(url.port) || (tls ? 443 : 80);
  return {
    tls,
    hostname: url.hostname.replace(/^\[|\]$/g, ""),
    port,
    origin: url.origin,
    hostHeader: url.host,
    authority: `${url.hostname}:${port}`,
    via: egressProxyFor(env, url),
  };
}

export async function startProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
  const routes = new Map(options.routes.map((r) => [r.provider.id, r]));
  const clients = new Set<Socket<Client>>();
  let sweeper: ReturnType<typeof setInterval> | undefined;
  // Header and idle clocks: one sweep a second while any connection is open.
  const sweep = () => {
    const now = Date.now();
    for (const socket of clients) socket.data?.expired(now);
    if (clients.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  const shared: Shared = {
    admission: createAdmission(routes, options.credentials, options.warn),
    watch() {
      if (sweeper) return;
      sweeper = setInterval(sweep, 1_000);
      sweeper.unref?.();
    },
    pool: new UpstreamPool(),
    origins: new Map(options.routes.map((r) => [r, originOf(r, options.env)])),
    relays: new Set(),
  };
  const handlers: SocketHandler<Client> = {
    open(socket) {
      // One comparison per connection; makeRoom's pass runs only at the cap.
      if (clients.size >= MAX_CLIENT_CONNECTIONS && !makeRoom(clients))
        return refuseConnection(socket as Socket<unknown>);
      socket.setNoDelay(true);
      socket.data = new Client(socket, shared);
      clients.add(socket);
    },
    data: (socket, data) => socket.data.onData(data),
    drain: (socket) => socket.data.onDrain(),
    // The client has sent all it will (a FIN after its last request): answer, then close.
    end: (socket) => socket.data.onEnd(),
    close(socket) {
      clients.delete(socket);
      socket.data?.onClose();
    },
    error(socket) {
      socket.terminate();
    },
  };
  // The binary starts with a reluctant JIT for the short hot path (scripts/build.ts); the proxy
  // runs for the child's lifetime and needs the normal policy (bench-proxy: added p50 0.17 ms with
  // it, 0.23-0.29 ms without).
  Bun.unsafe.setJITPolicy(1);
  withoutFTL(handlers, shared.admission);
  const listener: TCPSocketListener<Client> = Bun.listen<Client>({
    hostname: "127.0.0.1",
    port: 0,
    allowHalfOpen: true,
    socket: handlers,
  });
  const port = listener.port;
  shared.admission.setPort(port);
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    stop: async () => {
      clearInterval(sweeper);
      sweeper = undefined;
      listener.stop(true);
      for (const socket of clients) socket.terminate();
      for (const relay of shared.relays) relay.close();
      shared.pool.close();
    },
  };
}

// Per-request code: see tier.ts.
withoutFTL(Client, hasBareLf);
