/**
 * The name checks `env`, `token` and `exec` make on every run, as loops over char codes rather
 * than regular expressions: a compiled binary that runs none never touches the regex engine,
 * about 1 MiB of its peak memory (issue 18, scripts/bench.ts). Each function names the expression
 * it is; test/unit/names.test.ts holds every one to its expression over generated strings.
 */

const isLower = (c: number) => c >= 97 && c <= 122;
const isUpper = (c: number) => c >= 65 && c <= 90;
const isDigit = (c: number) => c >= 48 && c <= 57;
const UNDERSCORE = 95;
const DASH = 45;

/** `/^[A-Za-z_][A-Za-z0-9_]*$/`: the portable POSIX variable name. */
export function isEnvVarName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!(isUpper(c) || isLower(c) || c === UNDERSCORE || (i > 0 && isDigit(c)))) return false;
  }
  return true;
}

/** `/^[a-z0-9][a-z0-9-]*$/`: a provider id (of `text` from `from` to `to`). */
export function isProviderName(text: string, from = 0, to = text.length): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (!(isLower(c) || isDigit(c) || (i > from && c === DASH))) return false;
  }
  return true;
}

/** `/^[a-z0-9_-]{1,32}$/`: an account name (of `text` from `from` to its end). */
export function isAccountName(text: string, from = 0): boolean {
  const length = text.length - from;
  if (length < 1 || length > 32) return false;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!(isLower(c) || isDigit(c) || c === UNDERSCORE || c === DASH)) return false;
  }
  return true;
}

/** `/^[a-z0-9][a-z0-9-]*(@[a-z0-9_-]{1,32})?$/`: a provider id, and `@<account>` after it. */
export function isProviderKey(text: string): boolean {
  const at = text.indexOf("@");
  return at < 0 ? isProviderName(text) : isProviderName(text, 0, at) && isAccountName(text, at + 1);
}

/** `/utf-?8/i`: a locale that names UTF-8 (letters compared as ASCII, as `i` does outside Unicode mode). */
export function namesUtf8(locale: string): boolean {
  for (let i = 0; i + 4 <= locale.length; i++) {
    if ((locale.charCodeAt(i) | 0x20) !== 117 /* u */) continue;
    if ((locale.charCodeAt(i + 1) | 0x20) !== 116 /* t */) continue;
    if ((locale.charCodeAt(i + 2) | 0x20) !== 102 /* f */) continue;
    const next = locale.charCodeAt(i + 3);
    if (next === 56 /* 8 */ || (next === DASH && locale.charCodeAt(i + 4) === 56)) return true;
  }
  return false;
}

const SECRET_WORDS = ["PASSPHRASE", "PASSWORD", "SECRET", "KEY", "TOKEN"];

/**
 * `/^AUTHCTL_(\w+_)?(PASSPHRASE|PASSWORD|SECRET|KEY|TOKEN)(_\w+)?$/`: after `AUTHCTL_`, only word
 * characters, and one of the words either first or after `<something>_`, and either last or
 * followed by `_<something>`.
 */
export function isAuthctlSecretName(name: string): boolean {
  if (!name.startsWith("AUTHCTL_")) return false;
  const rest = name.slice("AUTHCTL_".length);
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (!(isUpper(c) || isLower(c) || isDigit(c) || c === UNDERSCORE)) return false;
  }
  for (const word of SECRET_WORDS) {
    for (let at = rest.indexOf(word); at >= 0; at = rest.indexOf(word, at + 1)) {
      const end = at + word.length;
      const before = at === 0 || (at >= 2 && rest.charCodeAt(at - 1) === UNDERSCORE);
      const after = end === rest.length || (rest.charCodeAt(end) === UNDERSCORE && end + 1 < rest.length);
      if (before && after) return true;
    }
  }
  return false;
}
