import { describe, expect, test } from "bun:test";
import { AuthctlError } from "../../src/errors.ts";
import { ENV_FORMATS, formatEnv, formatGithubEnv, parseEnvFormat } from "../../src/format/env-format.ts";

const TWO_VARS = [
  ["OPENROUTER_API_KEY", "sk-or-v1-abc"],
  ["OTHER", "it's"],
] as const;

function thrown(action: () => unknown): AuthctlError {
  try {
    action();
  } catch (error) {
    if (error instanceof AuthctlError) return error;
    throw error;
  }
  throw new Error("expected an AuthctlError, but nothing was thrown");
}

function counter(): () => string {
  let next = 0;
  return () => (next++).toString(16).padStart(8, "0");
}

describe("formatEnv writes each format exactly", () => {
  test.each([
    ["sh", "export OPENROUTER_API_KEY='sk-or-v1-abc'\nexport OTHER='it'\\''s'\n"],
    ["fish", "set -gx OPENROUTER_API_KEY 'sk-or-v1-abc'\nset -gx OTHER 'it\\'s'\n"],
    ["powershell", "$env:OPENROUTER_API_KEY = 'sk-or-v1-abc'\n$env:OTHER = 'it''s'\n"],
    ["dotenv", "OPENROUTER_API_KEY='sk-or-v1-abc'\nOTHER=\"it's\"\n"],
    ["json", '{\n  "OPENROUTER_API_KEY": "sk-or-v1-abc",\n  "OTHER": "it\'s"\n}\n'],
  ] as const)("%s", (format, expected) => {
    expect(formatEnv(TWO_VARS, format)).toBe(expected);
  });

  test("nothing to print is an empty string, except JSON's empty object", () => {
    for (const format of ["sh", "fish", "powershell", "dotenv"] as const)
      expect(formatEnv([], format)).toBe("");
    expect(formatEnv([], "json")).toBe("{}\n");
  });

  test("sh keeps newlines literal inside the quotes", () => {
    expect(formatEnv([["K", "a\nb\n"]], "sh")).toBe("export K='a\nb\n'\n");
  });

  test("fish escapes only backslash and single quote", () => {
    expect(formatEnv([["K", `a\\b'c"$d\n`]], "fish")).toBe(`set -gx K 'a\\\\b\\'c"$d\n'\n`);
  });

  test("powershell doubles every character it treats as a single quote", () => {
    expect(formatEnv([["K", "'\u2018\u2019\u201A\u201B\"$x`"]], "powershell")).toBe(
      "$env:K = '''\u2018\u2018\u2019\u2019\u201A\u201A\u201B\u201B\"$x`'\n",
    );
  });

  test("json keeps the order of the pairs", () => {
    expect(
      formatEnv(
        [
          ["B", "1"],
          ["A", "2"],
        ],
        "json",
      ),
    ).toBe('{\n  "B": "1",\n  "A": "2"\n}\n');
  });
});

describe("dotenv picks the first quoting that keeps the value unchanged: single, double, backticks, bare", () => {
  test.each([
    ["single quotes when there is no single quote", `a "b" \\n $c`, `K='a "b" \\n $c'\n`],
    [
      "double quotes when there is a single quote but no double quote or backslash",
      "it's\nx",
      `K="it's\nx"\n`,
    ],
    ["backticks when there is a single quote and a double quote", `it's "q"`, 'K=`it\'s "q"`\n'],
    ["backticks when there is a single quote and a backslash", "it's \\n", "K=`it's \\n`\n"],
    ["double quotes with the \\r escape for a carriage return", "a\r\nb", `K="a\\r\nb"\n`],
    [
      "bare when the value ends in a backslash (every quoted form would read it as an escaped closing quote)",
      "sk-trail\\",
      "K=sk-trail\\\n",
    ],
    ["bare for two trailing backslashes", "sk-trail\\\\", "K=sk-trail\\\\\n"],
    ["bare when the value holds every kind of quote and a dollar sign", "p'q\"r`s$t", "K=p'q\"r`s$t\n"],
    ["bare for a lone backslash", "\\", "K=\\\n"],
  ])("%s", (_name, value, expected) => {
    expect(formatEnv([["K", value]], "dotenv")).toBe(expected);
  });

  test.each([
    ["every kind of quote, starting with one", `'"\``],
    ["every kind of quote and a space at the end", `a'"\` `],
    ["every kind of quote and a # (bare, it would start a comment)", `a'"\`#b`],
    ["a trailing backslash and a newline", "a\nb\\"],
    ["a trailing backslash and a leading space", " abc\\"],
    ["a carriage return next to a backslash", "a\r\\"],
    ["a carriage return next to a double quote", 'a\r"'],
  ])("refuses a value with %s", (_name, value) => {
    const error = thrown(() => formatEnv([["K", value]], "dotenv"));
    expect(error.code).toBe("USAGE");
    expect(error.message).toBe("the value of K cannot be written as dotenv without changing it");
    expect(error.hint).toBe("use --format json or --format sh");
  });
});

