import { AuthctlError } from "../errors.ts";
import { didYouMean } from "../did-you-mean.ts";
import { isEnvVarName } from "../names.ts";

/**
 * Turns `[name, value]` pairs into text another program reads back byte for byte: a shell that
 * evals or sources it, a dotenv parser, a JSON reader, or the GitHub Actions runner. Every writer
 * here refuses a value it cannot carry unchanged rather than print something close to it, because
 * a silently altered credential fails later, far away, and looks like the provider's fault.
 */

export const ENV_FORMATS = ["sh", "fish", "powershell", "dotenv", "json", "github-env"] as const;
export type EnvFormat = (typeof ENV_FORMATS)[number];
export type EnvVars = ReadonlyArray<readonly [string, string]>;

export function parseEnvFormat(value: string): EnvFormat {
  const format = ENV_FORMATS.find((candidate) => candidate === value);
  if (format === undefined) {
    const guess = didYouMean(value, ENV_FORMATS);
    throw new AuthctlError("USAGE", `unknown format '${value}'${guess ? `; ${guess}` : ""}`, {
      hint: `use one of: ${ENV_FORMATS.join(", ")}`,
    });
  }
  return format;
}

/** Returns the text for stdout; it ends with "\n" unless there is nothing to print. */
export function formatEnv(vars: EnvVars, format: Exclude<EnvFormat, "github-env">): string {
  for (const [name, value] of vars) checkVar(name, value, format);
  if (format === "json") return `${JSON.stringify(Object.fromEntries(vars), null, 2)}\n`;
  const writeLine = LINE_WRITERS[format];
  return vars.map(([name, value]) => `${writeLine(name, value)}\n`).join("");
}

const LINE_WRITERS: Record<"sh" | "fish" | "powershell" | "dotenv", (name: string, value: string) => string> =
  {
    // POSIX single quotes have no escapes at all, so a quote is written by closing the string,
    // adding an escaped quote and reopening it. Every other byte, newlines included, stays literal;
    // the round-trip test checks bash, dash, zsh and busybox sh, and ksh follows the same POSIX rule.
    sh: (name, value) => `export ${name}='${value.replaceAll("'", `'\\''`)}'`,
    // Inside fish single quotes exactly two escapes exist, `\\` and `\'`; anything else, newlines
    // included, is literal.
    fish: (name, value) => `set -gx ${name} '${value.replace(/[\\']/g, "\\$&")}'`,
    // PowerShell ends a single-quoted string at any of five quote characters (its tokenizer's
    // IsSingleQuote), not only U+0027, and reads a doubled one as that character.
    powershell: (name, value) => `$env:${name} = '${value.replace(/['\u2018\u2019\u201A\u201B]/g, "$&$&")}'`,
    dotenv: (name, value) => `${name}=${quoteDotenv(name, value)}`,
  };

/**
 * Written for npm `dotenv`'s `parse` (both its default regex parser and its `fast` one), whose
 * quoted forms have no escapes except `\n` and `\r` inside double quotes. The first form that
 * reads back unchanged wins: single quotes, double quotes, backticks, then no quotes at all.
 */
