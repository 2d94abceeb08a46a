import { describe, expect, test } from "bun:test";
import {
  isAccountName,
  isAuthctlSecretName,
  isEnvVarName,
  isProviderKey,
  isProviderName,
  namesUtf8,
} from "../../src/names.ts";

// src/names.ts replaces regular expressions on the hot path (issue 18): each check must answer
// exactly as its expression does. Random strings over an alphabet of the characters that matter
// (and a few that must not), plus hand-picked edge cases.
function* strings(alphabet: string[], count: number, maxLength: number, seed: number): Generator<string> {
  // xorshift32: the same strings on every run.
  let state = seed | 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  for (let n = 0; n < count; n++) {
    let out = "";
    const length = next() % (maxLength + 1);
    for (let i = 0; i < length; i++) out += alphabet[next() % alphabet.length];
    yield out;
  }
}

const CASES: Array<[string, (text: string) => boolean, RegExp, string[], string[]]> = [
  [
    "isEnvVarName",
    isEnvVarName,
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    ["a", "Z", "_", "0", "9", "-", " ", "=", "é", "\n", "$"],
    ["", "_", "A1", "1A", "OPENAI_API_KEY", "A\n", "Ä", "A-B"],
  ],
  [
    "isProviderName",
    isProviderName,
    /^[a-z0-9][a-z0-9-]*$/,
    ["a", "z", "0", "9", "-", "_", "A", "@", ".", "\n"],
    ["", "-", "a-", "-a", "openrouter", "open_router", "Open", "a\n"],
  ],
  [
    "isAccountName",
    isAccountName,
    /^[a-z0-9_-]{1,32}$/,
    ["a", "z", "0", "_", "-", "A", "@", "."],
    ["", "_", "-", "a".repeat(32), "a".repeat(33), "work", "Work"],
  ],
  [
    "isProviderKey",
    isProviderKey,
    /^[a-z0-9][a-z0-9-]*(@[a-z0-9_-]{1,32})?$/,
    ["a", "0", "-", "_", "@", "A", "."],
    ["", "a@", "@a", "a@b", "a@b@c", `a@${"b".repeat(32)}`, `a@${"b".repeat(33)}`, "openrouter@work_1"],
  ],
  [
    "namesUtf8",
    namesUtf8,
    /utf-?8/i,
    ["utf", "UTF", "uTf", "u", "T", "f", "-", "8", ".", "_", "5", "F"],
    ["", "C", "C.UTF-8", "en_US.utf8", "en_US.UTF8", "utf--8", "utf-", "UTF", "xutf-8x", "ütf8"],
  ],
  [
    "isAuthctlSecretName",
    isAuthctlSecretName,
    /^AUTHCTL_(\w+_)?(PASSPHRASE|PASSWORD|SECRET|KEY|TOKEN)(_\w+)?$/,
    ["AUTHCTL_", "KEY", "TOKEN", "SECRET", "PASSWORD", "PASSPHRASE", "_", "X", "1", "-", "KE", "Y"],
    [
      "AUTHCTL_KEY",
      "AUTHCTL_PASSPHRASE",
      "AUTHCTL_ETCD_KEY",
      "AUTHCTL_ETCD_PASSWORD",
      "AUTHCTL_KEY_FILE",
      "AUTHCTL_KEY_",
      "AUTHCTL__KEY",
      "AUTHCTL_X_KEY",
      "AUTHCTL_XKEY",
      "AUTHCTL_KEYS",
      "AUTHCTL_HOME",
      "AUTHCTL_STORE",
      "AUTHCTL_",
      "AUTHCTL_KEY-X",
      "AUTHCTL_KEY_KEY",
      "XAUTHCTL_KEY",
      "AUTHCTL_MY_TOKEN_2",
    ],
  ],
];

describe("hot-path name checks answer as their regular expressions", () => {
  for (const [name, check, expression, alphabet, picked] of CASES) {
    test(name, () => {
      const wrong: string[] = [];
      let matched = 0;
      for (const text of [...picked, ...strings(alphabet, 20_000, 12, name.length)]) {
        if (expression.test(text)) matched++;
        if (check(text) !== expression.test(text)) wrong.push(JSON.stringify(text));
      }
      expect(wrong).toEqual([]);
      // Both answers are exercised, not only "no".
      expect(matched).toBeGreaterThan(50);
    });
  }
});
