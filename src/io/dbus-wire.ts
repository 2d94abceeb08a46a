/**
 * The D-Bus wire format (little-endian only), as far as a Secret Service lookup needs it:
 * marshalling of the basic types, strings, arrays, structs, dict entries and variants, and the
 * message header. Spec: https://dbus.freedesktop.org/doc/dbus-specification.html#message-protocol
 *
 * Values: numbers for y n q i u d, bigint for x t, boolean for b, string for s o g, Uint8Array for
 * `ay`, arrays for other arrays and for structs, `[key, value]` pairs for dict entries, and
 * `{ signature, value }` for variants.
 *
 * Written for `env` on the keyring, whose every read encodes and decodes a handful of messages at
 * start-up, when the binary's code still runs in the interpreter (scripts/build.ts) and each
 * function's first call costs tens of microseconds: signatures are walked by index instead of being
 * split into substrings (no splitSignature, forEach or map per struct), numbers are stored byte by
 * byte, a header is written field by field into the message's one buffer. Measured on `env
 * openrouter` from the keyring (issue 18, 40 alternating runs): 16.7 -> 16.0 ms median wall.
 */

export type DBusValue = number | bigint | boolean | string | Uint8Array | DBusValue[] | DBusVariant;
export interface DBusVariant {
  signature: string;
  value: DBusValue;
}

export class DBusWireError extends Error {}

const ALIGN: Record<string, number> = {
  y: 1,
  b: 4,
  n: 2,
  q: 2,
  i: 4,
  u: 4,
  x: 8,
  t: 8,
  d: 8,
  h: 4,
  s: 4,
  o: 4,
  g: 1,
  a: 4,
  "(": 8,
  "{": 8,
  v: 1,
};
const MAX_ARRAY_BYTES = 1 << 26; // the spec's limit
const utf8 = new TextEncoder();
/** Created on the first string read: a fatal decoder refuses what is not UTF-8, as the spec requires. */
let fromUtf8: TextDecoder | undefined;

/** UTF-8 bytes as text; what is not UTF-8 throws (`what` is not valid UTF-8). One decoder for every read. */
export function utf8Text(bytes: Uint8Array, what: string): string {
  try {
    return (fromUtf8 ??= new TextDecoder("utf-8", { fatal: true })).decode(bytes);
  } catch {
    throw new DBusWireError(`${what} is not valid UTF-8`);
  }
}

/** The index just past the single complete type that starts at `start`. */
export function typeEnd(signature: string, start: number): number {
  const c = signature[start];
  if (c === undefined) throw new DBusWireError(`signature "${signature}" ends too early`);
  if (c === "a") return typeEnd(signature, start + 1);
  if (c === "(" || c === "{") {
    const close = c === "(" ? ")" : "}";
    let i = start + 1;
    while (signature[i] !== close) {
      if (i >= signature.length) throw new DBusWireError(`signature "${signature}" has an unclosed ${c}`);
      i = typeEnd(signature, i);
    }
    return i + 1;
  }
  if (c in ALIGN) return start + 1;
  throw new DBusWireError(`signature "${signature}" has an unknown type '${c}'`);
}

/** A signature split into its single complete types: "a{sv}as" → ["a{sv}", "as"]. */
export function splitSignature(signature: string): string[] {
  const types: string[] = [];
  for (let i = 0; i < signature.length; ) {
    const end = typeEnd(signature, i);
    types.push(signature.slice(i, end));
    i = end;
  }
  return types;
}

export class WireWriter {
  private buffer = new Uint8Array(256);
  length = 0;

  /** Room for `n` more bytes. Bytes past `length` are always zero: padding is skipped over, not written. */
  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    const next = new Uint8Array(Math.max(this.buffer.length * 2, this.length + n));
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  align(n: number): void {
    const padding = (n - (this.length % n)) % n;
    this.reserve(padding);
    this.length += padding;
  }

  /** A uint32 (or int32) at the next multiple of 4. */
  u32(value: number): void {
    this.align(4);
    this.reserve(4);
    const at = this.length;
    this.buffer[at] = value;
    this.buffer[at + 1] = value >>> 8;
    this.buffer[at + 2] = value >>> 16;
    this.buffer[at + 3] = value >>> 24;
    this.length = at + 4;
  }

