import { type Admission, upstreamFields } from "./admission.ts";
import { type ChunkedReader, chunk, LAST_CHUNK, type RequestHead, type ResponseHead } from "./http1.ts";
import { ResponseWriter } from "./response-writer.ts";
import type { ProxyRoute } from "./routes.ts";
import type { Exchange, ExchangeHandlers, UpstreamOrigin, UpstreamPool } from "./upstream.ts";
import { withoutFTL } from "./tier.ts";

/** Bodies up to this size are buffered, so a request rejected with 401 can be sent again after a refresh. */
const REPLAY_LIMIT = 1 << 20;

export type Admitted = Extract<Admission, { route: ProxyRoute }>;

export type BodyReader =
  | { kind: "none" }
  | { kind: "length"; left: number }
  | { kind: "chunked"; reader: ChunkedReader };

/** Where a request's body goes as it is read. */
export interface BodySink {
  /** false asks for a pause until the upstream drains. */
  take(piece: Uint8Array): boolean;
  /** The body has been read in full (called once). */
  done(): void;
}

/** The body of a refused request, or the rest of one the provider answered early: read and dropped. */
export const DISCARD: BodySink = { take: () => true, done: () => undefined };

/** One request on a connection, from its head to the end of both its body and its answer. */
export interface Turn {
  req: RequestHead;
  body: BodyReader;
  sink: BodySink;
  responded: boolean;
  /** Close the connection once this turn is over. */
  close: boolean;
  exchange?: Exchange;
}

/** What a forwarded request needs from the client's connection (server.ts' Client). */
export interface ForwardHost {
  /** The client's connection has closed or is closing. */
  isClosed(): boolean;
  /** The request's body is still being read. */
  isReadingBody(): boolean;
  write(data: Uint8Array, more?: Uint8Array): boolean;
  writeAll(pieces: Uint8Array[]): boolean;
  /** The turn moved on (answered, or failed): read what follows. */
  pump(): void;
  destroy(): void;
  /** The upstream takes request body bytes again. */
  unblock(): void;
  /** Nothing has been answered and the provider cannot be reached: 502, then close. */
  badGateway(turn: Turn, message: string): void;
}

/**
 * An admitted request on its way to the provider and its answer on the way back: the body sink
 * for the client's side and the handlers for the upstream exchange, as one object per request
 * (it replaced some twenty closures a request, issue 17).
 */
export class Forward implements ExchangeHandlers, BodySink {
  private readonly response: ResponseWriter;
  /** Bodies in hand are sent whole, once read; larger or chunked ones stream. */
  private readonly buffered: boolean;
  private pieces: Uint8Array[] | undefined;
  private body: Uint8Array | undefined | "stream" = "stream";
  private key: string;
  private replayed = false;
  private exchange: Exchange | undefined;

  constructor(
    private readonly host: ForwardHost,
    private readonly turn: Turn,
    private readonly admitted: Admitted,
    private readonly origin: UpstreamOrigin,
    private readonly pool: UpstreamPool,
  ) {
    const framing = turn.req.framing;
    this.buffered = framing.kind === "none" || (framing.kind === "length" && framing.length <= REPLAY_LIMIT);
    this.key = admitted.secret;
    this.response = new ResponseWriter(host, turn, turn.req.minor);
  }

  /** A streamed body goes upstream at once; a buffered one when it has been read (done). */
  start(): void {
    if (!this.buffered) this.send();
  }

  private send(): void {
    const req = this.turn.req;
    this.exchange = this.pool.send(this.origin, this.headFor(req), this.body, req.method === "HEAD", this);
    this.turn.exchange = this.exchange;
  }

  private headFor(req: RequestHead): string {
    const framing = req.framing;
    const framingLine =
      framing.kind === "chunked"
        ? "transfer-encoding: chunked\r\n"
        : framing.kind === "length"
          ? `content-length: ${framing.length}\r\n`
          : req.hasLength
            ? "content-length: 0\r\n"
            : "";
    const { route, path } = this.admitted;
    return `${req.method} ${path} HTTP/1.1\r\nhost: ${this.origin.hostHeader}\r\n${upstreamFields(req, route, this.key)}${framingLine}\r\n`;
  }

  take(piece: Uint8Array): boolean {
    // A piece is a view of a buffer Bun may reuse once the data handler returns: keep a copy.
    if (this.buffered) {
      (this.pieces ??= []).push(Uint8Array.prototype.slice.call(piece));
      return true;
    }
    if (this.turn.req.framing.kind === "chunked") return this.exchange!.writeBody(...chunk(piece));
    return this.exchange!.writeBody(piece);
  }

  done(): void {
    if (this.buffered) {
      const pieces = this.pieces;
      this.body = !pieces ? undefined : pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
      this.send();
      return;
    }
    if (this.turn.req.framing.kind === "chunked") this.exchange!.writeBody(LAST_CHUNK);
    this.exchange!.endBody();
  }

  head(head: ResponseHead, bodyless: boolean): boolean {
    const credential = this.admitted.credential;
    // An OAuth token the provider no longer takes: refresh once and send the request again, when
    // its body is still in hand. The 401 is held meanwhile and passed on if no newer token comes.
    if (head.status === 401 && credential.renewable && this.buffered && !this.replayed) {
      this.replayed = true;
      this.renew(this.exchange!, head, bodyless);
      return false;
    }
    this.response.head(head, bodyless);
    return true;
  }

  private renew(exchange: Exchange, held: ResponseHead, bodyless: boolean): void {
    this.admitted.credential.renew(this.key).then(
      (renewed) => {
        if (this.host.isClosed()) return exchange.abort();
        if (!renewed) return this.passOn(exchange, held, bodyless);
        exchange.abort();
        this.key = renewed;
        this.send();
      },
      () => this.passOn(exchange, held, bodyless),
    );
  }

  /**
   * No newer token: the held 401 goes to the client as the provider sent it, its head first. (The
   * body alone went before: the client read the provider's JSON where a status line should be.)
   */
  private passOn(exchange: Exchange, held: ResponseHead, bodyless: boolean): void {
    this.response.head(held, bodyless);
    exchange.proceed();
  }

  data(piece: Uint8Array): boolean {
    return this.response.data(piece);
  }

  flush(): void {
    this.response.flush();
  }

  end(): void {
    this.response.end();
    // The provider answered before the request body was all here (a 401 or 413 sent early): the
    // rest is read and dropped, so the client's connection stays in step.
    if (this.host.isReadingBody()) this.turn.sink = DISCARD;
    this.host.pump();
  }

  error(error: Error, started: boolean): void {
    if (started || this.turn.responded) return this.host.destroy();
    this.host.badGateway(
      this.turn,
      `${this.admitted.route.provider.name} could not be reached (${error.message})`,
    );
  }

  drain(): void {
    this.host.unblock();
  }
}

// Per-request code: see tier.ts.
withoutFTL(Forward);
