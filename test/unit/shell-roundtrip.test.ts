import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "dotenv";
import { AuthctlError } from "../../src/errors.ts";
import { formatEnv, formatGithubEnv } from "../../src/format/env-format.ts";

// Every value is printed by authctl, read back by the real consumer, and compared byte for byte.
// A value that a shell executed instead of storing would create MARKER.

const WORK = mkdtempSync(join(tmpdir(), "authctl-roundtrip-"));
const MARKER = join(WORK, "executed");
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

const REQUIRED: Array<[label: string, value: string]> = [
  ["single quote", "'"],
  ["double quote", '"'],
  ["dollar variable", "$HOME"],
  ["backticks", "`id`"],
  ["backslash", "\\"],
  ["backslash n, literally", "\\n"],
  ["spaces", "  two  spaces  "],
  ["tab", "a\tb"],
  ["unicode", "é✓🔑"],
  ["newline", "line one\nline two"],
  ["trailing newline", "value\n"],
  ["command substitution", "$(echo pwned)"],
  ["sh quote escape", "'\\''"],
  ["empty", ""],
];

const NASTY: Array<[label: string, value: string]> = [
  ...REQUIRED,
  ["all of the above", REQUIRED.map(([, value]) => value).join("")],
  ["carriage return", "a\rb"],
  ["CRLF", "a\r\nb\r\n"],
  ["leading dash", "-e"],
  ["double dash", "--help"],
  ["only newlines", "\n\n"],
  ["leading newline", "\nx"],
  ["comment sign", "#not a comment"],
  ["percent formats", "%s %d %%"],
  ["glob and tilde", "~/* ?"],
  ["history expansion", "!! !$"],
  ["escape character", "\u001b[31mred"],
  ["line separators", "a\u2028b\u2029c\u0085d"],
  ["PowerShell quotes", "\u2018\u2019\u201A\u201B"],
  ["touch in sh command substitution", `$(touch ${MARKER})`],
  ["touch in backticks", `\`touch ${MARKER}\``],
  ["touch in fish command substitution", `(touch ${MARKER})`],
  ["breaking out of single quotes", `'; touch ${MARKER}; '`],
  ["breaking out of fish quotes", `\\'; touch ${MARKER}; '`],
  ["breaking out of double quotes", `"; touch ${MARKER}; "`],
  ["long", "k".repeat(20_000)],
  ["key ending in backslashes", "sk-trail\\\\"],
  ["every quote and a dollar, no newline", "p'q\"r`s$t\\"],
  // Given a name ending in PATH below: fish splits such a variable into a list at the colons,
  // and joins it again when it exports it or expands it inside double quotes.
  ["colons in a fish path variable", ":/a b::/c:"],
];

const NAMES = NASTY.map(([label], index) =>
  label === "colons in a fish path variable" ? "AUTHCTL_RT_PATH" : `AUTHCTL_RT_${index}`,
);
const VARS = NASTY.map(([, value], index) => [NAMES[index]!, value] as const);
const EXPECTED = Object.fromEntries(NASTY);

function has(command: string): boolean {
  return Bun.which(command) !== null;
}

