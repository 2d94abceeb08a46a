import { describe, expect, test } from "bun:test";
import { parse } from "smol-toml";
import { parsePlainToml } from "../../src/plain-toml.ts";
import { serializeCredentialsFile } from "../../src/store/credentials-file-write.ts";
import type { StoredCredential } from "../../src/store/types.ts";

/**
 * src/plain-toml.ts answers for a subset of TOML and must then answer exactly what smol-toml's
 * parse does (values, key order, null-prototype tables), and nothing where smol-toml refuses the
 * text. Checked over stores written by authctl's own serialiser with random contents, and over
 * random mutations of them (a seeded generator: a failure names its seed and text).
 */

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PLAIN_CHARS = "abcXYZ019-_ .:/@+=~'";
const AWKWARD_CHARS = ['"', "\\", "\n", "\t", "\r", "\u0001", "\u007f", "é", "😀", "#", "[", "]", "\u2028"];

function randomString(next: () => number, awkward: boolean): string {
  const length = Math.floor(next() * 24);
  let out = "";
  for (let i = 0; i < length; i++) {
    out +=
      awkward && next() < 0.15
        ? AWKWARD_CHARS[Math.floor(next() * AWKWARD_CHARS.length)]
        : PLAIN_CHARS[Math.floor(next() * PLAIN_CHARS.length)];
  }
  return out;
}

function randomStore(next: () => number, awkward: boolean): string {
  const credentials: Record<string, StoredCredential> = {};
  const ids = ["openrouter", "anthropic", "openrouter@work", "mycorp", "a-b@c_d"];
  for (const id of ids) {
    if (next() < 0.4) continue;
    const oauth = next() < 0.5;
    const credential: Record<string, unknown> = {
      method: oauth ? "oauth" : "key",
      type: oauth ? "oauth" : "api_key",
      created_at: Math.floor(next() * 2e12),
      updated_at: Math.floor(next() * 2e12),
    };
    if (oauth) {
      credential.access_token = randomString(next, awkward);
      if (next() < 0.7) credential.refresh_token = randomString(next, awkward);
      if (next() < 0.7) credential.expires_at = Math.floor(next() * 2e12) - (next() < 0.1 ? 3e12 : 0);
    } else credential.key = randomString(next, awkward);
    if (next() < 0.3) credential.default = next() < 0.5;
    if (next() < 0.2) credential.needs_login = true;
    if (next() < 0.3) credential.label = randomString(next, awkward);
    if (next() < 0.4) {
      const extra: Record<string, string> = {};
      for (const name of ["api_url", "host", "weird key", "account_id"])
        if (next() < 0.5) extra[name] = randomString(next, awkward);
      credential.extra = extra;
    }
    if (next() < 0.1) credential.future_field = randomString(next, awkward);
    credentials[id] = credential as unknown as StoredCredential;
  }
  return serializeCredentialsFile({ version: 1, credentials, preserved: {} });
}

/** A config.toml as people write it: `[providers.<id>]` tables, sometimes under an explicit `[providers]`. */
function randomConfig(next: () => number): string {
  const lines: string[] = [];
  if (next() < 0.5) lines.push('store = "file"', "");
  if (next() < 0.2) lines.push("[providers]", "");
  for (const id of ["mycorp", "openai", "minimax", "x-y"]) {
    if (next() < 0.4) continue;
    lines.push(next() < 0.2 ? `["providers".${id}]` : `[providers.${id}]`);
    for (const key of ["issuer", "client_id", "region", "redirect_port", "name"])
      if (next() < 0.5)
        lines.push(
          `${key} = ${key === "redirect_port" ? Math.floor(next() * 65535) : JSON.stringify(randomString(next, false))}`,
        );
    lines.push("");
  }
  if (next() < 0.2) lines.push("# trailing comment");
  return lines.join("\n");
}

const MUTATION_CHARS = [
  '"',
  "[",
  "]",
  ".",
  "=",
  " ",
  "\n",
  "#",
  "a",
  "0",
  "-",
  "\\",
  "\t",
  "\r",
  "é",
  "_",
  "1",
  "t",
];

function mutate(next: () => number, text: string): string {
  const at = Math.floor(next() * (text.length + 1));
  const kind = next();
  if (kind < 0.35) return text.slice(0, at) + text.slice(at + 1);
  if (kind < 0.8)
    return text.slice(0, at) + MUTATION_CHARS[Math.floor(next() * MUTATION_CHARS.length)] + text.slice(at);
  const lines = text.split("\n");
  const line = Math.floor(next() * lines.length);
  lines.splice(Math.floor(next() * lines.length), 0, lines[line]!);
  return lines.join("\n");
}

/** What smol-toml makes of `text`, or "refused". */
function smol(text: string): unknown {
  try {
    return parse(text);
  } catch {
    return "refused";
  }
}

