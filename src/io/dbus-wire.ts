/**
 * The D-Bus wire format (little-endian only), as far as a Secret Service lookup needs it:
 * marshalling of the basic types, strings, arrays, structs, dict entries and variants, and the
 * message header. Spec: https://dbus.freedesktop.org/doc/dbus-specification.html#message-protocol
 *
 * Values: numbers for y n q i u d, bigint for x t, boolean for b, string for s o g, Uint8Array for
 * `ay`, arrays for other arrays and for structs, `[key, value]` pairs for dict entries, and
 * `{ signature, value }` for variants.
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
const FIXED = new Set(["y", "b", "n", "q", "i", "u", "x", "t", "d", "h"]);
const MAX_ARRAY_BYTES = 1 << 26; // the spec's limit
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

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
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    const next = new Uint8Array(Math.max(this.buffer.length * 2, this.length + n));
    next.set(this.buffer);
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  align(n: number): void {
    const padding = (n - (this.length % n)) % n;
    this.reserve(padding);
    this.buffer.fill(0, this.length, this.length + padding);
    this.length += padding;
  }

  private bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  private u32(value: number): void {
    this.align(4);
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  write(type: string, value: DBusValue): void {
    const c = type[0]!;
    switch (c) {
      case "y":
        this.reserve(1);
        this.buffer[this.length++] = value as number;
        return;
      case "b":
        return this.u32(value ? 1 : 0);
      case "u":
      case "h":
        return this.u32(value as number);
      case "i":
        this.align(4);
        this.reserve(4);
        this.view.setInt32(this.length, value as number, true);
        this.length += 4;
        return;
      case "n":
      case "q":
        this.align(2);
        this.reserve(2);
        if (c === "n") this.view.setInt16(this.length, value as number, true);
        else this.view.setUint16(this.length, value as number, true);
        this.length += 2;
        return;
      case "x":
      case "t":
        this.align(8);
        this.reserve(8);
        if (c === "x") this.view.setBigInt64(this.length, value as bigint, true);
        else this.view.setBigUint64(this.length, value as bigint, true);
        this.length += 8;
        return;
      case "d":
        this.align(8);
        this.reserve(8);
        this.view.setFloat64(this.length, value as number, true);
        this.length += 8;
        return;
      case "s":
      case "o": {
        const data = utf8.encode(value as string);
        this.u32(data.length);
        this.bytes(data);
        this.bytes(new Uint8Array(1));
        return;
      }
      case "g": {
        const data = utf8.encode(value as string);
        if (data.length > 255) throw new DBusWireError("a signature is longer than 255 bytes");
        this.write("y", data.length);
        this.bytes(data);
        this.bytes(new Uint8Array(1));
        return;
      }
      case "v": {
        const variant = value as DBusVariant;
        this.write("g", variant.signature);
        this.write(variant.signature, variant.value);
        return;
      }
      case "a": {
        const element = type.slice(1);
        this.u32(0);
        const lengthAt = this.length - 4;
        this.align(ALIGN[element[0]!]!);
        const start = this.length;
        if (element === "y") this.bytes(value as Uint8Array);
        else for (const item of value as DBusValue[]) this.write(element, item);
        this.view.setUint32(lengthAt, this.length - start, true);
        return;
      }
      case "(":
      case "{": {
        this.align(8);
        const members = splitSignature(type.slice(1, -1));
        const items = value as DBusValue[];
        if (items.length !== members.length)
          throw new DBusWireError(`a ${type} needs ${members.length} members, not ${items.length}`);
        members.forEach((member, i) => this.write(member, items[i]!));
        return;
      }
      default:
        throw new DBusWireError(`cannot write type '${c}'`);
    }
  }

  writeAll(signature: string, values: DBusValue[]): void {
    const types = splitSignature(signature);
    if (types.length !== values.length)
      throw new DBusWireError(`signature "${signature}" needs ${types.length} values, not ${values.length}`);
    types.forEach((type, i) => this.write(type, values[i]!));
  }

  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

export class WireReader {
  private readonly view: DataView;
  offset: number;

  /** `origin` is where alignment is counted from: the start of the message. */
  constructor(
    private readonly data: Uint8Array,
    offset = 0,
    private readonly origin = 0,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.offset = offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.data.length) throw new DBusWireError("a D-Bus message ends too early");
  }

  align(n: number): void {
    const padding = (n - ((this.offset - this.origin) % n)) % n;
    this.need(padding);
    this.offset += padding;
  }

  private u32(): number {
    this.align(4);
    this.need(4);
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  private text(length: number): string {
    this.need(length + 1);
    let value: string;
    try {
      value = fromUtf8.decode(this.data.subarray(this.offset, this.offset + length));
    } catch {
      throw new DBusWireError("a D-Bus string is not valid UTF-8");
    }
    if (this.data[this.offset + length] !== 0)
      throw new DBusWireError("a D-Bus string is not NUL-terminated");
    this.offset += length + 1;
    return value;
  }

  read(type: string): DBusValue {
    const c = type[0]!;
    switch (c) {
      case "y":
        this.need(1);
        return this.data[this.offset++]!;
      case "b":
        return this.u32() !== 0;
      case "u":
      case "h":
        return this.u32();
      case "i": {
        this.align(4);
        this.need(4);
        const value = this.view.getInt32(this.offset, true);
        this.offset += 4;
        return value;
      }
      case "n":
      case "q": {
        this.align(2);
        this.need(2);
        const value =
          c === "n" ? this.view.getInt16(this.offset, true) : this.view.getUint16(this.offset, true);
        this.offset += 2;
        return value;
      }
      case "x":
      case "t": {
        this.align(8);
        this.need(8);
        const value =
          c === "x" ? this.view.getBigInt64(this.offset, true) : this.view.getBigUint64(this.offset, true);
        this.offset += 8;
        return value;
      }
      case "d": {
        this.align(8);
        this.need(8);
        const value = this.view.getFloat64(this.offset, true);
        this.offset += 8;
        return value;
      }
      case "s":
      case "o":
        return this.text(this.u32());
      case "g":
        this.need(1);
        return this.text(this.data[this.offset++]!);
      case "v": {
        const signature = this.read("g") as string;
        if (splitSignature(signature).length !== 1)
          throw new DBusWireError(`a variant holds "${signature}", not one type`);
        return { signature, value: this.read(signature) };
      }
      case "a": {
        const element = type.slice(1);
        const length = this.u32();
        if (length > MAX_ARRAY_BYTES) throw new DBusWireError("a D-Bus array is longer than the spec allows");
        this.align(ALIGN[element[0]!]!);
        this.need(length);
        const end = this.offset + length;
        if (element === "y") {
          const bytes = this.data.slice(this.offset, end);
          this.offset = end;
          return bytes;
        }
        const items: DBusValue[] = [];
        while (this.offset < end) items.push(this.read(element));
        if (this.offset !== end) throw new DBusWireError("a D-Bus array's elements overrun its length");
        return items;
      }
      case "(":
      case "{": {
        this.align(8);
        return splitSignature(type.slice(1, -1)).map((member) => this.read(member));
      }
      default:
        throw new DBusWireError(`cannot read type '${c}'`);
    }
  }

  readAll(signature: string): DBusValue[] {
    return splitSignature(signature).map((type) => this.read(type));
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

export function encodeMethodCall(call: MethodCall): Uint8Array {
  const body = new WireWriter();
  if (call.signature) body.writeAll(call.signature, call.body ?? []);
  const fields: DBusValue[] = [
    [FIELD.path, { signature: "o", value: call.path }],
    [FIELD.interface, { signature: "s", value: call.interface }],
    [FIELD.member, { signature: "s", value: call.member }],
    [FIELD.destination, { signature: "s", value: call.destination }],
  ];
  if (call.signature) fields.push([FIELD.signature, { signature: "g", value: call.signature }]);
  const message = new WireWriter();
  message.writeAll("yyyyuua(yv)", [0x6c, MESSAGE_TYPE.methodCall, 0, 1, body.length, call.serial, fields]);
  message.align(8);
  const header = message.result();
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body.result(), header.length);
  return out;
}

/** The length of the first whole message in `data`, or undefined when more bytes are needed. */
export function messageLength(data: Uint8Array): number | undefined {
  if (data.length < 16) return undefined;
  if (data[0] !== 0x6c)
    throw new DBusWireError("the bus sent a big-endian message, which authctl does not read");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const bodyLength = view.getUint32(4, true);
  const fieldsLength = view.getUint32(12, true);
  const headerLength = 16 + fieldsLength + ((8 - (fieldsLength % 8)) % 8);
  const total = headerLength + bodyLength;
  if (total > 1 << 27) throw new DBusWireError("a D-Bus message is longer than the spec allows");
  return data.length >= total ? total : undefined;
}

export function decodeMessage(data: Uint8Array): Message {
  const reader = new WireReader(data);
  const [, type, , version, bodyLength, serial, fields] = reader.readAll("yyyyuua(yv)") as [
    number,
    number,
    number,
    number,
    number,
    number,
    [number, DBusVariant][],
  ];
  if (version !== 1) throw new DBusWireError(`the bus speaks protocol version ${version}`);
  const header: Record<number, DBusValue> = {};
  for (const [code, variant] of fields) {
    if (FIELD_TYPE[code] && variant.signature !== FIELD_TYPE[code])
      throw new DBusWireError(`header field ${code} has type "${variant.signature}"`);
    header[code] = variant.value;
  }
  reader.align(8);
  const signature = (header[FIELD.signature] as string | undefined) ?? "";
  const bodyReader = new WireReader(data.subarray(reader.offset, reader.offset + bodyLength));
  const body = bodyReader.readAll(signature);
  if (bodyReader.offset !== bodyLength)
    throw new DBusWireError("a D-Bus message body is longer than its signature");
  return {
    type,
    serial,
    replySerial: header[FIELD.replySerial] as number | undefined,
    errorName: header[FIELD.errorName] as string | undefined,
    signature,
    body,
  };
}
