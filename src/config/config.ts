import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from "../lazy-fs.ts";
import { join } from "../lazy-path.ts";
import { didYouMean } from "../did-you-mean.ts";
import { AuthctlError } from "../errors.ts";
import { isProviderName } from "../names.ts";
import { parseToml, tomlErrorOf } from "../plain-toml.ts";
import { CONFIG_READ, readQuickly, USE_NODE_FS } from "../store/quick-read.ts";
import { assertTrusted } from "../store/trust.ts";

import { CONFIG_FILE } from "../store/files.ts";

/** config.toml, in AUTHCTL_HOME. */
export { CONFIG_FILE };

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

/** `[etcd]`: the team store (store/etcd/). Secrets never appear here: the password and seal key come from the environment or a file. */
export interface EtcdConfig {
  endpoints: string[];
  prefix: string;
  username?: string;
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  seal_key_file?: string;
  /** Seconds a refresh lock lives without renewal: a machine that dies holding it releases it after this. */
  lock_ttl: number;
  /** Seconds one request may take over all endpoints before the cluster is reported unreachable. */
  timeout: number;
}

export interface Config {
  path: string;
  store?: string;
  etcd?: EtcdConfig;
  providers: Record<string, ProviderOverrides>;
  /** Keys authctl does not know (typos, most likely): ignored, and each one said once on stderr. */
  warnings?: string[];
}

/** Top-level keys; a new setting or table must be added here or it is reported as unknown. */
const TOP_LEVEL_KEYS = ["store", "providers", "etcd"];
const ETCD_KEYS = [
  "endpoints",
  "prefix",
  "username",
  "ca_file",
  "cert_file",
  "key_file",
  "seal_key_file",
  "lock_ttl",
  "timeout",
];
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
  const path = join(home, CONFIG_FILE);
  // Settings decide where keys are sent: another user's (or a world-writable) file is not taken.
  assertTrusted(home, "authctl's directory", "directory");
  assertTrusted(path, "config.toml");
  let text: string;
  let fd: number;
  try {
    // No config.toml is the usual case: answered without an exception (see statOrUndefined in
    // store/trust.ts). A file that goes away before the read still ends up in ENOENT below.
    if (!statSync(path, { throwIfNoEntry: false })) return { path, providers: {} };
    // Non-blocking, and the descriptor checked: a FIFO in config.toml's place hung every command,
    // `status` and `--help` included (as file-store.ts reads the store).
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { path, providers: {} };
    throw new AuthctlError("CONFIG_INVALID", `cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    if (!fstatSync(fd).isFile())
      throw new AuthctlError("CONFIG_INVALID", `${path} is not a regular file`, {
        hint: `move it aside (authctl will not use it): mv ${path} ${path}.moved`,
      });
    text = readFileSync(fd, "utf8");
  } catch (error) {
    if (error instanceof AuthctlError) throw error;
    throw new AuthctlError("CONFIG_INVALID", `cannot read ${path}: ${(error as Error).message}`);
  } finally {
    closeSync(fd);
  }
  return configFromText(path, text);
}

/**
 * loadConfig without node:fs in the usual case (store/quick-read.ts: no config.toml, or one of
 * this user's that others cannot write), for `env`, `token` and `exec`; loadConfig does the rest.
 */
export async function loadConfigQuickly(home: string): Promise<Config> {
  const path = join(home, CONFIG_FILE);
  // readFileSync(path, "utf8") keeps a byte-order mark, and replaces bytes that are not UTF-8.
  const read = await readQuickly(home, path, CONFIG_READ);
  if (read === USE_NODE_FS) return loadConfig(home);
  if (read.text === undefined) return { path, providers: {} };
  return configFromText(path, read.text);
}

/** config.toml's text, parsed and checked (the path names it in messages). */
export function configFromText(path: string, text: string): Config {
  let data: Record<string, unknown>;
  try {
    // A plain file is read without smol-toml's parser (src/plain-toml.ts).
    data = parseToml(text);
  } catch (error) {
    const tomlError = tomlErrorOf(error);
    const where = tomlError ? ` (line ${tomlError.line}, column ${tomlError.column})` : "";
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
  if (data.etcd !== undefined) config.etcd = validateEtcd(data.etcd, fail, unknown);
  const providers = data.providers ?? {};
  if (typeof providers !== "object" || providers === null || Array.isArray(providers)) {
    throw fail("[providers] must be a table");
  }
  for (const [id, raw] of Object.entries(providers as Record<string, unknown>)) {
    if (!isProviderName(id)) throw fail(`provider id '${id}' must be lower-case letters, digits and dashes`);
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

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** `[etcd]`: every problem names the key. http is for loopback only: anything else would carry the etcd password and sealed records in clear. */
function validateEtcd(
  raw: unknown,
  fail: (what: string) => AuthctlError,
  unknown: (key: string, known: readonly string[], table?: string) => void,
): EtcdConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw fail("[etcd] must be a table");
  const entry = raw as Record<string, unknown>;
  for (const key of Object.keys(entry)) if (!ETCD_KEYS.includes(key)) unknown(key, ETCD_KEYS, "etcd");
  const endpoints = entry.endpoints;
  if (!Array.isArray(endpoints) || endpoints.length === 0 || !endpoints.every((e) => typeof e === "string"))
    throw fail('etcd.endpoints must be a list of URLs, e.g. ["https://etcd-1:2379"]');
  for (const endpoint of endpoints as string[]) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw fail(`etcd.endpoints: ${JSON.stringify(endpoint)} is not a URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:")
      throw fail(`etcd.endpoints: ${JSON.stringify(endpoint)} is not an http:// or https:// URL`);
    if (url.protocol === "http:" && !isLoopbackHost(url.hostname))
      throw fail(`etcd.endpoints: ${JSON.stringify(endpoint)} is http but not loopback; use https`);
    if (url.pathname !== "/" || url.search || url.username)
      throw fail(`etcd.endpoints: ${JSON.stringify(endpoint)} must be scheme://host:port only`);
  }
  for (const key of ["prefix", "username", "ca_file", "cert_file", "key_file", "seal_key_file"]) {
    if (entry[key] !== undefined && (typeof entry[key] !== "string" || entry[key] === ""))
      throw fail(`etcd.${key} must be a non-empty string`);
  }
  if ((entry.cert_file === undefined) !== (entry.key_file === undefined))
    throw fail("etcd.cert_file and etcd.key_file go together (a client certificate and its key)");
  const seconds = (key: string, fallback: number, min: number, max: number) => {
    const value = entry[key];
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max)
      throw fail(`etcd.${key} must be a number of seconds from ${min} to ${max}`);
    return value;
  };
  return {
    endpoints: (endpoints as string[]).map((e) => e.replace(/\/$/, "")),
    prefix: (entry.prefix as string | undefined) ?? "/authctl/",
    username: entry.username as string | undefined,
    ca_file: entry.ca_file as string | undefined,
    cert_file: entry.cert_file as string | undefined,
    key_file: entry.key_file as string | undefined,
    seal_key_file: entry.seal_key_file as string | undefined,
    // etcd refuses leases shorter than about 1.5 election timeouts; 2 s is the floor here.
    lock_ttl: Math.round(seconds("lock_ttl", 15, 2, 300)),
    timeout: seconds("timeout", 10, 1, 120),
  };
}
