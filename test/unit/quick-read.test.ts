import { afterAll, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CONFIG_READ,
  readFileQuickly,
  readKeyShared,
  readShared,
  readKeyQuickly,
  readQuickly,
  readTextQuickly,
  STORE_READ,
  USE_NODE_FS,
} from "../../src/store/quick-read.ts";

// The quick read decodes with Bun.file().text() (no TextDecoder: about 0.5 MiB of a compiled
// binary's memory, issue 18). Its contract: the text the caller's decoder would give, or
// USE_NODE_FS (the caller then reads through node:fs, which decides). Never a different text.
const dir = join(mkdtempSync(join(tmpdir(), "authctl-quick-read-")), "home");
mkdirSync(dir, { mode: 0o700 });
afterAll(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

const BOM = [0xef, 0xbb, 0xbf];
const utf8 = (text: string) => [...new TextEncoder().encode(text)];
const SAMPLES: number[][] = [
  utf8('version = 1\n[openrouter]\nkey = "sk-or-v1-abc"\n'),
  [...BOM, ...utf8("version = 1\n")],
  [...BOM],
  utf8('label = "café — ✓ 😀"\n'),
  utf8('label = "\uFFFD"\n'),
  [0x76, 0x3d, 0x22, 0xff, 0xfe, 0x22, 0x0a],
  [0x61, 0xc3],
  [0xed, 0xa0, 0x80],
  [...BOM, 0xff],
  [0x61, ...BOM, 0x62],
];

// Random bytes, mostly ASCII with some multi-byte lead and continuation bytes.
let state = 7;
const next = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
};
const PIECES = [
  [0x61],
  [0x0a],
  [0xc3, 0xa9],
  [0xe2, 0x9c, 0x93],
  [0xf0, 0x9f, 0x98, 0x80],
  [0x80],
  [0xc3],
  [0xff],
  BOM,
];
for (let n = 0; n < 300; n++) {
  const bytes: number[] = [];
  for (let i = next() % 8; i > 0; i--) bytes.push(...PIECES[next() % PIECES.length]!);
  SAMPLES.push(bytes);
}

for (const [name, decode] of [
  ["credentials.toml (fatal)", { fatal: true }],
  ["config.toml (keeps a byte-order mark)", { ignoreBOM: true }],
] as const) {
  test(`${name}: the text its decoder gives, or node:fs decides`, async () => {
    const path = join(dir, "file.toml");
    let answered = 0;
    const wrong: string[] = [];
    for (const bytes of SAMPLES) {
      writeFileSync(path, new Uint8Array(bytes), { mode: 0o600 });
      const read = await readQuickly(dir, path, { decode });
      let expected: string | undefined;
      try {
        expected = new TextDecoder("utf-8", decode).decode(new Uint8Array(bytes));
      } catch {
        expected = undefined;
      }
      if (read === USE_NODE_FS) continue;
      answered++;
      if (read.text !== expected) wrong.push(`${JSON.stringify(bytes)}: ${JSON.stringify(read.text)}`);
    }
    expect(wrong).toEqual([]);
    // The usual files (UTF-8 text) are answered here, not all sent to node:fs.
    expect(answered).toBeGreaterThan(30);
  });
}

// readShared (issue 18): reads-ahead.ts starts the hot path's reads early; the reader with the same
// arguments takes that read once, and every later read is a new one (a store written in between
// is seen). Other arguments never get it.
test("a read ahead is taken once, by the reader with the same arguments", async () => {
  const path = join(dir, "ahead.toml");
  writeFileSync(path, "first = 1\n", { mode: 0o600 });
  await readShared(dir, path, STORE_READ);
  // Written after the read ahead finished: the taker still gets what was read then.
  writeFileSync(path, "second = 2\n", { mode: 0o600 });
  expect(await readQuickly(dir, path, CONFIG_READ)).toMatchObject({ text: "second = 2\n" });
  expect(await readQuickly(dir, path, STORE_READ)).toMatchObject({ text: "first = 1\n" });
  expect(await readQuickly(dir, path, STORE_READ)).toMatchObject({ text: "second = 2\n" });
});

test("a read ahead that finds no file answers as a read now would", async () => {
  const path = join(dir, "absent.toml");
  readShared(dir, path, CONFIG_READ);
  expect(await readQuickly(dir, path, CONFIG_READ)).toEqual({ text: undefined });
});

test("a key file read ahead is taken once, by the reader with the same arguments", async () => {
  const path = join(dir, "key");
  writeFileSync(path, Buffer.alloc(32, 1), { mode: 0o600 });
  await readKeyShared(path, 32);
  writeFileSync(path, Buffer.alloc(32, 2), { mode: 0o600 });
  expect(await readKeyQuickly(path, 32)).toEqual(new Uint8Array(32).fill(1));
  expect(await readKeyQuickly(path, 32)).toEqual(new Uint8Array(32).fill(2));
});

// The team store's files (etcd-seen.json, the seal key file, the TLS files) were read with
// readFileSync; readFileQuickly and readTextQuickly answer the usual case with Bun's file API
// (issue 18). Their contract: readFileSync's bytes, or `readFileSync(path, "utf8")`'s text, or
// USE_NODE_FS (the caller then calls readFileSync itself). Never something else.
test("readTextQuickly gives readFileSync's utf8 text, or node:fs decides", async () => {
  const path = join(dir, "seen.json");
  let answered = 0;
  const wrong: string[] = [];
  for (const bytes of SAMPLES) {
    writeFileSync(path, new Uint8Array(bytes), { mode: 0o600 });
    const text = await readTextQuickly(path);
    const data = await readFileQuickly(path);
    if (data === USE_NODE_FS || !Buffer.from(data).equals(Buffer.from(bytes)))
      wrong.push(`bytes ${JSON.stringify(bytes)}`);
    if (text === USE_NODE_FS) continue;
    answered++;
    if (text !== readFileSync(path, "utf8")) wrong.push(`${JSON.stringify(bytes)}: ${JSON.stringify(text)}`);
  }
  expect(wrong).toEqual([]);
  expect(answered).toBeGreaterThan(30);
});

test("readTextQuickly and readFileQuickly leave every unusual file to node:fs", async () => {
  const path = join(dir, "unusual");
  // Nothing there, a directory, a file others may write: readFileSync decides what each means.
  rmSync(path, { recursive: true, force: true });
  expect(await readTextQuickly(path)).toBe(USE_NODE_FS);
  expect(await readFileQuickly(path)).toBe(USE_NODE_FS);
  mkdirSync(path);
  expect(await readTextQuickly(path)).toBe(USE_NODE_FS);
  expect(await readFileQuickly(path)).toBe(USE_NODE_FS);
  rmSync(path, { recursive: true });
  writeFileSync(path, "{}\n");
  for (const [mode, usual] of [
    [0o600, true],
    [0o644, true],
    [0o400, true],
    [0o620, false],
    [0o602, false],
    [0o666, false],
  ] as const) {
    chmodSync(path, mode);
    expect([mode, await readTextQuickly(path)]).toEqual([mode, usual ? "{}\n" : USE_NODE_FS]);
    expect(await readFileQuickly(path)).toEqual(usual ? new Uint8Array(Buffer.from("{}\n")) : USE_NODE_FS);
  }
  // Another user's file: as root (CI), give it away; elsewhere the mode checks above must do.
  if (process.getuid?.() === 0) {
    chmodSync(path, 0o644);
    chownSync(path, 4321, 4321);
    expect(await readTextQuickly(path)).toBe(USE_NODE_FS);
    expect(await readFileQuickly(path)).toBe(USE_NODE_FS);
  }
});
