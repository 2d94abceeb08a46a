import type { Ui } from "../deps.ts";
import { redact } from "../redact.ts";

/**
 * People's output, on stderr, always redacted. Deliberately not consola: this runs on the hot
 * path (a warning from `env` about file modes) and must not pay for a logging library.
 */
export function createUi(write: (text: string) => void, options: { color: boolean }): Ui {
  const paint = (code: string, text: string) => (options.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const emit = (prefix: string, message: string) => write(`${prefix}${redact(message)}\n`);
  return {
    info: (m) => emit(paint("36", "•") + " ", m),
    success: (m) => emit(paint("32", "✓") + " ", m),
    warn: (m) => emit(paint("33", "!") + " ", m),
    error: (m) => emit(paint("31", "✗") + " ", m),
    line: (m) => emit("", m),
  };
}

export function wantsColor(env: Record<string, string | undefined>, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
  return isTTY && env.TERM !== "dumb";
}