  /** A string or object path (`lengthBytes` 4), or a signature (1): its UTF-8 bytes, then a NUL. */
  text(value: string, lengthBytes: 1 | 4): void {
    if (lengthBytes === 4) this.align(4);
    this.reserve(lengthBytes + value.length * 3 + 1);
    const at = this.length;
    const n = utf8.encodeInto(value, this.buffer.subarray(at + lengthBytes)).written;
    if (lengthBytes === 1) {
      if (n > 255) {
        this.buffer.fill(0, at, at + 1 + n); // what lies past `length` stays zero
        throw new DBusWireError("a signature is longer than 255 bytes");
      }
      this.buffer[at] = n;
    } else {
      this.buffer[at] = n;
      this.buffer[at + 1] = n >>> 8;
      this.buffer[at + 2] = n >>> 16;
      this.buffer[at + 3] = n >>> 24;
    }
    this.length = at + lengthBytes + n + 1; // the NUL is the zero already there
  }

  /** Writes the single complete type at `signature[i]` and returns the index just past it. */
  private put(signature: string, i: number, value: DBusValue): number {
    const c = signature[i];
    switch (c) {
      case "y":
        this.reserve(1);
        this.buffer[this.length++] = value as number;
        return i + 1;
      case "b":
        this.u32(value ? 1 : 0);
        return i + 1;
      case "u":
      case "h":
      case "i":
        this.u32(value as number);
        return i + 1;
      case "n":
      case "q":
        this.align(2);
        this.reserve(2);
        this.buffer[this.length] = value as number;
        this.buffer[this.length + 1] = (value as number) >>> 8;
        this.length += 2;
        return i + 1;
      case "x":
      case "t":
      case "d": {
        this.align(8);
        this.reserve(8);
        const view = new DataView(this.buffer.buffer, this.buffer.byteOffset + this.length, 8);
        if (c === "x") view.setBigInt64(0, value as bigint, true);
        else if (c === "t") view.setBigUint64(0, value as bigint, true);
        else view.setFloat64(0, value as number, true);
        this.length += 8;
        return i + 1;
      }
      case "s":
      case "o":
        this.text(value as string, 4);
        return i + 1;
      case "g":
        this.text(value as string, 1);
        return i + 1;
      case "v": {
        const variant = value as DBusVariant;
        this.text(variant.signature, 1);
        this.put(variant.signature, 0, variant.value);
        return i + 1;
      }
      case "a": {
        const end = typeEnd(signature, i + 1);
        this.u32(0);
        const lengthAt = this.length - 4;
        this.align(ALIGN[signature[i + 1]!]!);
        const start = this.length;
        if (signature[i + 1] === "y") {
          const bytes = value as Uint8Array;
          this.reserve(bytes.length);
          this.buffer.set(bytes, this.length);
          this.length += bytes.length;
        } else for (const item of value as DBusValue[]) this.put(signature, i + 1, item);
        const length = this.length - start;
        this.buffer[lengthAt] = length;
        this.buffer[lengthAt + 1] = length >>> 8;
        this.buffer[lengthAt + 2] = length >>> 16;
        this.buffer[lengthAt + 3] = length >>> 24;
        return end;
      }
      case "(":
      case "{": {
        this.align(8);
        const close = c === "(" ? ")" : "}";
        const items = value as DBusValue[];
        let j = i + 1;
        let k = 0;
        while (signature[j] !== close) {
          if (j >= signature.length) throw new DBusWireError(`signature "${signature}" has an unclosed ${c}`);
          if (k >= items.length) break;
          j = this.put(signature, j, items[k++]!);
        }
        if (signature[j] !== close || k !== items.length) {
          const end = typeEnd(signature, i);
          const members = splitSignature(signature.slice(i + 1, end - 1)).length;
          throw new DBusWireError(
            `a ${signature.slice(i, end)} needs ${members} members, not ${items.length}`,
          );
        }
        return j + 1;
      }
      default:
        throw new DBusWireError(`cannot write type '${c}'`);
    }
  }

  write(type: string, value: DBusValue): void {
    this.put(type, 0, value);
  }

  writeAll(signature: string, values: DBusValue[]): void {
    let i = 0;
    let k = 0;
    while (i < signature.length && k < values.length) i = this.put(signature, i, values[k++]!);
    if (i < signature.length || k !== values.length) {
      const types = splitSignature(signature);
      throw new DBusWireError(`signature "${signature}" needs ${types.length} values, not ${values.length}`);
    }
  }

  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

export class WireReader {
  offset: number;
  /** The index in the signature just past the type read last (get). */
  private next = 0;

