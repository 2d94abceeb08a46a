import { downstreamFields } from "./admission.ts";
import { chunk, LAST_CHUNK, type ResponseHead, withHead } from "./http1.ts";
import { withoutFTL } from "./tier.ts";

/** The provider's answer on its way to the client, framed for the client. */
export class ResponseWriter {
  /** The head, held until the first body bytes so both leave in one write. */
  private pending: string | undefined;
  private mode: "raw" | "chunked" | "none" = "raw";

  constructor(
    private client: {
      write(data: Uint8Array, more?: Uint8Array): boolean;
      writeAll(pieces: Uint8Array[]): boolean;
    },
    /** `close`: the connection ends after this answer; `responded` is set at the end. */
    private turn: { close: boolean; responded: boolean },
    private clientMinor: number,
  ) {}

  head(head: ResponseHead, bodyless: boolean): void {
    let framing = "";
    if (bodyless) {
      this.mode = "none";
      if (head.length !== undefined) framing = `content-length: ${head.length}\r\n`;
    } else if (head.length !== undefined && !head.chunked && !head.otherCoding) {
      framing = `content-length: ${head.length}\r\n`;
    } else if (this.clientMinor === 1) {
      this.mode = "chunked";
      framing = "transfer-encoding: chunked\r\n";
    } else {
      // An HTTP/1.0 client knows no chunked framing: the body ends with the connection.
      this.turn.close = true;
    }
    if (this.turn.close) framing += "connection: close\r\n";
    this.pending = `HTTP/1.1 ${head.statusText}\r\n${downstreamFields(head)}${framing}\r\n`;
  }

  data(piece: Uint8Array): boolean {
    if (this.mode === "none" || piece.length === 0) return true;
    const head = this.pending;
    this.pending = undefined;
    if (this.mode === "chunked") {
      const framed = chunk(piece);
      if (head !== undefined) framed.unshift(withHead(head));
      return this.client.writeAll(framed);
    }
    return this.client.write(head !== undefined ? withHead(head, piece) : piece);
  }

  flush(): void {
    if (this.pending !== undefined) this.client.write(withHead(this.pending));
    this.pending = undefined;
  }

  end(): void {
    const head = this.pending;
    this.pending = undefined;
    if (this.mode === "chunked")
      this.client.write(head !== undefined ? withHead(head, LAST_CHUNK) : LAST_CHUNK);
    else if (head !== undefined) this.client.write(withHead(head));
    this.turn.responded = true;
  }
}

// Per-request code: see tier.ts.
withoutFTL(ResponseWriter);
