/**
 * The HTTP/1.1 wire format as the session proxy reads it (RFC 9112), written by hand because the
 * proxy must see exactly what the client sent: Bun.serve resolves dot segments and absolute-form
 * targets before a handler runs, and node:http plus fetch cost about 0.4 ms per request on top of
 * the upstream's own time (issue 17). Strict where a lenient parser lets two parties disagree about
 * where a message ends (request smuggling): bare CR or LF, obs-fold, whitespace before the colon,
 * Content-Length next to Transfer-Encoding, several Content-Lengths, a malformed chunk size — each
 * is refused with 400 rather than guessed at.
 */

import { withoutFTL } from "./tier.ts";

/** The largest request or response head accepted (request line, headers, the empty line). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** The longest chunk-size line (size and extensions) or trailer section accepted. */
const MAX_CHUNK_LINE = 4096;
const MAX_TRAILERS = 16 * 1024;

/**
 * The fields the proxy acts on, by kind; every other name is OTHER. A head's fields are kept as
 * offsets into its latin1 text (FieldIndex) rather than as strings: a head of ten fields made some
 * forty strings and arrays per request, and the garbage collector's pauses that followed were most
 * of the proxy's p99 (issue 17).
 */
export const OTHER = 0;
export const HOST = 1;
export const CONTENT_LENGTH = 2;
export const TRANSFER_ENCODING = 3;
export const CONNECTION = 4;
export const EXPECT = 5;
export const UPGRADE = 6;
export const AUTHORIZATION = 7;
export const X_API_KEY = 8;
export const X_GOOG_API_KEY = 9;
export const KEEP_ALIVE = 10;
export const PROXY_CONNECTION = 11;
export const PROXY_AUTHENTICATE = 12;
export const PROXY_AUTHORIZATION = 13;
export const TE = 14;
export const TRAILER = 15;
const KNOWN = [
  "",
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "expect",
  "upgrade",
  "authorization",
  "x-api-key",
  "x-goog-api-key",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
];
/** Kinds of the KNOWN names, by the name's length: a field is classified without lower-casing it. */
const BY_LENGTH: number[][] = [];
for (let kind = 1; kind < KNOWN.length; kind++) (BY_LENGTH[KNOWN[kind]!.length] ??= []).push(kind);

/** RFC 9110 §7.6.1: connection-specific fields, never forwarded (a WebSocket handshake puts Upgrade back itself). */
export const HOP_BY_HOP = new Uint8Array(KNOWN.length);
for (const kind of [
  CONNECTION,
  KEEP_ALIVE,
  PROXY_CONNECTION,
  PROXY_AUTHENTICATE,
  PROXY_AUTHORIZATION,
  TE,
  TRAILER,
  TRANSFER_ENCODING,
  UPGRADE,
])
  HOP_BY_HOP[kind] = 1;

/**
 * Where each field of a head is, six numbers a field: line start, the colon, the value's start and
 * end (without surrounding whitespace), the line's end (after its CRLF), and its kind.
 */
export type FieldIndex = number[];
export const STRIDE = 6;
export const AT_COLON = 1;
export const AT_VALUE = 2;
export const AT_VALUE_END = 3;
export const AT_LINE_END = 4;
export const AT_KIND = 5;

/** Whether text[start, start + lower.length) is `lower` in any letter case (`lower` is lower case). */
export function sameName(text: string, start: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) {
    let c = text.charCodeAt(start + k);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(k)) return false;
  }
  return true;
}

function kindOf(text: string, start: number, end: number): number {
  const kinds = BY_LENGTH[end - start];
  if (kinds !== undefined)
    for (let n = 0; n < kinds.length; n++) if (sameName(text, start, KNOWN[kinds[n]!]!)) return kinds[n]!;
  return OTHER;
}

/** The field at `at` (an index into `fields`) as `name: value\r\n`, the form the proxy sends on. */
export function fieldLine(text: string, fields: FieldIndex, at: number): string {
  const start = fields[at]!;
  const colon = fields[at + AT_COLON]!;
  const value = fields[at + AT_VALUE]!;
  const valueEnd = fields[at + AT_VALUE_END]!;
  // Already in that form (one space after the colon, nothing trailing): the line as sent.
  if (value === colon + 2 && text.charCodeAt(colon + 1) === 32 && valueEnd === fields[at + AT_LINE_END]! - 2)
    return text.slice(start, valueEnd + 2);
  return `${text.slice(start, colon)}: ${text.slice(value, valueEnd)}\r\n`;
}

