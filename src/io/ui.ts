import type { Ui } from "../deps.ts";
import { namesUtf8 } from "../names.ts";
import { redact } from "../redact.ts";
import { terminalLines } from "../format/terminal-text.ts";

export interface UiOptions {
  /** Colour on stderr (see wantsColor). */
  color: boolean;
  /** The locale can show ✓, →, — and …; otherwise they become ASCII (see wantsUnicode). */
  unicode: boolean;
}

/**
 * People's output, always redacted: notices on stderr, and a command's human-readable result on
 * stdout (`status`, `providers`). Deliberately not consola: this runs on the hot path (a warning
 * from `env` about file modes) and must not pay for a logging library.
 */
export function createUi(
  writeStderr: (text: string) => void,
  writeStdout: (text: string) => void,
  options: UiOptions,
): Ui {
  const paint = (code: string, text: string) => (options.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const glyphs = (text: string) => (options.unicode ? text : asciiFallback(text));
  // Controls are stripped before redaction: an escape sequence inside a key would hide it from
  // redact() and then vanish, leaving the key whole on the screen.
  const emit = (prefix: string, message: string) =>
    writeStderr(glyphs(`${prefix}${redact(terminalLines(message))}\n`));
  return {
    info: (m) => emit(paint("36", "•") + " ", m),
    success: (m) => emit(paint("32", "✓") + " ", m),
    warn: (m) => emit(paint("33", "!") + " ", m),
    error: (m) => emit(paint("31", "✗") + " ", m),
    line: (m) => emit("", m),
    result: (m) => writeStdout(glyphs(`${redact(terminalLines(m))}\n`)),
    glyphs,
  };
}

/**
 * Colour only on a terminal. NO_COLOR (no-color.org) and TERM=dumb turn it off; FORCE_COLOR turns
 * it on even into a pipe, except FORCE_COLOR=0 or false, which means off (as Node and
 * supports-color read it).
 */
export function wantsColor(env: Record<string, string | undefined>, isTTY: boolean): boolean {
  const force = env.FORCE_COLOR;
  if (force === "0" || force === "false") return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (force !== undefined && force !== "") return true;
  return isTTY && env.TERM !== "dumb";
}

/**
 * Whether the terminal's character set can show ✓ → — …: the first of LC_ALL, LC_CTYPE and LANG
 * that is set names it (POSIX locale precedence). No locale at all (`env -i`, cron, some service
 * managers) is the "C" locale: ASCII. Windows terminals draw Unicode whatever the environment says.
 */
export function wantsUnicode(env: Record<string, string | undefined>, platform: string): boolean {
  if (platform === "win32") return true;
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || "";
  return namesUtf8(locale);
}

const ASCII: Record<string, string> = {
  "✓": "+",
  "✗": "x",
  "•": "*",
  "·": "-",
  "→": "->",
  "←": "<-",
  "—": "-",
  "–": "-",
  "…": "...",
  "‘": "'",
  "’": "'",
  "“": '"',
  "”": '"',
  "≥": ">=",
  "≤": "<=",
  "×": "x",
};
/** Built on first use: constructing a RegExp compiles it, and most runs never need it (src/names.ts). */
let asciiPattern: RegExp | undefined;

/** authctl's own symbols in ASCII, for a locale that cannot show them. Other text is left alone. */
export function asciiFallback(text: string): string {
  asciiPattern ??= new RegExp(`[${Object.keys(ASCII).join("")}]`, "g");
  return text.replace(asciiPattern, (glyph) => ASCII[glyph]!);
}
