/**
 * The usual case of `env`, `token` and `exec`, answered from the texts of config.toml and
 * credentials.toml alone (and the key file, below): named providers (or, with none named and no
 * project file found, every stored one) whose credentials sit in clear in the local store, an API key or an OAuth token with no refresh due. It is what nearly
 * every shell start-up and agent launch asks, and the full path (the Deps, the context, the
 * store's snapshot of every record, the actions) costs about 1.5× the smallest Bun program on top
 * of it (issue 18: no step dominates; each of a few hundred functions costs 20-30 µs on its first
 * call in a compiled binary).
 *
 * A store sealed with its key file (format 2, or format 1 with a key) is opened here too, with
 * the full path's own functions (store/sealed-read.ts: the key file's bytes read ahead, the
 * sealed values opened ahead with crypto.subtle; store/opening.ts: the key and its check value;
 * store/_records.ts openRecords: every record's MAC, its sealed values, the format-1 rules),
 * without loading the full path: `env openrouter` on the encrypted store went from 2.7-2.8× to
 * 2.2-2.4× of the smallest Bun program in wall and CPU time, and 1.1 MiB lower in peak memory
 * (100 alternating runs, three builds of each for memory; issue 18). A passphrase, a key file
 * that is not the usual 0600 file of 32 bytes, a wrong key, a damaged requested record or a
 * warning of any kind hand over.
 *
 * A record whose secrets are in the keyring (`secret_store = "keyring"`) is answered from the
 * lookup started with the process when AUTHCTL_STORE=keyring (reads-ahead.ts), or started here
 * when the store is chosen otherwise (the record's marker sends the full path's read to the
 * keyring all the same; keyring-backend.ts readAhead), merged with the store's own rules (_records.ts openRecord, _external-item.ts
 * mergeItem: the item's owner, the record's digest, secret fields in the file beside it dropped):
 * `env openrouter` on the keyring no longer loads the full path. An item absent, locked, another
 * store's or altered, a failure, or no answer within the keyring's bound hand over, and the full
 * path takes the same lookup (after a timeout, it reports that timeout at once).
 *
 * It decides nothing of its own. Every rule it applies is the full path's own function (the
 * config's and the store's parsers and checks, the registry, the account rules, the refresh
 * margin, the variables and the child's environment: vars.ts), and for everything else it answers
 * undefined and main.ts runs the full path from the start: a name that is not a stored
 * credential kept in the file or the keyring, a store sealed with a passphrase, a keyring item
 * not read ahead or not as the store left it, a refresh due, a file or directory mode to tighten, a warning or an error of any
 * kind (the full path reports it, with its message and exit code), a store chosen elsewhere
 * (etcd), a project file found from the working directory up (the full path reads, hashes and
 * checks it). So what it hands out is what the full path would, or nothing.
 * test/e2e/usual-case.test.ts runs every case through a binary built with it and one built
 * without it (scripts/build.ts --usual-case=off) and compares stdout, stderr and exit codes.
 */
import { configFromText } from "../config/config.ts";
import type { Env } from "../deps.ts";
import { type EnvFormat, formatEnv } from "../format/env-format.ts";
import { BUILTIN_TABLE } from "../providers/builtin-table.ts";
import { registryOver } from "../providers/catalog.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import { MAC_FIELD } from "../store/_integrity.ts";
import {
  type DocumentInfo,
  documentInfo,
  type OpenedRecords,
  openRecord,
  openRecords,
} from "../store/_records.ts";
import { findRoutingProblem } from "../store/_routing-fields.ts";
import { type ExternalBackend, SECRET_STORE_FIELD } from "../store/backend.ts";
import { backendFor, backendOfRecord, isBackendName } from "../store/backends.ts";
import {
  DEFAULT_ACCOUNT,
  defaultAccountOf,
  parseAccountRef,
  storedProviderIds,
  storeKey,
} from "../store/accounts.ts";
import { findNoProjectFileQuickly } from "../config/project-file.ts";
import { type CredentialsDocument, parseCredentialsFile } from "../store/credentials-file.ts";
import { needsRefresh } from "../store/expiry.ts";
import { KEY_FILE, KEY_FILE_BYTES, LOCAL_STORE_NAMES } from "../store/files.ts";
import { openingKeyFromFile } from "../store/opening.ts";
import { readKeyShared, turnAhead } from "../store/quick-read.ts";
import { KEY_PARAM_FIELDS, type KeyParams } from "../store/sealed.ts";
import { openKeyFileAhead } from "../store/sealed-read.ts";
import { join } from "../lazy-path.ts";
import type { Credentials, StoredCredential } from "../store/types.ts";
import { childEnvironment, collectVars, credentialSecret, credentialVars } from "./vars.ts";

