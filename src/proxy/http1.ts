/**
 * The HTTP/1.1 wire format as the session proxy reads it (RFC 9112), written by hand because the
 * proxy must see exactly what the client sent: Bun.serve resolves dot segments and absolute-form
 * targets before a handler runs, and node:http plus fetch cost about 0.4 ms per request on top of
 * the upstream's own time (issue 17). Strict where a lenient parser lets two parties disagree about
 * where a message ends (request smuggling): bare CR or LF, obs-fold, whitespace before the colon,
 * Content-Length next to Transfer-Encoding, several Content-Lengths, a malformed chunk size — each
 * is refused with 400 rather than guessed at.
 */

/** The largest request or response head accepted (request line, headers, the empty line). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** The longest chunk-size line (size and extensions) or trailer section accepted. */
const MAX_CHUNK_LINE = 4096;
const MAX_TRAILERS = 16 * 1024;

const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

/** A field as sent (name, value without surrounding whitespace) and its name lower-cased. */
export type Header = [name: string, value: string, lower: string];
export type Framing = { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" };

export interface RequestHead {
  method: string;
  target: string;
  /** Minor version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor: number;
  /** As sent: original name case, values without surrounding whitespace, in order. */
  headers: Header[];
  framing: Framing;
  /** Lower-cased tokens of Connection. */
  connection: Set<string>;
  keepAlive: boolean;
  expectContinue: boolean;
  /** The Upgrade header's value when Connection names upgrade. */
  upgrade?: string;
}

export interface ResponseHead {
  status: number;
  reason: string;
  minor: number;
  headers: Header[];
  connection: Set<string>;
  /** Content-Length, when present (and single). */
  length?: number;
  chunked: boolean;
  /** A Transfer-Encoding other than chunked: the body lasts until the connection closes. */
  otherCoding: boolean;
}

export class WireError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Index just past the empty line that ends a head, or -1 while it has not arrived. */
export function headEnd(buf: Uint8Array, from = 0): number {
  const at = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).indexOf("\r\n\r\n", from);
  return at < 0 ? -1 : at + 4;
}

const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/g;

/** Token characters (RFC 9110 §5.6.2), by char code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TCHAR[c.charCodeAt(0)] = 1;

/**
 * The header fields of a head (`text` from the first field line through the empty line), with
 * their names lower-cased alongside. Written as loops over char codes: the regex version cost
 * 30–40 µs a head, a tenth of the whole budget (issue 17).
 */
function parseFields(text: string, start: number, end: number): Header[] {
  // No control characters but HTAB, and CR only before LF: one native scan of the whole section.
  CONTROL.lastIndex = start;
  const bad = CONTROL.exec(text);
  if (bad && bad.index < end) throw new WireError(400, "control characters or a bare CR or LF in a header");
  const headers: Header[] = [];
  let i = start;
  while (i < end) {
    const eol = text.indexOf("\r\n", i);
    if (eol < 0 || eol >= end) throw new WireError(400, "malformed header field");
    // RFC 9112 §5.2: obs-fold is refused (400) by a server that does not unfold it.
    const first = text.charCodeAt(i);
    if (first === 32 || first === 9) throw new WireError(400, "obsolete line folding");
    let j = i;
    // RFC 9112 §5.1: no whitespace between the field name and the colon.
    while (j < eol) {
      const c = text.charCodeAt(j);
      if (c >= 128 || TCHAR[c] !== 1) break;
      j++;
    }
    if (j === i || text.charCodeAt(j) !== 58) throw new WireError(400, "malformed header field");
    const name = text.slice(i, j);
    let from = j + 1;
    let to = eol;
    while (from < to && (text.charCodeAt(from) === 32 || text.charCodeAt(from) === 9)) from++;
    while (to > from && (text.charCodeAt(to - 1) === 32 || text.charCodeAt(to - 1) === 9)) to--;
    headers.push([name, text.slice(from, to), name.toLowerCase()]);
    i = eol + 2;
  }
  return headers;
}

function values(headers: Header[], lower: string): string[] {
  const out: string[] = [];
  for (const header of headers) if (header[2] === lower) out.push(header[1]);
  return out;
}

const NONE: ReadonlySet<string> = new Set();
function tokenSet(list: string[]): Set<string> {
  return list.length ? new Set(tokens(list)) : (NONE as Set<string>);
}

function tokens(list: string[]): string[] {
  return list.flatMap((v) => v.split(",")).map((t) => t.trim().toLowerCase());
}

function contentLength(all: string[]): number | undefined {
  if (all.length === 0) return undefined;
  // RFC 9112 §6.3: several lengths (even equal, or a list) are an unrecoverable framing error here.
  if (all.length > 1 || !/^\d{1,15}$/.test(all[0]!)) throw new WireError(400, "invalid Content-Length");
  return Number(all[0]);
}

