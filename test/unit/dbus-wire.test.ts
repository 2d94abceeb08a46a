import { describe, expect, test } from "bun:test";
import { socketPathsOf } from "../../src/io/dbus.ts";
import {
  type DBusValue,
  DBusWireError,
  decodeMessage,
  encodeMethodCall,
  messageLength,
  splitSignature,
  typeEnd,
  WireReader,
  WireWriter,
} from "../../src/io/dbus-wire.ts";

/** The bytes `writeAll(signature, values)` produces, as a plain array for readable diffs. */
function encode(signature: string, values: DBusValue[]): number[] {
  const writer = new WireWriter();
  writer.writeAll(signature, values);
  expect(writer.length).toBe(writer.result().length);
  return Array.from(writer.result());
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A whole little-endian message: `yyyyuua(yv)` header, padding to 8, then the body bytes as given. */
function buildMessage(opts: {
  type: number;
  serial: number;
  fields: DBusValue[];
  body: Uint8Array;
  version?: number;
  bodyLength?: number;
}): Uint8Array {
  const header = new WireWriter();
  header.writeAll("yyyyuua(yv)", [
    0x6c,
    opts.type,
    0,
    opts.version ?? 1,
    opts.bodyLength ?? opts.body.length,
    opts.serial,
    opts.fields,
  ]);
  header.align(8);
  return concat(header.result(), opts.body);
}

function bodyOf(signature: string, values: DBusValue[]): Uint8Array {
  const writer = new WireWriter();
  writer.writeAll(signature, values);
  return writer.result().slice();
}

describe("typeEnd and splitSignature", () => {
  const splits: { name: string; signature: string; types: string[] }[] = [
    {
      name: "a dict array followed by a string array splits in two",
      signature: "a{sv}as",
      types: ["a{sv}", "as"],
    },
    { name: "a struct with byte arrays inside is one type", signature: "(oayays)", types: ["(oayays)"] },
    {
      name: "an array of structs holding a dict array is one type",
      signature: "a(ya{sv})",
      types: ["a(ya{sv})"],
    },
    {
      name: "basic types each stand alone",
      signature: "ybnqiuxtdhsogv",
      types: ["y", "b", "n", "q", "i", "u", "x", "t", "d", "h", "s", "o", "g", "v"],
    },
    { name: "arrays of arrays nest", signature: "aayaas", types: ["aay", "aas"] },
    {
      name: "the header signature has six fixed parts and a field array",
      signature: "yyyyuua(yv)",
      types: ["y", "y", "y", "y", "u", "u", "a(yv)"],
    },
    { name: "an empty signature has no types", signature: "", types: [] },
  ];
  for (const { name, signature, types } of splits) {
    test(name, () => {
      expect(splitSignature(signature)).toEqual(types);
    });
  }

  const ends: { name: string; signature: string; start: number; end: number }[] = [
    { name: "a basic type ends one past its letter", signature: "su", start: 1, end: 2 },
    { name: "an array ends after its element type", signature: "a{sv}as", start: 0, end: 5 },
    { name: "a struct ends after its closing parenthesis", signature: "y(oayays)u", start: 1, end: 9 },
    {
      name: "a nested struct inside an array ends at the outer close",
      signature: "a(ya{sv})",
      start: 0,
      end: 9,
    },
    { name: "a dict entry ends after its brace", signature: "a{ss}", start: 1, end: 5 },
  ];
  for (const { name, signature, start, end } of ends) {
    test(name, () => {
      expect(typeEnd(signature, start)).toBe(end);
    });
  }

  const invalid: { name: string; signature: string }[] = [
    { name: "an unclosed parenthesis is rejected", signature: "(" },
    { name: "an unclosed struct with members is rejected", signature: "(su" },
    { name: "an unclosed dict entry is rejected", signature: "a{sv" },
    { name: "an unknown type letter is rejected", signature: "z" },
    { name: "an unknown type letter after valid ones is rejected", signature: "suz" },
    { name: "a dangling array marker is rejected", signature: "a" },
    { name: "a dangling array marker after a type is rejected", signature: "sa" },
    { name: "a stray closing parenthesis is rejected", signature: ")" },
    { name: "a mismatched closing bracket is rejected", signature: "(s}" },
  ];
  for (const { name, signature } of invalid) {
    test(name, () => {
      expect(() => splitSignature(signature)).toThrow(DBusWireError);
    });
  }

  test("typeEnd past the end of the signature is rejected", () => {
    expect(() => typeEnd("s", 1)).toThrow(DBusWireError);
  });
});

describe("WireWriter produces the exact bytes the spec requires", () => {
  const cases: { name: string; signature: string; values: DBusValue[]; bytes: number[] }[] = [
    {
      name: "a string after a byte is aligned to 4, with its length and NUL",
      signature: "ys",
      values: [1, "ab"],
      bytes: [1, 0, 0, 0, 2, 0, 0, 0, 0x61, 0x62, 0],
    },
    {
      name: "a uint64 after a byte is padded to offset 8",
      signature: "yt",
      values: [7, 1n],
      bytes: [7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
    },
    {
      name: "an int64 is written little-endian in two's complement",
      signature: "x",
      values: [-2n],
      bytes: [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    },
    {
      name: "a byte array is a length and the raw bytes",
      signature: "ay",
      values: [Uint8Array.of(1, 2, 3)],
      bytes: [3, 0, 0, 0, 1, 2, 3],
    },
    {
      name: "an empty byte array is just a zero length",
      signature: "ay",
      values: [new Uint8Array(0)],
      bytes: [0, 0, 0, 0],
    },
    {
      name: "an empty struct array still pads to 8 after its length",
      signature: "a(yv)",
      values: [[]],
      bytes: [0, 0, 0, 0, 0, 0, 0, 0],
    },
    {
      name: "a struct array's length excludes the padding before its first element",
      signature: "a(yv)",
      values: [[[1, { signature: "s", value: "x" }]]],
      bytes: [10, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0x73, 0, 1, 0, 0, 0, 0x78, 0],
    },
    {
      name: "a dict of strings with one pair aligns the entry to 8 and both strings to 4",
      signature: "a{ss}",
      values: [[["k", "v"]]],
      bytes: [14, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x6b, 0, 0, 0, 1, 0, 0, 0, 0x76, 0],
    },
    {
      name: "a variant holding a string is a signature then the aligned string",
      signature: "v",
      values: [{ signature: "s", value: "hi" }],
      bytes: [1, 0x73, 0, 0, 2, 0, 0, 0, 0x68, 0x69, 0],
    },
    {
      name: "a variant holding a uint32 after a byte pads only the value",
      signature: "yv",
      values: [9, { signature: "u", value: 5 }],
      bytes: [9, 1, 0x75, 0, 5, 0, 0, 0],
    },
    {
      name: "a boolean true is a uint32 one",
      signature: "yb",
      values: [1, true],
      bytes: [1, 0, 0, 0, 1, 0, 0, 0],
    },
    { name: "a boolean false is a uint32 zero", signature: "b", values: [false], bytes: [0, 0, 0, 0] },
    {
      name: "a signature is a byte length, the bytes and a NUL, unaligned",
      signature: "yg",
      values: [3, "a{sv}"],
      bytes: [3, 5, 0x61, 0x7b, 0x73, 0x76, 0x7d, 0],
    },
    {
      name: "an int16 after a byte is aligned to 2",
      signature: "yn",
      values: [1, -2],
      bytes: [1, 0, 0xfe, 0xff],
    },
    { name: "a uint16 is little-endian", signature: "q", values: [0x1234], bytes: [0x34, 0x12] },
    { name: "an int32 minus one is all ones", signature: "i", values: [-1], bytes: [0xff, 0xff, 0xff, 0xff] },
    { name: "a uint32 is little-endian", signature: "u", values: [0x01020304], bytes: [4, 3, 2, 1] },
    {
      name: "a double after a byte is aligned to 8 and stored as IEEE 754",
      signature: "yd",
      values: [1, 1.0],
      bytes: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f],
    },
    {
      name: "an object path is written like a string",
      signature: "o",
      values: ["/a"],
      bytes: [2, 0, 0, 0, 0x2f, 0x61, 0],
    },
    {
      name: "an empty string is a zero length and a NUL",
      signature: "s",
      values: [""],
      bytes: [0, 0, 0, 0, 0],
    },
    {
      name: "a struct after a byte is aligned to 8",
      signature: "y(yy)",
      values: [1, [2, 3]],
      bytes: [1, 0, 0, 0, 0, 0, 0, 0, 2, 3],
    },
    {
      name: "a uint32 array pads nothing after its length",
      signature: "au",
      values: [[1, 2]],
      bytes: [8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0],
    },
    {
      name: "a uint64 array after a byte pads to 4 for the length and to 8 for the elements",
      signature: "yat",
      values: [1, [3n]],
      bytes: [1, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0],
    },
    {
      name: "a string containing multi-byte UTF-8 counts bytes, not characters",
      signature: "s",
      values: ["é"],
      bytes: [2, 0, 0, 0, 0xc3, 0xa9, 0],
    },
  ];
  for (const { name, signature, values, bytes } of cases) {
    test(name, () => {
      expect(encode(signature, values)).toEqual(bytes);
    });
  }

  test("a writer that grows past its initial buffer keeps earlier bytes", () => {
    const big = new Uint8Array(1000).map((_, i) => i & 0xff);
    const bytes = encode("yay", [0xaa, big]);
    expect(bytes.length).toBe(4 + 4 + 1000);
    expect(bytes.slice(0, 8)).toEqual([0xaa, 0, 0, 0, 0xe8, 0x03, 0, 0]);
    expect(bytes.slice(8)).toEqual(Array.from(big));
  });

  test("writeAll rejects a value count that does not match the signature", () => {
    expect(() => new WireWriter().writeAll("ss", ["a"])).toThrow(DBusWireError);
  });

  test("a struct with the wrong number of members is rejected", () => {
    expect(() => new WireWriter().writeAll("(ss)", [["a"]])).toThrow(DBusWireError);
  });

  test("a signature longer than 255 bytes is rejected", () => {
    expect(() => new WireWriter().writeAll("g", ["y".repeat(256)])).toThrow(DBusWireError);
  });
});

describe("WireWriter to WireReader round trips", () => {
  const cases: { name: string; signature: string; values: DBusValue[] }[] = [
    { name: "bytes at both ends of their range survive", signature: "yy", values: [0, 255] },
    { name: "booleans survive", signature: "bb", values: [true, false] },
    { name: "int16 extremes survive", signature: "nn", values: [-32768, 32767] },
    { name: "uint16 extremes survive", signature: "qq", values: [0, 65535] },
    { name: "int32 extremes survive", signature: "ii", values: [-2147483648, 2147483647] },
    { name: "uint32 extremes survive", signature: "uu", values: [0, 0xffffffff] },
    { name: "int64 extremes survive", signature: "xx", values: [-(2n ** 63n), 2n ** 63n - 1n] },
    { name: "uint64 extremes survive", signature: "tt", values: [0n, 2n ** 64n - 1n] },
    { name: "doubles survive, including negative fractions", signature: "dd", values: [1.5, -0.25] },
    { name: "unix fd indices survive", signature: "h", values: [3] },
    {
      name: "strings, including unicode and empty ones, survive",
      signature: "sss",
      values: ["hello", "päss 🔑 ключ", ""],
    },
    { name: "object paths survive", signature: "o", values: ["/org/freedesktop/secrets/collection/login"] },
    { name: "signatures survive", signature: "gg", values: ["a{sv}", ""] },
    { name: "a variant holding a string survives", signature: "v", values: [{ signature: "s", value: "x" }] },
    {
      name: "a variant holding a variant survives",
      signature: "v",
      values: [{ signature: "v", value: { signature: "t", value: 9n } }],
    },
    {
      name: "a variant holding a dict survives",
      signature: "v",
      values: [{ signature: "a{ss}", value: [["a", "b"]] }],
    },
    {
      name: "byte arrays survive as Uint8Array",
      signature: "ayay",
      values: [Uint8Array.of(0, 1, 254, 255), new Uint8Array(0)],
    },
    { name: "string arrays survive", signature: "as", values: [["a", "bc", ""]] },
    { name: "an empty string array survives", signature: "as", values: [[]] },
    {
      name: "a dict of strings survives",
      signature: "a{ss}",
      values: [
        [
          ["xdg:schema", "org.example"],
          ["user", "me"],
        ],
      ],
    },
    {
      name: "a dict of variants survives",
      signature: "a{sv}",
      values: [
        [
          ["Label", { signature: "s", value: "Login" }],
          ["Locked", { signature: "b", value: false }],
          ["Created", { signature: "t", value: 1700000000n }],
        ],
      ],
    },
    {
      name: "a Secret Service secret struct survives",
      signature: "(oayays)",
      values: [["/s/1", Uint8Array.of(1, 2), Uint8Array.of(0x73, 0x65, 0x63), "text/plain"]],
    },
    {
      name: "arrays of structs with nested dict arrays survive",
      signature: "a(ya{sv})",
      values: [
        [
          [1, [["k", { signature: "i", value: -7 }]]],
          [2, []],
        ],
      ],
    },
    {
      name: "nested arrays survive",
      signature: "aasaay",
      values: [
        [["a"], [], ["b", "c"]],
        [Uint8Array.of(1), new Uint8Array(0)],
      ],
    },
    {
      name: "a dict with a uint64 value after a byte survives alignment",
      signature: "ya{yt}",
      values: [
        1,
        [
          [2, 3n],
          [4, 5n],
        ],
      ],
    },
    {
      name: "mixed alignments in sequence survive",
      signature: "yqyuyxyd(y)ys",
      values: [1, 2, 3, 4, 5, -6n, 7, 8.5, [9], 10, "end"],
    },
    {
      name: "negative numbers in every signed type survive",
      signature: "nixd",
      values: [-1, -100000, -(2n ** 40n), -1e-300],
    },
  ];
  for (const { name, signature, values } of cases) {
    test(name, () => {
      const writer = new WireWriter();
      writer.writeAll(signature, values);
      const data = writer.result();
      const reader = new WireReader(data);
      expect(reader.readAll(signature)).toEqual(values);
      expect(reader.offset).toBe(data.length);
    });
  }

  test("a reader with an origin counts alignment from the origin, not the buffer start", () => {
    const data = concat(Uint8Array.of(0xee, 0xee, 0xee), bodyOf("yu", [1, 2]));
    const reader = new WireReader(data, 3, 3);
    expect(reader.readAll("yu")).toEqual([1, 2]);
    expect(reader.offset).toBe(data.length);
  });

  test("a reader over a subarray uses the subarray's own bytes", () => {
    const inner = bodyOf("ut", [5, 6n]);
    const outer = concat(Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9), inner);
    expect(new WireReader(outer.subarray(8)).readAll("ut")).toEqual([5, 6n]);
  });
});

describe("WireReader rejects malformed data", () => {
  const cases: { name: string; signature: string; bytes: number[] }[] = [
    { name: "a uint32 cut short is rejected", signature: "u", bytes: [1, 0, 0] },
    { name: "a uint64 cut short is rejected", signature: "t", bytes: [1, 0, 0, 0, 0, 0, 0] },
    { name: "a missing byte is rejected", signature: "y", bytes: [] },
    { name: "padding cut short before a uint32 is rejected", signature: "yu", bytes: [1, 0] },
    {
      name: "a string whose bytes are cut short is rejected",
      signature: "s",
      bytes: [5, 0, 0, 0, 0x61, 0x62],
    },
    { name: "a string missing only its NUL is rejected", signature: "s", bytes: [2, 0, 0, 0, 0x61, 0x62] },
    {
      name: "a string whose terminator is not NUL is rejected",
      signature: "s",
      bytes: [1, 0, 0, 0, 0x61, 0x62],
    },
    { name: "a signature whose terminator is not NUL is rejected", signature: "g", bytes: [1, 0x73, 0x73] },
    { name: "a byte array longer than the buffer is rejected", signature: "ay", bytes: [4, 0, 0, 0, 1, 2] },
    {
      name: "an array whose declared length is shorter than its element is rejected",
      signature: "au",
      bytes: [2, 0, 0, 0, 1, 0, 0, 0],
    },
    {
      name: "a string array whose last element overruns its length is rejected",
      signature: "as",
      bytes: [5, 0, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0],
    },
    {
      name: "an array longer than the spec's 64 MiB limit is rejected",
      signature: "au",
      bytes: [0x01, 0, 0, 0x04],
    },
    {
      name: "a variant holding two types is rejected",
      signature: "v",
      bytes: [2, 0x73, 0x73, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 1, 0, 0, 0, 0x62, 0],
    },
    { name: "a variant holding no type is rejected", signature: "v", bytes: [0, 0] },
    { name: "a variant with an unknown type letter is rejected", signature: "v", bytes: [1, 0x7a, 0, 0] },
  ];
  for (const { name, signature, bytes } of cases) {
    test(name, () => {
      expect(() => new WireReader(Uint8Array.from(bytes)).readAll(signature)).toThrow(DBusWireError);
    });
  }

  // Bug: WireReader decodes strings with a fatal TextDecoder whose TypeError escapes unwrapped.
  test("a string with invalid UTF-8 is rejected as a wire error", () => {
    expect(() => new WireReader(Uint8Array.of(1, 0, 0, 0, 0xff, 0)).read("s")).toThrow(DBusWireError);
  });

  test("an object path with a truncated UTF-8 sequence is rejected as a wire error", () => {
    expect(() => new WireReader(Uint8Array.of(1, 0, 0, 0, 0xc3, 0)).read("o")).toThrow(DBusWireError);
  });
});

describe("method calls and messages", () => {
  // Hand-computed from the spec: header `yyyyuua(yv)`, each field struct aligned to 8.
  const minimalCall = [
    0x6c, 1, 0, 1, /* body length */ 0, 0, 0, 0, /* serial */ 1, 0, 0, 0, /* fields length */ 58, 0, 0, 0,
    /* 16: PATH o "/" */ 1, 1, 0x6f, 0, 1, 0, 0, 0, 0x2f, 0, /* pad */ 0, 0, 0, 0, 0, 0,
    /* 32: INTERFACE s "i" */ 2, 1, 0x73, 0, 1, 0, 0, 0, 0x69, 0, /* pad */ 0, 0, 0, 0, 0, 0,
    /* 48: MEMBER s "m" */ 3, 1, 0x73, 0, 1, 0, 0, 0, 0x6d, 0, /* pad */ 0, 0, 0, 0, 0, 0,
    /* 64: DESTINATION s "d" */ 6, 1, 0x73, 0, 1, 0, 0, 0, 0x64, 0, /* pad to 80 */ 0, 0, 0, 0, 0, 0,
  ];

  test("a minimal method call encodes to the hand-computed bytes", () => {
    const bytes = encodeMethodCall({ serial: 1, destination: "d", path: "/", interface: "i", member: "m" });
    expect(Array.from(bytes)).toEqual(minimalCall);
    expect(messageLength(bytes)).toBe(80);
  });

  const call = {
    serial: 42,
    destination: "org.freedesktop.secrets",
    path: "/org/freedesktop/secrets",
    interface: "org.freedesktop.Secret.Service",
    member: "SearchItems",
    signature: "a{ss}u",
    body: [
      [
        ["xdg:schema", "org.example.Password"],
        ["user", "ünïcode"],
      ],
      7,
    ] as DBusValue[],
  };

  test("an encoded method call decodes back with its type, serial, signature and body", () => {
    const bytes = encodeMethodCall(call);
    const message = decodeMessage(bytes);
    expect(message).toEqual({
      type: 1,
      serial: 42,
      replySerial: undefined,
      errorName: undefined,
      signature: "a{ss}u",
      body: call.body,
    });
  });

  test("an encoded method call declares its body length and pads its header to 8", () => {
    const bytes = encodeMethodCall(call);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const bodyLength = view.getUint32(4, true);
    const fieldsLength = view.getUint32(12, true);
    const headerLength = Math.ceil((16 + fieldsLength) / 8) * 8;
    expect(headerLength + bodyLength).toBe(bytes.length);
    expect(Array.from(bytes.subarray(headerLength))).toEqual(Array.from(bodyOf(call.signature, call.body)));
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x6c, 1, 0, 1]);
    expect(view.getUint32(8, true)).toBe(42);
  });

  test("a method call without a signature has an empty body and no signature field", () => {
    const bytes = encodeMethodCall({
      serial: 3,
      destination: "org.freedesktop.DBus",
      path: "/org/freedesktop/DBus",
      interface: "org.freedesktop.DBus",
      member: "Hello",
    });
    expect(decodeMessage(bytes)).toEqual({
      type: 1,
      serial: 3,
      replySerial: undefined,
      errorName: undefined,
      signature: "",
      body: [],
    });
    expect(bytes.length % 8).toBe(0);
  });

  test("messageLength gives the full length of a complete message", () => {
    const bytes = encodeMethodCall(call);
    expect(messageLength(bytes)).toBe(bytes.length);
  });

  test("messageLength is undefined for every proper prefix of a message", () => {
    const bytes = encodeMethodCall(call);
    const defined: number[] = [];
    for (let n = 0; n < bytes.length; n++) {
      if (messageLength(bytes.subarray(0, n)) !== undefined) defined.push(n);
    }
    expect(defined).toEqual([]);
  });

  test("messageLength gives the first message's length when two are concatenated", () => {
    const first = encodeMethodCall(call);
    const second = encodeMethodCall({ ...call, serial: 43, body: [[], 8] });
    expect(first.length).not.toBe(second.length);
    const both = concat(first, second);
    expect(messageLength(both)).toBe(first.length);
    expect(messageLength(both.subarray(first.length))).toBe(second.length);
    expect(decodeMessage(both.subarray(0, first.length)).serial).toBe(42);
    expect(decodeMessage(both.subarray(first.length)).serial).toBe(43);
  });

  test("messageLength ignores trailing bytes from a partial second message", () => {
    const first = encodeMethodCall(call);
    const both = concat(first, encodeMethodCall(call).subarray(0, 20));
    expect(messageLength(both)).toBe(first.length);
  });

  test("a hand-built method return decodes its reply serial, signature and body", () => {
    const body = bodyOf("ao", [["/org/freedesktop/secrets/collection/login/1", "/x"]]);
    const bytes = buildMessage({
      type: 2,
      serial: 9,
      fields: [
        [5, { signature: "u", value: 42 }],
        [6, { signature: "s", value: ":1.7" }],
        [7, { signature: "s", value: "org.freedesktop.DBus" }],
        [8, { signature: "g", value: "ao" }],
      ],
      body,
    });
    expect(messageLength(bytes)).toBe(bytes.length);
    expect(decodeMessage(bytes)).toEqual({
      type: 2,
      serial: 9,
      replySerial: 42,
      errorName: undefined,
      signature: "ao",
      body: [["/org/freedesktop/secrets/collection/login/1", "/x"]],
    });
  });

  test("a hand-built error message decodes its reply serial, error name, signature and body", () => {
    const body = bodyOf("s", ["no such item"]);
    const bytes = buildMessage({
      type: 3,
      serial: 10,
      fields: [
        [5, { signature: "u", value: 77 }],
        [4, { signature: "s", value: "org.x.Err" }],
        [8, { signature: "g", value: "s" }],
      ],
      body,
    });
    expect(messageLength(bytes)).toBe(bytes.length);
    expect(decodeMessage(bytes)).toEqual({
      type: 3,
      serial: 10,
      replySerial: 77,
      errorName: "org.x.Err",
      signature: "s",
      body: ["no such item"],
    });
  });

  test("a message with an unknown header field still decodes", () => {
    const bytes = buildMessage({
      type: 2,
      serial: 1,
      fields: [
        [5, { signature: "u", value: 1 }],
        [200, { signature: "as", value: ["x"] }],
        [8, { signature: "g", value: "u" }],
      ],
      body: bodyOf("u", [5]),
    });
    expect(decodeMessage(bytes)).toMatchObject({ replySerial: 1, signature: "u", body: [5] });
  });

  test("a big-endian message makes messageLength throw", () => {
    const bytes = encodeMethodCall(call).slice();
    bytes[0] = 0x42;
    expect(() => messageLength(bytes)).toThrow(DBusWireError);
  });

  test("a declared length beyond the spec's 128 MiB limit makes messageLength throw", () => {
    const bytes = encodeMethodCall(call).slice();
    new DataView(bytes.buffer).setUint32(4, 1 << 27, true);
    expect(() => messageLength(bytes)).toThrow(DBusWireError);
  });

  test("protocol version 2 makes decodeMessage throw", () => {
    const bytes = encodeMethodCall(call).slice();
    bytes[3] = 2;
    expect(() => decodeMessage(bytes)).toThrow(DBusWireError);
  });

  test("a hand-built message with protocol version 2 makes decodeMessage throw", () => {
    const bytes = buildMessage({
      type: 2,
      serial: 1,
      version: 2,
      fields: [[5, { signature: "u", value: 1 }]],
      body: new Uint8Array(0),
    });
    expect(() => decodeMessage(bytes)).toThrow(DBusWireError);
  });

  const wrongFieldTypes: { name: string; code: number; signature: string; value: DBusValue }[] = [
    { name: "a reply serial sent as a string is rejected", code: 5, signature: "s", value: "42" },
    { name: "an error name sent as a uint32 is rejected", code: 4, signature: "u", value: 1 },
    { name: "a path sent as a string is rejected", code: 1, signature: "s", value: "/x" },
    { name: "a body signature sent as a string is rejected", code: 8, signature: "s", value: "s" },
  ];
  for (const { name, code, signature, value } of wrongFieldTypes) {
    test(name, () => {
      const bytes = buildMessage({
        type: 2,
        serial: 1,
        fields: [[code, { signature, value }]],
        body: new Uint8Array(0),
      });
      expect(() => decodeMessage(bytes)).toThrow(DBusWireError);
    });
  }

  test("a body longer than its signature makes decodeMessage throw", () => {
    const bytes = buildMessage({
      type: 2,
      serial: 1,
      fields: [
        [5, { signature: "u", value: 1 }],
        [8, { signature: "g", value: "u" }],
      ],
      body: bodyOf("uu", [1, 2]),
    });
    expect(() => decodeMessage(bytes)).toThrow(DBusWireError);
  });

  test("a body with no signature field but some bytes makes decodeMessage throw", () => {
    const bytes = buildMessage({
      type: 2,
      serial: 1,
      fields: [[5, { signature: "u", value: 1 }]],
      body: bodyOf("u", [1]),
    });
    expect(() => decodeMessage(bytes)).toThrow(DBusWireError);
  });

  test("a body shorter than its signature makes decodeMessage throw", () => {
    const bytes = buildMessage({
      type: 2,
      serial: 1,
      fields: [
        [5, { signature: "u", value: 1 }],
        [8, { signature: "g", value: "uu" }],
      ],
      body: bodyOf("u", [1]),
    });
    expect(() => decodeMessage(bytes)).toThrow(DBusWireError);
  });
});

