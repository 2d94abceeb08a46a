import { parse, TomlError } from "smol-toml";

/**
 * The plain subset of TOML that authctl writes (smol-toml's stringify of credentials.toml) and
 * that most config.toml files are, read without a general parser: `env`, `token` and `exec` parse
 * both files on every run, and smol-toml's parser, a few dozen small functions stepping through
 * the text a character at a time, costs a compiled binary about 0.6 ms at start-up (issue 18: the
 * interpreter runs it, and each function pays its first call). This reads line by line with the
 * runtime's string search.
 *
 * It answers only for text made of these lines, each exactly so, and undefined for anything else
 * (the caller then parses with smol-toml, which accepts or refuses it with its own messages):
 *   (empty)             # a comment
 *   [table]             [table.sub]          ["quoted"]          ["quoted".sub]
 *   key = "a string"    key = 123            key = -5            key = true / false
 * Keys and table names are bare (A-Z a-z 0-9 _ -) or in double quotes; no character below U+0020
 * (tab and CR included), no U+007F and no backslash anywhere in the text (so no escapes); strings on
 * one line; integers that are safe and written plainly (no +, _, leading 0 or -0); each table
 * defined once (a sub-table's table made by its header if nothing has made it yet, and never
 * defined after that), a key set once per table, nothing deeper, no `__proto__`. Within that, the answer is what smol-toml's parse returns (the
 * same values and key order, tables made with Object.create(null)): test/unit/plain-toml.test.ts
 * holds the two together over generated stores and their mutations.
 */

/** The document, or undefined when the text is not in the plain subset. */
export function parsePlainToml(text: string): Record<string, unknown> | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x0a) || c === 0x7f || c === 0x5c /* \ */) return undefined;
  }
  const root: Record<string, unknown> = Object.create(null);
  let table = root;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line === "" || line.charCodeAt(0) === 0x23 /* # */) continue;
    if (line.charCodeAt(0) === 0x5b /* [ */) {
      if (line.charCodeAt(line.length - 1) !== 0x5d /* ] */) return undefined;
      // One or two names: `[a]` or `[a.b]`, each bare or quoted.
      const first = readKey(line, 1);
      if (!first) return undefined;
      let parent = root;
      let name = first.key;
      if (first.next !== line.length - 1) {
        if (line.charCodeAt(first.next) !== 0x2e /* . */) return undefined;
        const second = readKey(line, first.next + 1);
        if (!second || second.next !== line.length - 1) return undefined;
        // `[providers.mycorp]` makes `providers` a table if nothing has yet (as TOML does).
        let outer = Object.hasOwn(root, first.key) ? root[first.key] : undefined;
        if (outer === undefined) root[first.key] = outer = Object.create(null);
        else if (typeof outer !== "object") return undefined;
        parent = outer as Record<string, unknown>;
        name = second.key;
      }
      if (Object.hasOwn(parent, name)) return undefined;
      table = Object.create(null);
      parent[name] = table;
      continue;
    }
    const key = readKey(line, 0);
    if (!key || !line.startsWith(" = ", key.next) || Object.hasOwn(table, key.key)) return undefined;
    const raw = line.slice(key.next + 3);
    let value: unknown;
    if (raw.charCodeAt(0) === 0x22 /* " */) {
      // No backslash anywhere, so no escapes: the string is what lies between the two quotes.
      if (raw.length < 2 || raw.indexOf('"', 1) !== raw.length - 1) return undefined;
      value = raw.slice(1, -1);
    } else if (raw === "true" || raw === "false") value = raw === "true";
    else {
      const digits = raw.charCodeAt(0) === 0x2d /* - */ ? 1 : 0;
      if (raw.length === digits || (raw.charCodeAt(digits) === 0x30 /* 0 */ && raw.length > 1))
        return undefined;
      for (let i = digits; i < raw.length; i++) {
        const c = raw.charCodeAt(i);
        if (c < 0x30 || c > 0x39) return undefined;
      }
      value = Number(raw);
      if (!Number.isSafeInteger(value)) return undefined;
    }
    table[key.key] = value;
  }
  return root;
}

/** A bare or double-quoted key at `at` in `line`, and where what follows it starts; undefined if there is none. */
function readKey(line: string, at: number): { key: string; next: number } | undefined {
  let key: string;
  let next: number;
  if (line.charCodeAt(at) === 0x22 /* " */) {
    next = line.indexOf('"', at + 1) + 1;
    if (next <= at + 1) return undefined;
    key = line.slice(at + 1, next - 1);
  } else {
    next = at;
    for (; next < line.length; next++) {
      const c = line.charCodeAt(next);
      const bare =
        (c >= 0x61 && c <= 0x7a) ||
        (c >= 0x41 && c <= 0x5a) ||
        (c >= 0x30 && c <= 0x39) ||
        c === 0x5f ||
        c === 0x2d;
      if (!bare) break;
    }
    key = line.slice(at, next);
  }
  return key === "" || key === "__proto__" ? undefined : { key, next };
}

/**
 * A TOML document: the plain subset read here, anything else by smol-toml (imported: loading it
 * costs a compiled binary about 0.1 MiB and 0.1 ms, measured; running its parser is what costs).
 * Throws what smol-toml throws (see tomlErrorOf).
 */
export function parseToml(text: string): Record<string, unknown> {
  return parsePlainToml(text) ?? parse(text);
}

/** smol-toml's error, with the line and column it names, when `error` is one. */
export function tomlErrorOf(error: unknown): TomlError | undefined {
  return error instanceof TomlError ? error : undefined;
}