describe("every format checks names and values", () => {
  const formats = ["sh", "fish", "powershell", "dotenv", "json"] as const;

  test.each(["", "1ABC", "A-B", "A B", "A=B", "É", "A\n", "$A", "A'"])("rejects the name %p", (name) => {
    for (const format of formats) {
      expect(thrown(() => formatEnv([[name, "v"]], format)).code).toBe("INTERNAL");
    }
    expect(thrown(() => formatGithubEnv([[name, "v"]], counter())).code).toBe("INTERNAL");
  });

  test.each(["_", "_A", "a", "A1_b2"])("accepts the name %p", (name) => {
    expect(formatEnv([[name, "v"]], "sh")).toBe(`export ${name}='v'\n`);
  });

  test("a NUL byte is a usage error in every format", () => {
    for (const format of formats) {
      const error = thrown(() => formatEnv([["K", "a\0b"]], format));
      expect(error.code).toBe("USAGE");
      expect(error.message).toBe("value of K contains a NUL byte, which no shell can hold");
    }
    expect(thrown(() => formatGithubEnv([["K", "a\0b"]], counter())).code).toBe("USAGE");
  });

  test("a lone surrogate cannot be printed as UTF-8, so only JSON accepts it", () => {
    for (const format of ["sh", "fish", "powershell", "dotenv"] as const) {
      const error = thrown(() => formatEnv([["K", "a\uD800b"]], format));
      expect(error.code).toBe("USAGE");
      expect(error.hint).toBe("use --format json");
    }
    expect(formatEnv([["K", "a\uD800b"]], "json")).toBe('{\n  "K": "a\\ud800b"\n}\n');
  });

  test("one bad pair fails the whole call before anything is written", () => {
    expect(() =>
      formatEnv(
        [
          ["GOOD", "v"],
          ["BAD-NAME", "v"],
        ],
        "sh",
      ),
    ).toThrow(AuthctlError);
  });
});

describe("formatGithubEnv", () => {
  test("writes one heredoc per variable with a fresh delimiter each", () => {
    const { masks, block } = formatGithubEnv(TWO_VARS, counter());
    expect(block).toBe(
      "OPENROUTER_API_KEY<<ghadelimiter_00000000\nsk-or-v1-abc\nghadelimiter_00000000\n" +
        "OTHER<<ghadelimiter_00000001\nit's\nghadelimiter_00000001\n",
    );
    expect(masks).toBe("::add-mask::sk-or-v1-abc\n::add-mask::it's\n");
  });

  test("masks each non-blank line once, trimmed and escaped for workflow commands", () => {
    const { masks, block } = formatGithubEnv([["K", "  first line \n\n%0A 100%\r\nfirst line\n"]], counter());
    expect(masks).toBe("::add-mask::first line\n::add-mask::%250A 100%25\n");
    expect(block).toBe(
      "K<<ghadelimiter_00000000\n  first line \n\n%0A 100%\r\nfirst line\n\nghadelimiter_00000000\n",
    );
  });

  test("an empty value gets an empty heredoc and no mask", () => {
    expect(formatGithubEnv([["K", ""]], counter())).toEqual({
      masks: "",
      block: "K<<ghadelimiter_00000000\n\nghadelimiter_00000000\n",
    });
  });

  test("nothing to write is two empty strings", () => {
    expect(formatGithubEnv([], counter())).toEqual({ masks: "", block: "" });
  });

  test("a value that contains its delimiter is an internal error", () => {
    const error = thrown(() => formatGithubEnv([["K", "x\nghadelimiter_00000000\nEVIL=1"]], counter()));
    expect(error.code).toBe("INTERNAL");
    expect(error.message).toBe("the value of K contains its GITHUB_ENV heredoc delimiter");
  });

  test("a random source that does not give hex is an internal error", () => {
    expect(thrown(() => formatGithubEnv([["K", "v"]], () => "")).code).toBe("INTERNAL");
    expect(thrown(() => formatGithubEnv([["K", "v"]], () => "ab\ncd")).code).toBe("INTERNAL");
  });
});

describe("parseEnvFormat", () => {
  test.each([...ENV_FORMATS])("accepts %s", (format) => {
    expect(parseEnvFormat(format)).toBe(format);
  });

  test.each([
    ["", ""],
    ["bash", ""],
    ["SH", "; did you mean 'sh'?"],
    [" sh", "; did you mean 'sh'?"],
    ["zsh", "; did you mean 'sh'?"],
  ])("rejects %p with the list of formats", (value, suggestion) => {
    const error = thrown(() => parseEnvFormat(value));
    expect(error.code).toBe("USAGE");
    expect(error.message).toBe(`unknown format '${value}'${suggestion}`);
    expect(error.hint).toBe("use one of: sh, fish, powershell, dotenv, json, github-env");
  });
});
