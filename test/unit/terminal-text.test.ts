import { describe, expect, test } from "bun:test";
import { terminalLines, terminalSafe } from "../../src/format/terminal-text.ts";

describe("terminalSafe: what a server chose, made safe for a terminal", () => {
  const cases: [string, string, string][] = [
    ["CSI sequences (clear screen, colours) are removed", "A\x1b[2J\x1b[31mB\x1b[0m", "AB"],
    [
      "OSC sequences (window title, hyperlinks) are removed, BEL or ST terminated",
      "A\x1b]0;pwned\x07B\x1b]8;;http://x\x1b\\C",
      "ABC",
    ],
    ["C0 and C1 controls and DEL are removed", "A\x00\x07\x08B\x7f\x9bC\x85D", "ABCD"],
    ["bidi overrides and isolates are removed", "user\u202egnp.exe\u2066x\u2069", "usergnp.exex"],
    ["newlines and tabs become spaces", "one\ntwo\tthree\r\nfour", "one two three  four"],
    ["ordinary text, unicode included, is kept", "WDJB-MJHT · café ✓", "WDJB-MJHT · café ✓"],
  ];
  for (const [name, input, expected] of cases) test(name, () => expect(terminalSafe(input)).toBe(expected));
});

describe("terminalLines: the same at the output boundary, for whole messages", () => {
  test("keeps newlines and tabs, turns a carriage return into a space, drops the rest", () => {
    expect(terminalLines("one\n\ttwo\rthree\x1b]52;c;eA==\x07\x1b[2J\x9b\u202efour")).toBe(
      "one\n\ttwo threefour",
    );
  });
});