/** A request head, `text` being the latin1 reading of its bytes up to and including the empty line. */
export function parseRequestHead(text: string): RequestHead {
  // RFC 9112 §2.2: empty lines before the request line are ignored.
  let start = 0;
  while (text.startsWith("\r\n", start)) start += 2;
  const eol = text.indexOf("\r\n", start);
  const match = REQUEST_LINE.exec(text.slice(start, eol));
  if (!match) throw new WireError(400, "malformed request line");
  const [, method, target, major, minorText] = match as unknown as [string, string, string, string, string];
  if (major !== "1" || (minorText !== "0" && minorText !== "1"))
    throw new WireError(505, "only HTTP/1.1 and HTTP/1.0 are spoken here");
  const minor = Number(minorText);
  const headers = parseFields(text, eol + 2, text.length - 2);

  const hosts = values(headers, "host");
  // RFC 9112 §3.2: a 1.1 request without Host, or with more than one, is answered 400.
  if (hosts.length > 1 || (minor === 1 && hosts.length === 0))
    throw new WireError(400, "missing or repeated Host");
  const length = contentLength(values(headers, "content-length"));
  const codings = values(headers, "transfer-encoding");
  let framing: Framing = length ? { kind: "length", length } : { kind: "none" };
  if (codings.length > 0) {
    // RFC 9112 §6.1: Transfer-Encoding with Content-Length is a smuggling attempt or a broken
    // client; Transfer-Encoding in HTTP/1.0 has no meaning to a 1.0 sender's peers.
    if (length !== undefined) throw new WireError(400, "both Content-Length and Transfer-Encoding");
    if (minor === 0) throw new WireError(400, "Transfer-Encoding in an HTTP/1.0 request");
    const list = tokens(codings);
    if (list.at(-1) !== "chunked" || list.slice(0, -1).includes("chunked") || list.includes(""))
      throw new WireError(400, "the request body's final transfer coding must be chunked");
    if (list.length > 1) throw new WireError(501, "transfer codings other than chunked are not supported");
    framing = { kind: "chunked" };
  }
  const connection = tokenSet(values(headers, "connection"));
  const expect = values(headers, "expect");
  let expectContinue = false;
  if (expect.length > 0) {
    if (expect.length > 1 || expect[0]!.toLowerCase() !== "100-continue")
      throw new WireError(417, "only Expect: 100-continue is understood");
    expectContinue = true;
  }
  const upgrade = connection.has("upgrade") ? values(headers, "upgrade")[0] : undefined;
  return {
    method,
    target,
    minor,
    headers,
    framing,
    connection,
    keepAlive: minor === 1 && !connection.has("close"),
    expectContinue,
    upgrade,
  };
}

/** A response head from the provider; anything unreadable is the provider's fault (502). */
export function parseResponseHead(text: string): ResponseHead {
  const eol = text.indexOf("\r\n");
  let headers: Header[];
  try {
    headers = parseFields(text, eol + 2, text.length - 2);
  } catch (error) {
    throw new WireError(502, `malformed response head (${(error as Error).message})`);
  }
  const match = STATUS_LINE.exec(text.slice(0, eol));
  if (!match) throw new WireError(502, "malformed status line");
  const codings = tokens(values(headers, "transfer-encoding"));
  const chunked = codings.at(-1) === "chunked";
  let length: number | undefined;
  if (!codings.length) {
    const all = [...new Set(tokens(values(headers, "content-length")))];
    if (all.length > 1 || (all.length === 1 && !/^\d{1,15}$/.test(all[0]!)))
      throw new WireError(502, "invalid Content-Length in the response");
    if (all.length === 1) length = Number(all[0]);
  }
  return {
    minor: Number(match[1]),
    status: Number(match[2]),
    reason: match[3] ?? "",
    headers,
    connection: tokenSet(values(headers, "connection")),
    length,
    chunked,
    otherCoding: codings.length > 0 && !chunked,
  };
}

/**
 * Reads a chunked body (RFC 9112 §7.1) incrementally. `feed` hands each piece of chunk data to
 * `onData` as a view of the input (no copy) and returns how many bytes it consumed: all of them
 * until the last chunk and the trailer section have been read, then up to their end. Extensions
 * are skipped, trailers are read and dropped.
 */
export class ChunkedReader {
  done = false;
  private state: "size" | "data" | "data-end" | "trailer" = "size";
  private remaining = 0;
  private line = "";
  private trailerBytes = 0;

  feed(buf: Uint8Array, onData: (piece: Uint8Array) => void): number {
    let i = 0;
    while (i < buf.length && !this.done) {
      if (this.state === "data") {
        const n = Math.min(this.remaining, buf.length - i);
        onData(buf.subarray(i, i + n));
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = "data-end";
        continue;
      }
      // A line: the chunk size, the CRLF after data, or a trailer field.
      const lf = buf.indexOf(10, i);
      const end = lf < 0 ? buf.length : lf + 1;
      this.line += Buffer.from(buf.buffer, buf.byteOffset + i, end - i).toString("latin1");
      i = end;
      if (this.line.length > MAX_CHUNK_LINE) throw new WireError(400, "chunk line too long");
      if (lf < 0) break;
      const line = this.line;
      this.line = "";
      if (!line.endsWith("\r\n") || line.slice(0, -2).includes("\r"))
        throw new WireError(400, "bare CR or LF in chunked framing");
      const content = line.slice(0, -2);
      if (this.state === "data-end") {
        if (content !== "") throw new WireError(400, "chunk data longer than its size");
        this.state = "size";
      } else if (this.state === "size") {
        const m = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/.exec(content);
        if (!m) throw new WireError(400, "malformed chunk size");
        this.remaining = Number.parseInt(m[1]!, 16);
        this.state = this.remaining === 0 ? "trailer" : "data";
      } else {
        this.trailerBytes += line.length;
        if (this.trailerBytes > MAX_TRAILERS) throw new WireError(400, "trailer section too large");
        if (content === "") this.done = true;
        else parseFields(line, 0, line.length);
      }
    }
    return i;
  }
}

/** Chunked framing for one piece of body going out (a zero-length piece would end the body). */
export function chunk(piece: Uint8Array): Uint8Array[] {
  return [Buffer.from(`${piece.length.toString(16)}\r\n`, "latin1"), piece, CRLF];
}
const CRLF = Buffer.from("\r\n");
export const LAST_CHUNK = Buffer.from("0\r\n\r\n");