describe("socketPathsOf", () => {
  const cases: { name: string; address: string; paths: string[] }[] = [
    {
      name: "a plain unix path is returned as is",
      address: "unix:path=/run/user/1000/bus",
      paths: ["/run/user/1000/bus"],
    },
    {
      name: "a guid after the path is ignored",
      address: "unix:path=/run/user/1000/bus,guid=abc",
      paths: ["/run/user/1000/bus"],
    },
    {
      name: "a guid before the path is ignored",
      address: "unix:guid=abc,path=/run/bus",
      paths: ["/run/bus"],
    },
    {
      name: "an abstract socket gets a leading NUL",
      address: "unix:abstract=/tmp/dbus-XYZ,guid=1",
      paths: ["\0/tmp/dbus-XYZ"],
    },
    { name: "a percent-escaped path is unescaped", address: "unix:path=/tmp/a%20b", paths: ["/tmp/a b"] },
    {
      name: "a tcp entry is skipped in favour of a later unix one",
      address: "tcp:host=localhost,port=1;unix:path=/x",
      paths: ["/x"],
    },
    {
      name: "several unix entries are returned in order",
      address: "unix:path=/a;unix:abstract=b",
      paths: ["/a", "\0b"],
    },
    { name: "an empty address has no paths", address: "", paths: [] },
    {
      name: "a unix entry with neither path nor abstract has no paths",
      address: "unix:tmpdir=/tmp",
      paths: [],
    },
  ];
  for (const { name, address, paths } of cases) {
    test(name, () => {
      expect(socketPathsOf(address)).toEqual(paths);
    });
  }
});