function agree(text: string, where: string): boolean {
  const plain = parsePlainToml(text);
  if (plain === undefined) return false;
  const reference = smol(text);
  if (reference === "refused")
    throw new Error(`${where}: plain-toml read a text smol-toml refuses: ${JSON.stringify(text)}`);
  expect({ where, text, plain } as unknown).toStrictEqual({ where, text, plain: reference });
  // The same key order, all the way down.
  expect(JSON.stringify(plain)).toBe(JSON.stringify(reference));
  expect(Object.getPrototypeOf(plain)).toBeNull();
  return true;
}

describe("plain-toml: the subset authctl writes, read as smol-toml reads it", () => {
  test("stores written by authctl with plain values are read, and equal smol-toml's reading", () => {
    const next = rng(1);
    for (let i = 0; i < 300; i++) {
      const text = randomStore(next, false);
      expect(agree(text, `plain store ${i}`)).toBe(true);
    }
  });

  test("stores with escapes, control characters or other awkward values: read the same, or left to smol-toml", () => {
    const next = rng(2);
    let read = 0;
    for (let i = 0; i < 300; i++) if (agree(randomStore(next, true), `awkward store ${i}`)) read++;
    // Some have nothing awkward in them: those are still read here.
    expect(read).toBeGreaterThan(10);
  });

  test("random mutations of stores: never a different answer, never an answer smol-toml would refuse", () => {
    const next = rng(3);
    let read = 0;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      let text = randomStore(next, false);
      const edits = 1 + Math.floor(next() * 3);
      for (let e = 0; e < edits; e++) text = mutate(next, text);
      if (agree(text, `mutation ${i}`)) read++;
      else if (smol(text) === "refused") refused++;
    }
    // The mutations both keep texts in the subset and break them.
    expect(read).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(300);
  });

  test("config.toml texts and their mutations: never a different answer", () => {
    const next = rng(4);
    let read = 0;
    for (let i = 0; i < 2000; i++) {
      let text = randomConfig(next);
      if (i % 2) for (let e = 0; e < 1 + Math.floor(next() * 2); e++) text = mutate(next, text);
      if (agree(text, `config ${i}`)) read++;
    }
    expect(read).toBeGreaterThan(800);
  });

  test.each([
    ["", {}],
    ["# only a comment\n", {}],
    [
      '[providers.mycorp]\nissuer = "https://sso.example.com"\nclient_id = "authctl"\n[providers.other]\nname = "O"\n',
      {
        providers: {
          mycorp: { issuer: "https://sso.example.com", client_id: "authctl" },
          other: { name: "O" },
        },
      },
    ],
    ['store = "file"\n', { store: "file" }],
    ["version = 1\n\n[a]\nn = -12\nb = false\n", { version: 1, a: { n: -12, b: false } }],
    ['["a@w"]\nk = "v"\n["a@w".extra]\nx = "y"\n', { "a@w": { k: "v", extra: { x: "y" } } }],
  ])("%j", (text, expected) => {
    const plain = parsePlainToml(text);
    expect(JSON.stringify(plain)).toBe(JSON.stringify(expected));
    expect(agree(text, "table")).toBe(true);
  });

  test.each([
    ["a = 1\na = 2\n", "a key set twice"],
    ["[a]\n[a]\n", "a table defined twice"],
    ["[a.b]\n[a]\n", "a table defined after its sub-table (valid TOML, left to smol-toml)"],
    ["[a]\nb = 1\n[a.b]\n", "a sub-table over a value"],
    ["[a.b.c]\n", "three levels"],
    ["a = 01\n", "a leading zero"],
    ["a = -0\n", "minus zero"],
    ["a = +1\n", "a plus sign"],
    ["a = 1_000\n", "an underscore in a number"],
    ["a = 9007199254740993\n", "an unsafe integer"],
    ["a = 1.5\n", "a float"],
    ['a = "x" # c\n', "a comment after a value"],
    ['a = "x\\ty"\n', "an escape"],
    ["a = 'x'\n", "a literal string"],
    ['a = """x"""\n', "a multi-line string"],
    ["a = [1]\n", "an array"],
    ["a = { b = 1 }\n", "an inline table"],
    ["a.b = 1\n", "a dotted key"],
    ["a=1\n", "no spaces around ="],
    ["a = 1\r\n", "CRLF"],
    ["\ta = 1\n", "indentation"],
    ["a = 1 \n", "a trailing space"],
    ["[ a ]\n", "spaces in a header"],
    ["[[a]]\n", "an array of tables"],
    ["__proto__ = 1\n", "__proto__"],
    ['"" = 1\n', "an empty key"],
    ["\uFEFFa = 1\n", "a byte-order mark"],
  ])("%j is left to smol-toml (%s)", (text) => {
    expect(parsePlainToml(text)).toBeUndefined();
  });
});
