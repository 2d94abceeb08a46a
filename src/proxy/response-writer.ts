import { downstreamFields } from "./admission.ts";
import { chunk, LAST_CHUNK, type ResponseHead } from "./http1.ts";

/** The provider's answer on its way to the client, framed for the client. */
export class ResponseWriter {
  private pending: Buffer | undefined;
  private mode: "raw" | "chunked" | "none" = "raw";

  constructor(
    private client: { write(...pieces: Uint8Array[]): boolean },
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
    const framed = this.mode === "chunked" ? chunk(piece) : [piece];
    const head = this.pending;
    this.pending = undefined;
    return head ? this.client.write(head, ...framed) : this.client.write(...framed);
  }

  flush(): void {
    if (this.pending) this.client.write(this.pending);
    this.pending = undefined;
  }

  end(): void {
    const tail = this.mode === "chunked" ? [LAST_CHUNK] : [];
    const head = this.pending;
    this.pending = undefined;
    this.client.write(...(head ? [head, ...tail] : tail));
    this.turn.responded = true;
  }
}
