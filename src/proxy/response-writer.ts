import { downstreamFields } from "./admission.ts";
import { chunk, LAST_CHUNK, type ResponseHead } from "./http1.ts";

/** The provider's answer on its way to the client, framed for the client. */
export class ResponseWriter {
  private pending: Buffer | undefined;
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
    this.pending = Buffer.from(
      `HTTP/1.1 ${head.statusText}\r\n${downstreamFields(head)}${framing}\r\n`,
      "latin1",
    );
  }

  data(piece: Uint8Array): boolean {
    if (this.mode === "none" || piece.length === 0) return true;
    const head = this.pending;
    this.pending = undefined;
    if (this.mode === "chunked") {
      const framed = chunk(piece);
      if (head) framed.unshift(head);
      return this.client.writeAll(framed);
    }
    return head ? this.client.write(head, piece) : this.client.write(piece);
  }

  flush(): void {
    if (this.pending) this.client.write(this.pending);
    this.pending = undefined;
  }

  end(): void {
    const head = this.pending;
    this.pending = undefined;
    if (this.mode === "chunked") {
      if (head) this.client.write(head, LAST_CHUNK);
      else this.client.write(LAST_CHUNK);
    } else if (head) this.client.write(head);
    this.turn.responded = true;
  }
}