export type UsualRequest =
  // `refs` empty (env and exec): no provider named, so every stored one (env.ts resolveMany).
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
  /** The working directory (process.cwd(); it throws when the directory is gone), for the project file. */
  cwd(): string;
}

/** The answer, or undefined: the full path then runs from the start and says whatever there is to say. */
export async function answerUsualCase(
  request: UsualRequest,
  inputs: UsualInputs,
): Promise<UsualAnswer | undefined> {
  try {
    return await answer(request, inputs);
  } catch {
    return undefined;
  }
}

async function answer(request: UsualRequest, inputs: UsualInputs): Promise<UsualAnswer | undefined> {
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
  // Turns of the event loop for the keyring's lookups started ahead, where the full path's read
  // gives them (quick-read.ts turnAhead: before the parse, and after it): Bun reads the bus's
  // answers only while the process waits. Measured on the keyring, -1 ms wall (N=150 and 200).
  await turnAhead();
  const document = parseCredentialsFile(inputs.storeText, inputs.storePath);
  await turnAhead();
  // The built-in providers as data (builtin-table.ts): the same registry without the provider files.
  const registry = registryOver(config, BUILTIN_TABLE);
  // A store with a key (format 2, key parameters, a sealed value anywhere: _records.ts
  // documentInfo) is opened as the full path's quick read opens it (answerSealed).
  const info = documentInfo(document);
  if (info.keyed) return answerSealed(request, inputs, registry, document, info);
  // A top-level value beside the records, in a store without a key, is a newer authctl's.
  if (Object.keys(document.preserved).length > 0) return undefined;
  return answerFrom(request, inputs, registry, document.credentials, undefined, info);
}

/**
 * A store sealed with its key file, opened as the full path's quick read opens it
 * (backend-store.ts readQuickly: sealed-read.ts openKeyFileAhead, then openRecords with the key
 * loadOpeningKey gives from the key file's bytes). Nothing here is the lane's own: a passphrase,
 * an unusual key file (its mode, size or kind: encrypted.ts readKeyFile warns, repairs or refuses)
 * hand over, and so does a wrong key (an error), any warning, and a requested record that does not
 * open (damaged: the full path reports it).
 */
async function answerSealed(
  request: UsualRequest,
  inputs: UsualInputs,
  registry: ReturnType<typeof registryOver>,
  document: CredentialsDocument,
  info: DocumentInfo,
): Promise<UsualAnswer | undefined> {
  // Only the fields this authctl writes at the top of a sealed store; another may be a newer one's.
  const known: readonly string[] = [...KEY_PARAM_FIELDS, "generation"];
  if (Object.keys(document.preserved).some((name) => !known.includes(name))) return undefined;
  const params = document.preserved as KeyParams;
  // compose.ts: an empty AUTHCTL_PASSPHRASE is no passphrase.
  const passphrase = inputs.env.AUTHCTL_PASSPHRASE || undefined;
  const keyFile = await openKeyFileAhead(inputs.home, document, passphrase, readKeyShared);
  if (!keyFile) return undefined;
  // loadOpeningKey, past its passphrase checks (openKeyFileAhead answered none of them).
  const opening = openingKeyFromFile(
    keyFile,
    params,
    info.format,
    inputs.storePath,
    join(inputs.home, KEY_FILE),
  );
  const warnings: string[] = [];
  const opened = openRecords(inputs.storePath, document, () => opening, info, warnings);
  if (warnings.length > 0) return undefined;
  return answerFrom(request, inputs, registry, opened.credentials, opened, info);
}

/** A requested record as the store's snapshot holds it, and the external backend that keeps its secrets, if one does. */
interface StoredRecord {
  provider: ProviderDefinition;
  key: string;
  credential: StoredCredential;
  external?: ExternalBackend;
}