/** The field's name in lower case (for the rare comparisons against names a Connection header lists). */
export function lowerName(text: string, fields: FieldIndex, at: number): string {
  return text.slice(fields[at]!, fields[at + AT_COLON]!).toLowerCase();
}

export function fieldValue(text: string, fields: FieldIndex, at: number): string {
  return text.slice(fields[at + AT_VALUE]!, fields[at + AT_VALUE_END]!);
}

export type Framing = { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" };

export interface RequestHead {
  /** The head's bytes as latin1, up to and including the empty line; `fields` points into it. */
  text: string;
  method: string;
  target: string;
  /** Minor version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor: number;
  /** As sent, in order: see FieldIndex. */
  fields: FieldIndex;
  /** The Host field's value ("" when there is none). */
  host: string;
  /** A Content-Length field was sent (even `0`, which frames no body). */
  hasLength: boolean;
  framing: Framing;
  /** Lower-cased tokens of Connection. */
  connection: Set<string>;
  keepAlive: boolean;
  expectContinue: boolean;
  /** The Upgrade header's value when Connection names upgrade. */
  upgrade?: string;
}

export interface ResponseHead {
  text: string;
  status: number;
  /** The status line after the version: `200 OK` (the code, then the reason if any). */
  statusText: string;
  minor: number;
  fields: FieldIndex;
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

const NOTHING = Buffer.alloc(0);

/** `buf` from `from` on: an empty buffer rather than a new view when nothing is left (per request, each view is an allocation). */
export function rest(buf: Buffer, from: number): Buffer {
  return from >= buf.length ? NOTHING : from === 0 ? buf : buf.subarray(from);
}

/** `buf` up to `to`: the buffer itself when that is all of it. */
export function upTo(buf: Buffer, to: number): Buffer {
  return to >= buf.length ? buf : buf.subarray(0, to);
}

const HEAD_END = Buffer.from("\r\n\r\n");

/**
 * Index just past the empty line that ends a head, or -1 while it has not arrived. The needle is
 * a Buffer: with a string Bun converts it on every call, 3.4 times slower (issue 17).
 */
export function headEnd(buf: Buffer, from = 0): number {
  const at = buf.indexOf(HEAD_END, from);
  return at < 0 ? -1 : at + 4;
}

const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/g;

/** Token characters (RFC 9110 §5.6.2), by char code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TCHAR[c.charCodeAt(0)] = 1;

/**
 * The header fields of a head (`text` from the first field line through the empty line), appended
 * to `out` (see FieldIndex). Written as loops over char codes: the regex version cost 30–40 µs a
 * head, a tenth of the whole budget (issue 17).
 */
function parseFields(text: string, start: number, end: number, out: FieldIndex): void {
  // No control characters but HTAB, and CR only before LF: one native scan of the whole section.
  CONTROL.lastIndex = start;
  const bad = CONTROL.exec(text);
  if (bad && bad.index < end) throw new WireError(400, "control characters or a bare CR or LF in a header");
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
    let from = j + 1;
    let to = eol;
    while (from < to && (text.charCodeAt(from) === 32 || text.charCodeAt(from) === 9)) from++;
    while (to > from && (text.charCodeAt(to - 1) === 32 || text.charCodeAt(to - 1) === 9)) to--;
    out.push(i, j, from, to, eol + 2, kindOf(text, i, j));
    i = eol + 2;
  }
}

const NONE: ReadonlySet<string> = new Set();
const KEEP_ALIVE_ONLY: ReadonlySet<string> = new Set(["keep-alive"]);

/**
 * Whether Connection lists a field other than the hop-by-hop ones (which are dropped anyway): then,
 * and only then, every field's name has to be compared with its tokens.
 */
export function namesOtherFields(connection: Set<string>): boolean {
  if (connection === NONE || connection === KEEP_ALIVE_ONLY) return false;
  for (const token of connection) if (token !== "keep-alive" && token !== "upgrade") return true;
  return false;
}

function tokens(list: string[]): string[] {
  return list.flatMap((v) => v.split(",")).map((t) => t.trim().toLowerCase());
}

/** Connection's tokens; the usual `keep-alive` without splitting anything. */
function connectionOf(text: string, fields: FieldIndex): Set<string> {
  let list: string[] | undefined;
  let single = -1;
  for (let at = 0; at < fields.length; at += STRIDE) {
    if (fields[at + AT_KIND] !== CONNECTION) continue;
    if (single < 0 && list === undefined) single = at;
    else (list ??= [fieldValue(text, fields, single)]).push(fieldValue(text, fields, at));
  }
  if (single < 0) return NONE as Set<string>;
  if (list === undefined) {
    const from = fields[single + AT_VALUE]!;
    if (fields[single + AT_VALUE_END]! - from === 10 && sameName(text, from, "keep-alive"))
      return KEEP_ALIVE_ONLY as Set<string>;
    list = [fieldValue(text, fields, single)];
  }
  return new Set(tokens(list));
}

function valuesOf(text: string, fields: FieldIndex, kind: number): string[] {
  const out: string[] = [];
  for (let at = 0; at < fields.length; at += STRIDE)
    if (fields[at + AT_KIND] === kind) out.push(fieldValue(text, fields, at));
  return out;
}

/** A value of 1 to 15 decimal digits as a number, or -1. */
function digits(text: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** A request head, `text` being the latin1 reading of its bytes up to and including the empty line. */
export function parseRequestHead(text: string): RequestHead {
  // RFC 9112 §2.2: empty lines before the request line are ignored.
  let start = 0;
  while (text.startsWith("\r\n", start)) start += 2;
  const eol = text.indexOf("\r\n", start);
  // request-line = method SP request-target SP HTTP-version (RFC 9112 §3), by hand: the regex and
  // its match array were a measurable share of a request's allocations.
  let i = start;
  while (i < eol && text.charCodeAt(i) < 128 && TCHAR[text.charCodeAt(i)] === 1) i++;
  let j = i + 1;
  while (j < eol && text.charCodeAt(j) >= 0x21 && text.charCodeAt(j) <= 0x7e) j++;
  const major = text.charCodeAt(j + 6) - 48;
  const minor = text.charCodeAt(j + 8) - 48;
  if (
    eol < 0 ||
    i === start ||
    text.charCodeAt(i) !== 32 ||
    j === i + 1 ||
    text.charCodeAt(j) !== 32 ||
    eol !== j + 9 ||
    !text.startsWith("HTTP/", j + 1) ||
    text.charCodeAt(j + 7) !== 46 ||
    !(major >= 0 && major <= 9) ||
    !(minor >= 0 && minor <= 9)
  )
    throw new WireError(400, "malformed request line");
  if (major !== 1 || minor > 1) throw new WireError(505, "only HTTP/1.1 and HTTP/1.0 are spoken here");
  const fields: FieldIndex = [];
  parseFields(text, eol + 2, text.length - 2, fields);

  let hosts = 0;
  let host = "";
  let lengths = 0;
  let length = -1;
  let codings = false;
  let expects = 0;
  let expect = -1;
  let upgrade = -1;
  for (let at = 0; at < fields.length; at += STRIDE) {
    const kind = fields[at + AT_KIND];
    if (kind === HOST) {
      if (hosts++ === 0) host = fieldValue(text, fields, at);
    } else if (kind === CONTENT_LENGTH) {
      if (lengths++ === 0) length = digits(text, fields[at + AT_VALUE]!, fields[at + AT_VALUE_END]!);
    } else if (kind === TRANSFER_ENCODING) codings = true;
    else if (kind === EXPECT) {
      if (expects++ === 0) expect = at;
    } else if (kind === UPGRADE && upgrade < 0) upgrade = at;
  }
  // RFC 9112 §3.2: a 1.1 request without Host, or with more than one, is answered 400.
  if (hosts > 1 || (minor === 1 && hosts === 0)) throw new WireError(400, "missing or repeated Host");
  // RFC 9112 §6.3: several lengths (even equal, or a list) are an unrecoverable framing error here.
  if (lengths > 1 || (lengths === 1 && length < 0)) throw new WireError(400, "invalid Content-Length");
  let framing: Framing = length > 0 ? { kind: "length", length } : NO_BODY;
  if (codings) {
    // RFC 9112 §6.1: Transfer-Encoding with Content-Length is a smuggling attempt or a broken
    // client; Transfer-Encoding in HTTP/1.0 has no meaning to a 1.0 sender's peers.
    if (lengths > 0) throw new WireError(400, "both Content-Length and Transfer-Encoding");
    if (minor === 0) throw new WireError(400, "Transfer-Encoding in an HTTP/1.0 request");
    const list = tokens(valuesOf(text, fields, TRANSFER_ENCODING));
    if (list.at(-1) !== "chunked" || list.slice(0, -1).includes("chunked") || list.includes(""))
      throw new WireError(400, "the request body's final transfer coding must be chunked");
    if (list.length > 1) throw new WireError(501, "transfer codings other than chunked are not supported");
    framing = CHUNKED;
  }
  const connection = connectionOf(text, fields);
  let expectContinue = false;
  if (expects > 0) {
    if (expects > 1 || fieldValue(text, fields, expect).toLowerCase() !== "100-continue")
      throw new WireError(417, "only Expect: 100-continue is understood");
    expectContinue = true;
  }
  return {
    text,
    method: text.slice(start, i),
    target: text.slice(i + 1, j),
    minor,
    fields,
    host,
    hasLength: lengths > 0,
    framing,
    connection,
    keepAlive: minor === 1 && !connection.has("close"),
    expectContinue,
    upgrade: upgrade >= 0 && connection.has("upgrade") ? fieldValue(text, fields, upgrade) : undefined,
  };
}
const NO_BODY: Framing = { kind: "none" };
const CHUNKED: Framing = { kind: "chunked" };

/** A response head from the provider; anything unreadable is the provider's fault (502). */
export function parseResponseHead(text: string): ResponseHead {
  const eol = text.indexOf("\r\n");
  const fields: FieldIndex = [];
  try {
    parseFields(text, eol + 2, text.length - 2, fields);
  } catch (error) {
    throw new WireError(502, `malformed response head (${(error as Error).message})`);
  }
  // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4); the reason is
  // HTAB, SP, VCHAR or obs-text.
  const minor = text.charCodeAt(7) - 48;
  const status = digits(text, 9, 12);
  let ok = eol >= 12 && text.startsWith("HTTP/1.", 0) && (minor === 0 || minor === 1);
  ok &&= text.charCodeAt(8) === 32 && status >= 0 && (eol === 12 || text.charCodeAt(12) === 32);
  for (let i = 13; ok && i < eol; i++) {
    const c = text.charCodeAt(i);
    ok = c === 9 || (c >= 0x20 && c !== 0x7f && c <= 0xff);
  }
  if (!ok) throw new WireError(502, "malformed status line");
  let length: number | undefined;
  let chunked = false;
  let otherCoding = false;
  let codings = -1;
  let lengths = -1;
  let several = false;
  for (let at = 0; at < fields.length; at += STRIDE) {
    const kind = fields[at + AT_KIND];
    if (kind === TRANSFER_ENCODING) {
      several ||= codings >= 0;
      codings = at;
    } else if (kind === CONTENT_LENGTH) {
      several ||= lengths >= 0;
      lengths = at;
    }
  }
  if (codings >= 0) {
    // The usual single `chunked` without splitting; lists and repeats the general way.
    const from = fields[codings + AT_VALUE]!;
    if (!several && fields[codings + AT_VALUE_END]! - from === 7 && sameName(text, from, "chunked"))
      chunked = true;
    else {
      const list = tokens(valuesOf(text, fields, TRANSFER_ENCODING));
      chunked = list.at(-1) === "chunked";
      otherCoding = list.length > 0 && !chunked;
    }
  } else if (lengths >= 0) {
    length = several ? -1 : digits(text, fields[lengths + AT_VALUE]!, fields[lengths + AT_VALUE_END]!);
    if (length < 0) {
      const all = [...new Set(tokens(valuesOf(text, fields, CONTENT_LENGTH)))];
      if (all.length > 1 || (all.length === 1 && !/^\d{1,15}$/.test(all[0]!)))
        throw new WireError(502, "invalid Content-Length in the response");
      length = all.length === 1 ? Number(all[0]) : undefined;
    }
  }
  return {
    text,
    minor,
    status,
    statusText: eol === 12 ? `${text.slice(9, 12)} ` : text.slice(9, eol),
    fields,
    connection: connectionOf(text, fields),
    length,
    chunked,
    otherCoding,
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
        else parseFields(line, 0, line.length, []);
      }
    }
    return i;
  }
}

/** A latin1 head and the bytes after it as one buffer: one allocation, one write. */
export function withHead(head: string, body?: Uint8Array): Buffer {
  // Alone, one call into the runtime instead of two (allocate, then write).
  if (!body?.length) return Buffer.from(head, "latin1");
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, "latin1");
  out.set(body, head.length);
  return out;
}

/** Chunked framing for one piece of body going out (a zero-length piece would end the body). */
export function chunk(piece: Uint8Array): Uint8Array[] {
  return [Buffer.from(`${piece.length.toString(16)}\r\n`, "latin1"), piece, CRLF];
}
const CRLF = Buffer.from("\r\n");
export const LAST_CHUNK = Buffer.from("0\r\n\r\n");

// Per-request code: see tier.ts.
withoutFTL(
  sameName,
  kindOf,
  fieldLine,
  lowerName,
  fieldValue,
  rest,
  upTo,
  headEnd,
  parseFields,
  namesOtherFields,
  tokens,
  connectionOf,
  valuesOf,
  digits,
  parseRequestHead,
  parseResponseHead,
  ChunkedReader,
  withHead,
  chunk,
);