  /** `origin` is where alignment is counted from: the start of the message. */
  constructor(
    private readonly data: Uint8Array,
    offset = 0,
    private readonly origin = 0,
  ) {
    this.offset = offset;
  }

  need(n: number): void {
    if (this.offset + n > this.data.length) throw new DBusWireError("a D-Bus message ends too early");
  }

  align(n: number): void {
    const padding = (n - ((this.offset - this.origin) % n)) % n;
    this.need(padding);
    this.offset += padding;
  }

  u32(): number {
    this.align(4);
    this.need(4);
    const data = this.data;
    const at = this.offset;
    this.offset = at + 4;
    return (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) >>> 0;
  }

  /** A string of `length` bytes and its NUL. */
  private text(length: number): string {
    this.need(length + 1);
    const value = utf8Text(this.data.subarray(this.offset, this.offset + length), "a D-Bus string");
    if (this.data[this.offset + length] !== 0)
      throw new DBusWireError("a D-Bus string is not NUL-terminated");
    this.offset += length + 1;
    return value;
  }

  signature(): string {
    this.need(1);
    return this.text(this.data[this.offset++]!);
  }

  /** Reads the single complete type at `signature[i]`; `next` is then the index just past it. */
  private get(signature: string, i: number): DBusValue {
    const c = signature[i];
    let value: DBusValue;
    let end = i + 1;
    switch (c) {
      case "y":
        this.need(1);
        value = this.data[this.offset++]!;
        break;
      case "b":
        value = this.u32() !== 0;
        break;
      case "u":
      case "h":
        value = this.u32();
        break;
      case "i":
        value = this.u32() | 0;
        break;
      case "n":
      case "q": {
        this.align(2);
        this.need(2);
        const unsigned = this.data[this.offset]! | (this.data[this.offset + 1]! << 8);
        value = c === "n" ? (unsigned << 16) >> 16 : unsigned;
        this.offset += 2;
        break;
      }
      case "x":
      case "t":
      case "d": {
        this.align(8);
        this.need(8);
        const view = new DataView(this.data.buffer, this.data.byteOffset + this.offset, 8);
        value =
          c === "x"
            ? view.getBigInt64(0, true)
            : c === "t"
              ? view.getBigUint64(0, true)
              : view.getFloat64(0, true);
        this.offset += 8;
        break;
      }
      case "s":
      case "o":
        value = this.text(this.u32());
        break;
      case "g":
        value = this.signature();
        break;
      case "v": {
        const inner = this.signature();
        if (inner === "" || typeEnd(inner, 0) !== inner.length)
          throw new DBusWireError(`a variant holds "${inner}", not one type`);
        value = { signature: inner, value: this.get(inner, 0) };
        break;
      }
      case "a": {
        end = typeEnd(signature, i + 1);
        const length = this.u32();
        if (length > MAX_ARRAY_BYTES) throw new DBusWireError("a D-Bus array is longer than the spec allows");
        this.align(ALIGN[signature[i + 1]!]!);
        this.need(length);
        const stop = this.offset + length;
        if (signature[i + 1] === "y") {
          value = this.data.slice(this.offset, stop);
          this.offset = stop;
          break;
        }
        const items: DBusValue[] = [];
        while (this.offset < stop) items.push(this.get(signature, i + 1));
        if (this.offset !== stop) throw new DBusWireError("a D-Bus array's elements overrun its length");
        value = items;
        break;
      }
      case "(":
      case "{": {
        this.align(8);
        const close = c === "(" ? ")" : "}";
        const items: DBusValue[] = [];
        let j = i + 1;
        while (signature[j] !== close) {
          if (j >= signature.length) throw new DBusWireError(`signature "${signature}" has an unclosed ${c}`);
          items.push(this.get(signature, j));
          j = this.next;
        }
        value = items;
        end = j + 1;
        break;
      }
      default:
        throw new DBusWireError(`cannot read type '${c}'`);
    }
    this.next = end;
    return value;
  }

  read(type: string): DBusValue {
    return this.get(type, 0);
  }