/** The request answered from the store's credentials (`opened`: a sealed store's, openRecords). */
async function answerFrom(
  request: UsualRequest,
  inputs: UsualInputs,
  registry: ReturnType<typeof registryOver>,
  credentials: Credentials,
  opened: OpenedRecords | undefined,
  info: DocumentInfo,
): Promise<UsualAnswer | undefined> {
  const { env } = inputs;
  const refs = request.refs.length > 0 ? request.refs : await everyStored(inputs, registry, credentials);
  if (!refs) return undefined;
  const targets: Array<{ provider: ProviderDefinition; key: string }> = [];
  for (const ref of new Set(refs)) {
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

  const records: StoredRecord[] = [];
  for (const { provider, key } of targets) {
    const stored = storedRecord(credentials, opened, key, inputs.storePath, info);
    if (!stored) return undefined;
    // A record kept in the file is checked now: one to hand over spares the wait on the keyring.
    if (!stored.external && !usable(stored.credential, inputs.now, request)) return undefined;
    records.push({ provider, key, ...stored });
  }
  // The external backend's items (the keyring's), all of them at once as env.ts prefetches them,
  // from the reads started with the process (keyring-backend.ts readAhead), then the same checks.
  const external = records.filter((record) => record.external);
  if (external.length > 0) {
    const backend = external[0]!.external!;
    if (!backend.readAhead || external.some((record) => record.external !== backend)) return undefined;
    const read = external.map((record): [string, StoredCredential] => [record.key, record.credential]);
    const merged = await backend.readAhead(inputs.env, inputs.home, read);
    if (!merged) return undefined;
    for (const [i, record] of external.entries()) {
      record.credential = merged[i]!;
      if (!usable(record.credential, inputs.now, request)) return undefined;
    }
  }
  const resolved = records.map(({ provider, credential }) => ({
    provider,
    credential,
    vars: credentialVars(provider, credential),
  }));

  if (request.command === "env") return { stdout: formatEnv(collectVars(resolved), request.format) };
  if (request.command === "token") return { stdout: `${credentialSecret(resolved[0]!.credential)}\n` };
  const [command, ...args] = request.argv;
  if (!command) return undefined;
  return { exec: { command, argv: [command, ...args], env: childEnvironment(env, resolved).child } };
}

/**
 * What `env` and `exec` without providers hand out (env.ts resolveMany), when it is plain: no
 * project file from the working directory up (config/project-file.ts findNoProjectFileQuickly;
 * a file, or anything it cannot tell, hands over: the file is the full path's to read and check),
 * and then every provider the store holds (accounts.ts storedProviderIds), each one this authctl
 * knows (one it does not is a warning: handed over). Every one of them must then be usable as a
 * named one would be: where the full path would skip one with a warning, the lane hands over.
 */
async function everyStored(
  inputs: UsualInputs,
  registry: ReturnType<typeof registryOver>,
  credentials: Credentials,
): Promise<string[] | undefined> {
  let cwd: string;
  try {
    cwd = inputs.cwd();
  } catch {
    return undefined;
  }
  if ((await findNoProjectFileQuickly(cwd, inputs.env.HOME)) !== undefined) return undefined;
  const ids = storedProviderIds(credentials);
  if (ids.length === 0 || ids.some((id) => !registry.get(id))) return undefined;
  return ids;
}

/**
 * The record under `key` as the store's snapshot holds it, or undefined to hand over. In a sealed
 * store, a record openRecords opened (its MAC verified and removed, its sealed values opened) and
 * not damaged (the full path reports that). In a plain one, a record kept in clear (no MAC: only a
 * sealed store has them), or one whose `secret_store` marker names an external backend, opened as
 * the store opens it (_records.ts openRecord: the marker removed, its routing fields checked, and
 * any secret field kept in the file beside it dropped); any other marker hands over. An external
 * backend's record comes with that backend: its secrets are still to be read.
 */
function storedRecord(
  credentials: Credentials,
  opened: OpenedRecords | undefined,
  key: string,
  storePath: string,
  info: DocumentInfo,
): Pick<StoredRecord, "credential" | "external"> | undefined {
  const raw = Object.hasOwn(credentials, key) ? credentials[key] : undefined;
  if (!raw) return undefined;
  if (opened) {
    const name = opened.backends[key];
    if (Object.hasOwn(opened.damaged, key) || !isBackendName(name)) return undefined;
    const backend = backendFor(name);
    return backend.kind === "external" ? { credential: raw, external: backend } : { credential: raw };
  }
  const record = raw as unknown as Record<string, unknown>;
  if (record[MAC_FIELD] !== undefined) return undefined;
  if (record[SECRET_STORE_FIELD] === undefined) return { credential: raw };
  const backend = backendOfRecord(raw);
  if (backend.kind !== "external") return undefined;
  const warnings: string[] = [];
  // A store without a key: openRecord never asks for one (no MAC to verify, nothing sealed to open).
  const noKey = (): never => {
    throw new Error("a plain store has no key");
  };
  const { credential } = openRecord(storePath, key, raw, noKey, info, warnings);
  if (warnings.length > 0) return undefined;
  return { credential, external: backend };
}

/**
 * Whether a record may be handed out as it is: routing fields that hold up (_records.ts
 * openRecord), a secret, and for OAuth no login to renew and no refresh due (resolve.ts
 * ensureFresh).
 */
function usable(credential: StoredCredential, now: number, request: UsualRequest): boolean {
  if (findRoutingProblem(credential)) return false;
  if (!credentialSecret(credential)) return false;
  if (credential.type === "oauth") {
    const minTtlMs = request.command === "token" ? request.minTtlMs : undefined;
    if (credential.needs_login || needsRefresh(credential, now, minTtlMs)) return false;
  }
  return true;
}