function quoteDotenv(name: string, value: string): string {
  // dotenv rewrites every CR (alone or before LF) to LF before it looks at quotes, so a raw CR
  // never survives. The escape `\r` inside double quotes is the one way back to a CR; it is
  // unambiguous only while the value itself has no backslash.
  if (value.includes("\r")) {
    if (!/["\\]/.test(value)) return `"${value.replaceAll("\r", "\\r")}"`;
    throw cannotWriteDotenv(name);
  }
  // dotenv's line pattern accepts a backslash-escaped quote inside every quoted form. A value
  // ending in a backslash therefore ends in what looks like an escaped closing quote, and the
  // match can run on into the following variables: such a value is written bare, or not at all.
  if (!value.endsWith("\\")) {
    if (!value.includes("'")) return `'${value}'`;
    // Double-quoted values expand `\n` and `\r`, so they are raw only while there is no backslash.
    if (!/["\\]/.test(value)) return `"${value}"`;
    if (!value.includes("`")) return `\`${value}\``;
  }
  if (isBareDotenv(value)) return value;
  throw cannotWriteDotenv(name);
}

/**
 * A bare value is the rest of the line up to a `#`, trimmed (String.prototype.trim's whitespace in
 * the regex parser, the same set in the fast one), with one pair of matching outer quotes removed;
 * nothing inside it is an escape and `$` is not expanded (that is dotenv-expand, a separate
 * package). The fast parser also ends a line at U+2028 and U+2029.
 */
function isBareDotenv(value: string): boolean {
  return value !== "" && !/[\n\r\u2028\u2029#]/.test(value) && !/^[\s'"`]|\s$/.test(value);
}

function cannotWriteDotenv(name: string): AuthctlError {
  return new AuthctlError("USAGE", `the value of ${name} cannot be written as dotenv without changing it`, {
    hint: "use --format json or --format sh",
  });
}

/**
 * GitHub Actions environment file (`$GITHUB_ENV`). `masks` goes to stdout before anything else
 * can print the values: the runner logs file-command values in debug mode, and it masks only what
 * an `::add-mask::` has named. `block` is appended to the file. `constants` maps variables to the
 * fixed value provider data gives them (GOOGLE_GENAI_USE_GCA=true): such a value is not masked, as
 * it holds nothing secret and its mask would hide every `true` in the rest of the job's log.
 */
export function formatGithubEnv(
  vars: EnvVars,
  randomHex: () => string,
  constants: ReadonlyMap<string, string> = new Map(),
): { masks: string; block: string } {
  const masks = new Set<string>();
  let block = "";
  for (const [name, value] of vars) {
    checkVar(name, value, "github-env");
    // A fresh random delimiter per variable, as @actions/core does, so a value cannot be crafted
    // to close the heredoc early and inject further variables (for example NODE_OPTIONS).
    const suffix = randomHex();
    if (!/^[0-9a-f]+$/i.test(suffix)) {
      throw new AuthctlError("INTERNAL", "the heredoc delimiter for GITHUB_ENV is not a hex string");
    }
    const delimiter = `ghadelimiter_${suffix}`;
    if (value.includes(delimiter)) {
      throw new AuthctlError("INTERNAL", `the value of ${name} contains its GITHUB_ENV heredoc delimiter`);
    }
    // The Linux runner cuts the file at LF only and returns the raw text between the header and
    // the delimiter line, so CR survives. A Windows runner also accepts CRLF as a line end, so
    // there a value ending in CR would lose it; such a value is not a credential anyone has.
    block += `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
    // The runner masks text line by line as a step's output reaches the log, so each line of a
    // multi-line value must be its own mask. Trimming masks a superset, and a blank line cannot be
    // masked (the runner answers it with a warning).
    if (constants.get(name) === value) continue;
    for (const line of value.split(/\r\n|\r|\n/)) {
      const trimmed = line.trim();
      if (trimmed !== "") masks.add(`::add-mask::${escapeCommandData(trimmed)}\n`);
    }
  }
  return { masks: [...masks].join(""), block };
}

/** The runner unescapes `%0D`, `%0A` and `%25` in command data (ActionCommand.UnescapeData). */
function escapeCommandData(text: string): string {
  return text.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

function checkVar(name: string, value: string, format: EnvFormat): void {
  // The portable POSIX name set: every target shell accepts it, and it can never carry quotes,
  // `=`, `<<` or spaces into the line we print.
  if (!isEnvVarName(name)) {
    throw new AuthctlError("INTERNAL", `invalid environment variable name ${JSON.stringify(name)}`);
  }
  // Environment variables are C strings: the first NUL would silently end the value.
  if (value.includes("\0")) {
    throw new AuthctlError("USAGE", `value of ${name} contains a NUL byte, which no shell can hold`);
  }
  // A lone UTF-16 surrogate has no UTF-8 encoding; stdout would carry U+FFFD instead. JSON alone
  // can spell it (as a \ud800-style escape).
  if (format !== "json" && !value.isWellFormed()) {
    throw new AuthctlError("USAGE", `value of ${name} is not valid Unicode text`, {
      hint: "use --format json",
    });
  }
}
