/**
 * The usual case of `env`, `token` and `exec`, answered from the texts of config.toml and
 * credentials.toml alone: named providers whose credentials sit in clear in the local store, an
 * API key or an OAuth token with no refresh due. It is what nearly every shell start-up and agent
 * launch asks, and the full path (the Deps, the context, the store's snapshot of every record, the
 * actions) costs about 1.5× the smallest Bun program on top of it (issue 18: no step dominates;
 * each of a few hundred functions costs 20-30 µs on its first call in a compiled binary).
 *
 * It decides nothing of its own. Every rule it applies is the full path's own function (the
 * config's and the store's parsers and checks, the registry, the account rules, the refresh
 * margin, the variables and the child's environment: vars.ts), and for everything else it answers
 * undefined and main.ts runs the full path from the start: a name that is not a stored plain
 * credential, a store with a key or sealed values or a record in an external backend, a refresh
 * due, a file or directory mode to tighten, a warning or an error of any kind (the full path
 * reports it, with its message and exit code), a store chosen elsewhere (etcd), no project file
 * lookup. So what it hands out is what the full path would, or nothing.
 * test/e2e/usual-case.test.ts runs every case through a binary built with it and one built
 * without it (scripts/build.ts --usual-case=off) and compares stdout, stderr and exit codes.
 */
import { configFromText } from "../config/config.ts";
import type { Env } from "../deps.ts";
import { type EnvFormat, formatEnv } from "../format/env-format.ts";
import { BUILTIN_TABLE } from "../providers/builtin-table.ts";
import { registryOver } from "../providers/catalog.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import { findRoutingProblem } from "../store/_routing-fields.ts";
import { DEFAULT_ACCOUNT, defaultAccountOf, parseAccountRef, storeKey } from "../store/accounts.ts";
import { parseCredentialsFile } from "../store/credentials-file.ts";
import { needsRefresh } from "../store/expiry.ts";
import { LOCAL_STORE_NAMES } from "../store/files.ts";
import { isSealed } from "../store/sealed.ts";
import type { Credentials, StoredCredential } from "../store/types.ts";
import { childEnvironment, collectVars, credentialSecret, credentialVars } from "./vars.ts";

export type UsualRequest =
  | { command: "env"; refs: string[]; format: Exclude<EnvFormat, "github-env"> }
  | { command: "token"; refs: [string]; minTtlMs?: number }
  | { command: "exec"; refs: string[]; argv: string[] };

export type UsualAnswer =
  | { stdout: string }
  | { exec: { command: string; argv: string[]; env: Record<string, string> } };

export interface UsualInputs {
  env: Env;
  /** AUTHCTL_HOME as resolved (config/paths.ts). */
  home: string;
  configPath: string;
  storePath: string;
  /** config.toml's text; undefined when there is none. */
  configText: string | undefined;
  storeText: string;
  now: number;
}

/** The answer, or undefined: the full path then runs from the start and says whatever there is to say. */
export function answerUsualCase(request: UsualRequest, inputs: UsualInputs): UsualAnswer | undefined {
  try {
    return answer(request, inputs);
  } catch {
    return undefined;
  }
}

function answer(request: UsualRequest, inputs: UsualInputs): UsualAnswer | undefined {
  const { env } = inputs;
  if (request.command === "exec" && env.AUTHCTL_EXEC_MODE === "spawn") return undefined;
  const config =
    inputs.configText === undefined
      ? { path: inputs.configPath, providers: {} }
      : configFromText(inputs.configPath, inputs.configText);
  if (config.warnings?.length) return undefined;
  // compose.ts: AUTHCTL_STORE wins over `store`, and either may name a whole store (etcd).
  const storeName = env.AUTHCTL_STORE || config.store;
  if (storeName !== undefined && !LOCAL_STORE_NAMES.includes(storeName)) return undefined;
  const document = parseCredentialsFile(inputs.storeText, inputs.storePath);
  // A store with a key (format 2, key parameters, a sealed value anywhere) opens through the
  // sealing code; a top-level value this authctl does not know may be a newer one's.
  if (document.version !== 1 || Object.keys(document.preserved).length > 0) return undefined;
  const { credentials } = document;
  for (const raw of Object.values(credentials)) if (hasSealedValue(raw)) return undefined;

  // The built-in providers as data (builtin-table.ts): the same registry without the provider files.
  const registry = registryOver(config, BUILTIN_TABLE);
  const targets: Array<{ provider: ProviderDefinition; key: string }> = [];
  for (const ref of new Set(request.refs)) {
    const parsed = parseAccountRef(ref);
    const provider = registry.require(parsed.provider);
    const account = parsed.account ?? defaultAccountOf(credentials, provider.id) ?? DEFAULT_ACCOUNT;
    const key = storeKey(provider.id, account);
    // env.ts oneAccountPerProvider: the same account twice counts once; two accounts of one
    // provider are a usage error.
    const seen = targets.find((target) => target.provider.id === provider.id);
    if (seen && seen.key !== key) return undefined;
    if (!seen) targets.push({ provider, key });
  }

  const resolved: Array<{
    provider: ProviderDefinition;
    credential: StoredCredential;
    vars: Array<[string, string]>;
  }> = [];
  for (const { provider, key } of targets) {
    const credential = plainCredential(credentials, key, inputs.now, request);
    if (!credential) return undefined;
    resolved.push({ provider, credential, vars: credentialVars(provider, credential) });
  }

  if (request.command === "env") return { stdout: formatEnv(collectVars(resolved), request.format) };
  if (request.command === "token") return { stdout: `${credentialSecret(resolved[0]!.credential)}\n` };
  const [command, ...args] = request.argv;
  if (!command) return undefined;
  return { exec: { command, argv: [command, ...args], env: childEnvironment(env, resolved).child } };
}

/**
 * The record under `key` when it is a credential kept in clear in credentials.toml that can be
 * handed out as it is: no external backend's marker or MAC, routing fields that hold up
 * (_records.ts openRecord), a secret, and for OAuth no login to renew and no refresh due
 * (resolve.ts ensureFresh).
 */
function plainCredential(
  credentials: Credentials,
  key: string,
  now: number,
  request: UsualRequest,
): StoredCredential | undefined {
  const raw = Object.hasOwn(credentials, key) ? credentials[key] : undefined;
  if (!raw) return undefined;
  const record = raw as unknown as Record<string, unknown>;
  if (record.secret_store !== undefined || record.mac !== undefined) return undefined;
  if (findRoutingProblem(raw)) return undefined;
  if (!credentialSecret(raw)) return undefined;
  if (raw.type === "oauth") {
    const minTtlMs = request.command === "token" ? request.minTtlMs : undefined;
    if (raw.needs_login || needsRefresh(raw, now, minTtlMs)) return undefined;
  }
  return raw;
}

/** A sealed value anywhere in a record (its fields, or `extra`): the store then has a key. */
function hasSealedValue(raw: StoredCredential): boolean {
  for (const value of Object.values(raw)) if (isSealed(value)) return true;
  for (const value of Object.values(raw.extra ?? {})) if (isSealed(value)) return true;
  return false;
}