describe("decoding hostile bytes", () => {
  // A tiny deterministic generator, so a failure reproduces.
  function random(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
      state = (state * 1664525 + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
  }

  test("truncated, bit-flipped and random messages decode or throw DBusWireError, nothing else", () => {
    const next = random(42);
    const valid = encodeMethodCall({
      serial: 7,
      destination: "org.freedesktop.secrets",
      path: "/org/freedesktop/secrets",
      interface: "org.freedesktop.Secret.Service",
      member: "SearchItems",
      signature: "a{ss}v(oayays)",
      body: [
        [
          ["service", "authctl"],
          ["account", "openrouter"],
        ],
        { signature: "as", value: ["a", "b"] },
        ["/s/1", Uint8Array.of(1, 2), Uint8Array.of(3), "text/plain"],
      ],
    });
    let decoded = 0;
    let refused = 0;
    const attempt = (bytes: Uint8Array) => {
      try {
        const length = messageLength(bytes);
        if (length === undefined) return;
        decodeMessage(bytes.subarray(0, length));
        decoded++;
      } catch (error) {
        if (!(error instanceof DBusWireError))
          throw new Error(
            `${(error as Error).name}: ${(error as Error).message} for ${Array.from(bytes).join(",")}`,
          );
        refused++;
      }
    };
    for (let i = 0; i < 3000; i++) {
      const bytes = valid.slice();
      const flips = 1 + Math.floor(next() * 4);
      for (let f = 0; f < flips; f++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      attempt(bytes);
      attempt(valid.subarray(0, Math.floor(next() * valid.length)));
      attempt(
        Uint8Array.from({ length: 16 + Math.floor(next() * 64) }, (_, k) =>
          k === 0 ? 0x6c : Math.floor(next() * 256),
        ),
      );
    }
    expect(decoded).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});