  readAll(signature: string): DBusValue[] {
    const values: DBusValue[] = [];
    for (let i = 0; i < signature.length; i = this.next) values.push(this.get(signature, i));
    return values;
  }
}

export const MESSAGE_TYPE = { methodCall: 1, methodReturn: 2, error: 3, signal: 4 } as const;
const FIELD = {
  path: 1,
  interface: 2,
  member: 3,
  errorName: 4,
  replySerial: 5,
  destination: 6,
  sender: 7,
  signature: 8,
} as const;
const FIELD_TYPE: Record<number, string> = {
  1: "o",
  2: "s",
  3: "s",
  4: "s",
  5: "u",
  6: "s",
  7: "s",
  8: "g",
  9: "u",
};

export interface MethodCall {
  serial: number;
  destination: string;
  path: string;
  interface: string;
  member: string;
  signature?: string;
  body?: DBusValue[];
}

export interface Message {
  type: number;
  serial: number;
  replySerial?: number;
  errorName?: string;
  signature: string;
  body: DBusValue[];
}

/** One header field: the `(yv)` struct of its code and its value, a string of type `type`. */
function writeField(out: WireWriter, code: number, type: "o" | "s" | "g", value: string): void {
  out.align(8);
  out.write("y", code);
  out.text(type, 1);
  out.text(value, type === "g" ? 1 : 4);
}

export function encodeMethodCall(call: MethodCall): Uint8Array {
  const out = new WireWriter();
  // yyyyuu: endianness, type, flags, version, body length (set below), serial; then a(yv).
  out.writeAll("yyyyuu", [0x6c, MESSAGE_TYPE.methodCall, 0, 1, 0, call.serial]);
  out.u32(0);
  const fieldsStart = out.length;
  writeField(out, FIELD.path, "o", call.path);
  writeField(out, FIELD.interface, "s", call.interface);
  writeField(out, FIELD.member, "s", call.member);
  writeField(out, FIELD.destination, "s", call.destination);
  if (call.signature) writeField(out, FIELD.signature, "g", call.signature);
  const fieldsLength = out.length - fieldsStart;
  out.align(8);
  const bodyStart = out.length;
  if (call.signature) out.writeAll(call.signature, call.body ?? []);
  const bytes = out.result();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(4, bytes.length - bodyStart, true);
  view.setUint32(12, fieldsLength, true);
  return bytes;
}

/** The length of the first whole message in `data`, or undefined when more bytes are needed. */
export function messageLength(data: Uint8Array): number | undefined {
  if (data.length < 16) return undefined;
  if (data[0] !== 0x6c)
    throw new DBusWireError("the bus sent a big-endian message, which authctl does not read");
  const bodyLength = (data[4]! | (data[5]! << 8) | (data[6]! << 16) | (data[7]! << 24)) >>> 0;
  const fieldsLength = (data[12]! | (data[13]! << 8) | (data[14]! << 16) | (data[15]! << 24)) >>> 0;
  const headerLength = 16 + fieldsLength + ((8 - (fieldsLength % 8)) % 8);
  const total = headerLength + bodyLength;
  if (total > 1 << 27) throw new DBusWireError("a D-Bus message is longer than the spec allows");
  return data.length >= total ? total : undefined;
}

export function decodeMessage(data: Uint8Array): Message {
  const reader = new WireReader(data);
  const [, type, , version, bodyLength, serial] = reader.readAll("yyyyuu") as number[];
  if (version !== 1) throw new DBusWireError(`the bus speaks protocol version ${version}`);
  // The fields, a(yv), read one by one: each value's type is checked against its code's.
  const header: Record<number, DBusValue> = {};
  const fieldsLength = reader.u32();
  if (fieldsLength > MAX_ARRAY_BYTES) throw new DBusWireError("a D-Bus array is longer than the spec allows");
  reader.align(8);
  reader.need(fieldsLength);
  const fieldsEnd = reader.offset + fieldsLength;
  while (reader.offset < fieldsEnd) {
    reader.align(8);
    const code = reader.read("y") as number;
    const variant = reader.read("v") as DBusVariant;
    if (FIELD_TYPE[code] && variant.signature !== FIELD_TYPE[code])
      throw new DBusWireError(`header field ${code} has type "${variant.signature}"`);
    header[code] = variant.value;
  }
  if (reader.offset !== fieldsEnd) throw new DBusWireError("a D-Bus array's elements overrun its length");
  reader.align(8);
  const signature = (header[FIELD.signature] as string | undefined) ?? "";
  const bodyReader = new WireReader(data.subarray(reader.offset, reader.offset + bodyLength!));
  const body = bodyReader.readAll(signature);
  if (bodyReader.offset !== bodyLength)
    throw new DBusWireError("a D-Bus message body is longer than its signature");
  return {
    type: type!,
    serial: serial!,
    replySerial: header[FIELD.replySerial] as number | undefined,
    errorName: header[FIELD.errorName] as string | undefined,
    signature,
    body,
  };
}