/** Decodes strictly, so a byte the shell changed into invalid UTF-8 cannot compare equal. */
function decodeExact(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

function readByLabel(dir: string): Record<string, string> {
  return Object.fromEntries(
    NASTY.map(([label], index) => [label, decodeExact(readFileSync(join(dir, NAMES[index]!)))]),
  );
}

/** What a program started from the shell receives: `env -0` separates entries with NUL. */
function readEnviron(file: string): Record<string, string> {
  const environ = new Map<string, string>();
  for (const entry of decodeExact(readFileSync(file)).split("\0")) {
    const equals = entry.indexOf("=");
    if (equals > 0) environ.set(entry.slice(0, equals), entry.slice(equals + 1));
  }
  return Object.fromEntries(
    NASTY.map(([label], index) => [label, environ.get(NAMES[index]!) ?? "<missing>"]),
  );
}

interface ShellCase {
  name: string;
  command: string;
  argv: (script: string) => string[];
  format: "sh" | "fish";
  source: (file: string) => string;
}

const SHELLS: ShellCase[] = [
  {
    name: "bash",
    command: "bash",
    argv: (s) => ["--norc", "--noprofile", s],
    format: "sh",
    source: (f) => `. '${f}'`,
  },
  { name: "dash", command: "dash", argv: (s) => [s], format: "sh", source: (f) => `. '${f}'` },
  { name: "zsh", command: "zsh", argv: (s) => ["-f", s], format: "sh", source: (f) => `. '${f}'` },
  { name: "busybox sh", command: "busybox", argv: (s) => ["sh", s], format: "sh", source: (f) => `. '${f}'` },
  {
    name: "fish",
    command: "fish",
    argv: (s) => ["--no-config", s],
    format: "fish",
    source: (f) => `source '${f}'`,
  },
];

/**
 * Sources the formatted text, writes each variable to its own file, then dumps the environment a
 * child process inherits. `printf '%s' "$NAME"` adds nothing, and the double quotes matter in
 * fish too: unquoted, a PATH-named list would print without its colons.
 */
function runShell(
  shell: ShellCase,
  locale: string,
): { shell: Record<string, string>; child: Record<string, string> } {
  const dir = mkdtempSync(join(WORK, `${shell.command}-`));
  const envFile = join(dir, "env");
  const script = join(dir, "script");
  writeFileSync(envFile, formatEnv(VARS, shell.format));
  const lines = [shell.source(envFile)];
  for (const [name] of VARS) lines.push(`printf '%s' "$${name}" > '${join(dir, name)}'`);
  lines.push(`/usr/bin/env -0 > '${join(dir, "environ")}'`);
  writeFileSync(script, `${lines.join("\n")}\n`);

  const path = Bun.which(shell.command);
  if (path === null) throw new Error(`${shell.command} is not installed`);
  // A clean environment: nothing named AUTHCTL_RT_* can leak in, and HOME points somewhere
  // recognisable so an expanded `$HOME` would show.
  const result = Bun.spawnSync([path, ...shell.argv(script)], {
    env: { PATH: "/usr/bin:/bin", HOME: join(dir, "home"), LANG: locale, LC_ALL: locale },
    cwd: dir,
    stdout: "pipe",
    stderr: "pipe",
  });
  expect({
    exitCode: result.exitCode,
    stderr: result.stderr.toString(),
    stdout: result.stdout.toString(),
  }).toEqual({
    exitCode: 0,
    stderr: "",
    stdout: "",
  });
  return { shell: readByLabel(dir), child: readEnviron(join(dir, "environ")) };
}

describe("shells read back every value unchanged", () => {
  for (const shell of SHELLS) {
    // Both a UTF-8 locale and plain C: a shell that decoded input by locale could alter bytes.
    for (const locale of ["C.UTF-8", "C"]) {
      test.skipIf(!has(shell.command))(`${shell.name} (${locale})`, () => {
        expect(runShell(shell, locale)).toEqual({ shell: EXPECTED, child: EXPECTED });
        expect(existsSync(MARKER)).toBe(false);
      });
    }
  }

  // Never run here (no pwsh on the CI image); it is skipped visibly rather than dropped.
  test.skipIf(!has("pwsh"))("pwsh", () => {
    const dir = mkdtempSync(join(WORK, "pwsh-"));
    const envFile = join(dir, "env.ps1");
    const script = join(dir, "script.ps1");
    writeFileSync(envFile, formatEnv(VARS, "powershell"));
    const lines = [`. '${envFile}'`];
    // Assigning '' removes a variable in PowerShell, so an empty value reads back as $null;
    // `[string]$null` is '' and the comparison still holds.
    for (const [name] of VARS) {
      lines.push(`[IO.File]::WriteAllText('${join(dir, name)}', [string]$env:${name})`);
    }
    writeFileSync(script, `${lines.join("\n")}\n`);
    const result = Bun.spawnSync(
      [Bun.which("pwsh") ?? "pwsh", "-NoProfile", "-NonInteractive", "-File", script],
      {
        env: { PATH: "/usr/bin:/bin", HOME: join(dir, "home") },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    expect(result.stderr.toString()).toBe("");
    expect(result.exitCode).toBe(0);
    expect(readByLabel(dir)).toEqual(EXPECTED);
    expect(existsSync(MARKER)).toBe(false);
  });
});

describe("dotenv.parse reads back every value the dotenv format accepts", () => {
  // Values dotenv cannot hold unchanged; formatEnv must refuse them instead of printing them.
  const REFUSED = ["all of the above"];
  const writable = NASTY.filter(([label]) => !REFUSED.includes(label));
  const writableVars = VARS.filter((_, index) => !REFUSED.includes(NASTY[index]![0]));

  test("a trailing backslash is written bare because dotenv reads it as escaping a closing quote", () => {
    // Written the obvious way, the first value swallows the second: the match runs past `\'`.
    expect(parse("A='x\\'\nB='\nfoo'\n")).toEqual({ A: "x\\'\nB=" });
    expect(parse("A='x\\'\nB=' #'\n")).toEqual({ A: "x\\'\nB=" });
  });

  test("a raw carriage return comes back as a line feed, which is why dotenv gets the \\r escape", () => {
    expect(parse("A='a\rb'\nB='c\r\nd'\n")).toEqual({ A: "a\nb", B: "c\nd" });
    expect(parse('A="a\\rb"\n')).toEqual({ A: "a\rb" });
  });

  test("the refused values are exactly the ones expected", () => {
    const refused = NASTY.filter(([label, value]) => {
      try {
        formatEnv([["K", value]], "dotenv");
        return false;
      } catch (error) {
        expect(error).toBeInstanceOf(AuthctlError);
        expect((error as AuthctlError).code).toBe("USAGE");
        return true;
      }
    }).map(([label]) => label);
    expect(refused).toEqual(REFUSED);
  });

  for (const fast of [false, true]) {
    test(`all values in one file (${fast ? "fast" : "default"} parser)`, () => {
      const text = formatEnv(writableVars, "dotenv");
      expect(parse(text, { fast })).toEqual(Object.fromEntries(writableVars));
      expect(parse(Buffer.from(text), { fast })).toEqual(Object.fromEntries(writableVars));
    });

    test(`each value alone and between neighbours (${fast ? "fast" : "default"} parser)`, () => {
      for (const [label, value] of writable) {
        for (const [, neighbour] of writable) {
          const vars = [
            ["A", value],
            ["B", neighbour],
            ["C", value],
          ] as const;
          const parsed = parse(formatEnv(vars, "dotenv"), { fast });
          expect({ label, parsed }).toEqual({ label, parsed: Object.fromEntries(vars) });
        }
      }
    });
  }
});

test("JSON.parse reads back every value", () => {
  expect(JSON.parse(formatEnv(VARS, "json"))).toEqual(Object.fromEntries(VARS));
});

describe("GITHUB_ENV heredocs read back every value", () => {
  /**
   * The runner's reading of the environment file (actions/runner, SetEnvFileCommand on Linux):
   * lines end at LF; a line is `NAME=value` when `=` comes before any `<<`, otherwise
   * `NAME<<DELIMITER`, whose value is the raw text up to the LF before the next line that is
   * exactly DELIMITER. Blank lines between entries are skipped.
   */
  function parseGithubEnv(text: string): Record<string, string> {
    const result: Record<string, string> = {};
    let index = 0;
    const readLine = (): string | null => {
      if (index >= text.length) return null;
      const end = text.indexOf("\n", index);
      const line = text.slice(index, end < 0 ? text.length : end);
      index = end < 0 ? text.length : end + 1;
      return line;
    };
    for (let line = readLine(); line !== null; line = readLine()) {
      if (line === "") continue;
      const equals = line.indexOf("=");
      const heredoc = line.indexOf("<<");
      if (equals >= 0 && (heredoc < 0 || equals < heredoc)) {
        result[line.slice(0, equals)] = line.slice(equals + 1);
        continue;
      }
      if (heredoc <= 0 || heredoc + 2 === line.length)
        throw new Error(`invalid line ${JSON.stringify(line)}`);
      const name = line.slice(0, heredoc);
      const delimiter = line.slice(heredoc + 2);
      const start = index;
      let end = index;
      for (let next = readLine(); next !== delimiter; next = readLine()) {
        if (next === null) throw new Error(`no closing ${delimiter}`);
        end = index - 1;
      }
      result[name] = text.slice(start, Math.max(start, end));
    }
    return result;
  }

  /** The runner's ActionCommand.UnescapeData, in its order. */
  function parseMasks(masks: string): string[] {
    return masks
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => {
        expect(line.startsWith("::add-mask::")).toBe(true);
        return line
          .slice("::add-mask::".length)
          .replaceAll("%0D", "\r")
          .replaceAll("%0A", "\n")
          .replaceAll("%25", "%");
      });
  }

  const randomHex = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");

  test("one file holding every value, after a line another step wrote", () => {
    const { block } = formatGithubEnv(VARS, randomHex);
    expect(parseGithubEnv(`EARLIER=1\n${block}`)).toEqual({ EARLIER: "1", ...Object.fromEntries(VARS) });
  });

  test("every non-blank line of every value is masked", () => {
    const masks = new Set(parseMasks(formatGithubEnv(VARS, randomHex).masks));
    for (const [, value] of VARS) {
      for (const line of value.split(/\r\n|\r|\n/)) {
        if (line.trim() !== "") expect(masks.has(line.trim())).toBe(true);
      }
    }
  });

  test("a value written in the heredoc syntax stays a value", () => {
    const value = "x\nEOF\nNODE_OPTIONS<<EOF\n--require /tmp/evil.js\nEOF";
    const { block } = formatGithubEnv([["K", value]], randomHex);
    expect(parseGithubEnv(block)).toEqual({ K: value });
  });
});

test("the marker check can fail: the same value, unquoted, does run", () => {
  const control = join(WORK, "control");
  const value = NASTY.find(([label]) => label === "touch in sh command substitution")![1].replace(
    MARKER,
    control,
  );
  const result = Bun.spawnSync(["/bin/sh", "-c", `X="${value}"`], { env: { PATH: "/usr/bin:/bin" } });
  expect(result.exitCode).toBe(0);
  expect(existsSync(control)).toBe(true);
});
