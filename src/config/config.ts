import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse, TomlError } from "smol-toml";
import { didYouMean } from "../did-you-mean.ts";
import { AuthctlError } from "../errors.ts";
import { assertTrusted } from "../store/trust.ts";

/**
 * config.toml: settings and provider overrides, never secrets. Read on every command (it decides
 * which providers exist), so it stays a plain sync read of one small file.
 */
export interface ProviderOverrides {
  name?: string;
  api_url?: string;
  authorize_url?: string;
  token_url?: string;
  device_authorization_url?: string;
  revocation_url?: string;
  issuer?: string;
  client_id?: string;
  client_secret?: string;
  scopes?: string[];
  redirect_port?: number;
  redirect_path?: string;
  redirect_host?: string;
  /** Regional providers (minimax, moonshot, dashscope): the region tried first, e.g. "cn". */
  region?: string;
  /** Regional providers: region → API base URL (proxies, tests). */
  api_urls?: Record<string, string>;
  /** Replaces the URL the key check calls. */
  validation_url?: string;
  env?: Record<string, string>;
  [key: string]: unknown;
}

export interface Config {
  path: string;
  store?: string;
  providers: Record<string, ProviderOverrides>;
  /** Keys authctl does not know (typos, most likely): ignored, and each one said once on stderr. */
  warnings?: string[];
}

/** Top-level keys; a new setting or table must be added here or it is reported as unknown. */
const TOP_LEVEL_KEYS = ["store", "providers"];
/** Keys whose value is a URL: checked when the file is read, not when a login first uses them. */
const URL_KEYS = [
  "api_url",
  "authorize_url",
  "token_url",
  "device_authorization_url",
  "revocation_url",
  "issuer",
  "validation_url",
];

const STRING_KEYS = [
  "name",
  "api_url",
  "authorize_url",
  "token_url",
  "device_authorization_url",
  "revocation_url",
  "issuer",
  "client_id",
  "client_secret",
  "redirect_path",
  "redirect_host",
  "region",
  "validation_url",
] as const;

export function loadConfig(home: string): Config {
  const path = join(home, "config.toml");
  // Settings decide where keys are sent: another user's (or a world-writable) file is not taken.
  assertTrusted(home, "authctl's directory");
  assertTrusted(path, "config.toml");
  let text: string;
  try {
    // No config.toml is the usual case: answered without an exception (see statOrUndefined in
    // store/trust.ts). A file that goes away before the read still ends up in ENOENT below.
    if (!statSync(path, { throwIfNoEntry: false })) return { path, providers: {} };
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { path, providers: {} };
    throw new AuthctlError("CONFIG_INVALID", `cannot read ${path}: ${(error as Error).message}`);
  }
  let data: Record<string, unknown>;
  try {
    data = parse(text) as Record<string, unknown>;
  } catch (error) {
    const where = error instanceof TomlError ? ` (line ${error.line}, column ${error.column})` : "";
    const reason = String((error as Error).message).split("\n")[0];
    throw new AuthctlError("CONFIG_INVALID", `${path} does not parse${where}: ${reason}`, {
      hint: "fix the file, or move it aside to use the defaults",
    });
  }
  return validateConfig(path, data);
}

const PROVIDER_KEYS: readonly string[] = [...STRING_KEYS, "scopes", "redirect_port", "api_urls", "env"];

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "https:" || url.protocol === "http:") && url.hostname !== "";
  } catch {
    return false;
  }
}

function validateConfig(path: string, data: Record<string, unknown>): Config {
  const fail = (what: string) =>
    new AuthctlError("CONFIG_INVALID", `${path}: ${what}`, {
      hint: "fix the file, or move it aside to use the defaults",
    });
  const config: Config = { path, providers: {}, warnings: [] };
  const unknown = (key: string, known: readonly string[], table?: string) => {
    const guess = didYouMean(key, known);
    config.warnings!.push(
      `${path}: unknown key '${key}'${table ? ` in [${table}]` : ""} is ignored${guess ? `; ${guess}` : ""}`,
    );
  };
  for (const key of Object.keys(data)) if (!TOP_LEVEL_KEYS.includes(key)) unknown(key, TOP_LEVEL_KEYS);
  if (data.store !== undefined) {
    if (typeof data.store !== "string") throw fail("`store` must be a string");
    config.store = data.store;
  }
  const providers = data.providers ?? {};
  if (typeof providers !== "object" || providers === null || Array.isArray(providers)) {
    throw fail("[providers] must be a table");
  }
  for (const [id, raw] of Object.entries(providers as Record<string, unknown>)) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(id))
      throw fail(`provider id '${id}' must be lower-case letters, digits and dashes`);
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      throw fail(`[providers.${id}] must be a table`);
    const entry = raw as Record<string, unknown>;
    for (const key of STRING_KEYS) {
      if (entry[key] !== undefined && typeof entry[key] !== "string")
        throw fail(`providers.${id}.${key} must be a string`);
    }
    for (const key of Object.keys(entry))
      if (!PROVIDER_KEYS.includes(key)) unknown(key, PROVIDER_KEYS, `providers.${id}`);
    for (const key of URL_KEYS) {
      if (entry[key] !== undefined && !isHttpUrl(entry[key] as string)) {
        throw fail(
          `[providers.${id}] ${key} = ${JSON.stringify(entry[key])} is not an http:// or https:// URL`,
        );
      }
    }
    if (
      entry.scopes !== undefined &&
      !(Array.isArray(entry.scopes) && entry.scopes.every((s) => typeof s === "string"))
    ) {
      throw fail(`providers.${id}.scopes must be a list of strings`);
    }
    if (entry.redirect_port !== undefined) {
      const port = Number(entry.redirect_port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw fail(`providers.${id}.redirect_port must be a port number`);
      entry.redirect_port = port;
    }
    if (
      entry.redirect_host !== undefined &&
      entry.redirect_host !== "127.0.0.1" &&
      entry.redirect_host !== "localhost"
    ) {
      throw fail(`providers.${id}.redirect_host must be "127.0.0.1" or "localhost"`);
    }
    if (entry.api_urls !== undefined) {
      const urls = entry.api_urls;
      if (
        typeof urls !== "object" ||
        urls === null ||
        Array.isArray(urls) ||
        !Object.values(urls).every((url) => typeof url === "string")
      ) {
        throw fail(`providers.${id}.api_urls must be a table of region = "url"`);
      }
      for (const [region, url] of Object.entries(urls as Record<string, string>)) {
        if (!isHttpUrl(url))
          throw fail(
            `[providers.${id}.api_urls] ${region} = ${JSON.stringify(url)} is not an http:// or https:// URL`,
          );
      }
    }
    if (entry.env !== undefined) {
      if (typeof entry.env !== "object" || entry.env === null || Array.isArray(entry.env))
        throw fail(`providers.${id}.env must be a table`);
      for (const [name, field] of Object.entries(entry.env as Record<string, unknown>)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
          throw fail(`providers.${id}.env: '${name}' is not a variable name`);
        if (typeof field !== "string") throw fail(`providers.${id}.env.${name} must name a credential field`);
      }
    }
    config.providers[id] = entry as ProviderOverrides;
  }
  return config;
}
