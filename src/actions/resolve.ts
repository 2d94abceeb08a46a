import type { Env } from "../deps.ts";
import { describeLocation } from "../store/trust.ts";
import { AuthctlError } from "../errors.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import { registerSecret } from "../redact.ts";
import { describeStore } from "../store/stores.ts";
import {
  accountLabel,
  DEFAULT_ACCOUNT,
  defaultAccountOf,
  parseAccountRef,
  storedProviderIds,
  storeKey,
} from "../store/accounts.ts";
import type { Credentials, StoreSnapshot, StoredCredential } from "../store/types.ts";
import type { Context, ResolvedCredential } from "../context.ts";
import { needsRefresh, stillSatisfies } from "../store/expiry.ts";
import { credentialSecret, credentialVars } from "./vars.ts";

export type { ResolvedCredential };
export { credentialSecret, credentialVars };

/** The provider's variables that are set (non-empty) in an environment, primary ones first. */
export function findInEnvironment(
  provider: ProviderDefinition,
  env: Env,
): { name: string; value: string } | undefined {
  for (const name of [...provider.keyVars, ...(provider.aliasVars ?? [])]) {
    const value = env[name];
    if (value) return { name, value };
  }
  return undefined;
}

/** One account of a provider, as a command names it: what to read, and whether the environment may stand in. */
export interface AccountTarget {
  provider: ProviderDefinition;
  account: string;
  key: string;
  /** `provider@account` was written: the environment's variable is no account's, so it does not count. */
  named: boolean;
}

/**
 * `openrouter` (its default account: the one marked, else `default`, else the first by name) or
 * `openrouter@work`. Throws USAGE for a bad account name, UNKNOWN_PROVIDER for a bad provider.
 */
export function accountTarget(ctx: Context, ref: string, credentials?: Credentials): AccountTarget {
  const parsed = parseAccountRef(ref);
  const provider = ctx.registry.require(parsed.provider);
  const account =
    parsed.account ??
    defaultAccountOf(credentials ?? ctx.store.read().credentials, provider.id) ??
    DEFAULT_ACCOUNT;
  return { provider, account, key: storeKey(provider.id, account), named: parsed.account !== undefined };
}

export function notLoggedIn(providerId: string, storePath?: string): AuthctlError {
  const where = storePath ? ` (nothing for it in ${describeLocation(storePath)})` : "";
  return new AuthctlError("NOT_LOGGED_IN", `${providerId} is not logged in${where}`, {
    hint: `run 'authctl login ${providerId}'`,
  });
}

/**
 * The store wins over the environment for authctl's own commands: the user asked authctl for
 * this provider's credential, and an ambient variable is exactly what surprises people
 * (openai/codex#40871). The environment is the fallback when nothing is stored.
 */
export function resolveStored(
  ctx: Context,
  provider: ProviderDefinition,
  credentials = ctx.store.read().credentials,
  target: Pick<AccountTarget, "account" | "key" | "named"> = {
    account: DEFAULT_ACCOUNT,
    key: provider.id,
    named: false,
  },
): ResolvedCredential | undefined {
  const { account, key } = target;
  const credential = credentials[key];
  if (credential) {
    const secret = credentialSecret(credential);
    if (secret) {
      registerSecret(secret);
      return {
        provider,
        account,
        key,
        source: "store",
        credential,
        secret,
        vars: credentialVars(provider, credential),
      };
    }
  }
  const found = target.named ? undefined : findInEnvironment(provider, ctx.deps.env);
  if (found) {
    registerSecret(found.value);
    return {
      provider,
      account,
      key,
      source: "environment",
      secret: found.value,
      vars: provider.keyVars.map((name) => [name, found.value] as [string, string]),
      envVar: found.name,
    };
  }
  return undefined;
}

/**
 * One read of the store shared by a whole command: `exec` with a keyring provider parsed
 * credentials.toml three times (the list of stored providers, the provider's record, the keyring
 * read) where one snapshot answers all three. Dropped once the command writes the store (a login
 * or a refresh), so what follows sees the write.
 */
export interface SharedSnapshot {
  read(): Promise<StoreSnapshot>;
  drop(): void;
}

export function shareSnapshot(ctx: Context): SharedSnapshot {
  let snapshot: Promise<StoreSnapshot> | undefined;
  return {
    // Read without node:fs where the store can (store/quick-read.ts). A read that fails is not
    // kept: the next provider reads again, as it did when every provider read the store itself.
    read: () =>
      (snapshot ??= readQuickly(ctx).catch((error: unknown) => {
        snapshot = undefined;
        throw error;
      })),
    drop: () => {
      snapshot = undefined;
    },
  };
}

/** The store's snapshot, through Bun's file API where the store can (store/quick-read.ts): node:fs costs ~5 MiB. */
async function readQuickly(ctx: Context): Promise<StoreSnapshot> {
  return ctx.store.readQuickly ? ctx.store.readQuickly() : ctx.store.read();
}

/**
 * resolveStored, fetching the secrets from the keyring when that is where this provider's live
 * (the only asynchronous, timeout-bounded step on the hot path; file and encrypted stores are read
 * synchronously).
 */
async function resolveStoredWithSecrets(
  ctx: Context,
  ref: string,
  shared: SharedSnapshot,
  prefetched?: Promise<StoredCredential | undefined>,
): Promise<{ target: AccountTarget; resolved: ResolvedCredential | undefined }> {
  const snapshot = await shared.read();
  const target = accountTarget(ctx, ref, snapshot.credentials);
  const { provider, key } = target;
  if (snapshot.damaged?.[key]) throw snapshot.damaged[key];
  const backend = snapshot.backends[key];
  if (!backend || !describeStore(backend).asyncReads)
    return { target, resolved: resolveStored(ctx, provider, snapshot.credentials, target) };
  const credential = await (prefetched ?? ctx.store.readSecrets(key, snapshot));
  return { target, resolved: resolveStored(ctx, provider, credential ? { [key]: credential } : {}, target) };
}

/**
 * Resolves a named provider for `env`, `token` and `exec`. When nothing is stored and a person is
 * at the keyboard, the provider's login runs first (contract: "When nobody is at the keyboard").
 */
export async function resolveForUse(
  ctx: Context,
  providerId: string,
  options: {
    minTtlMs?: number;
    prefetched?: Promise<StoredCredential | undefined>;
    snapshot?: SharedSnapshot;
  } = {},
): Promise<ResolvedCredential> {
  const shared = options.snapshot ?? shareSnapshot(ctx);
  const { target, resolved } = await resolveStoredWithSecrets(ctx, providerId, shared, options.prefetched);
  const { provider } = target;
  const label = accountLabel(provider.id, target.account);
  if (resolved?.credential?.type === "oauth") {
    const fresh = await ensureFresh(ctx, target, resolved.credential, options.minTtlMs, shared);
    if (fresh) return fresh;
  } else if (resolved) return resolved;
  if (!ctx.deps.interactive) {
    if (resolved?.credential?.needs_login) {
      throw new AuthctlError("NOT_LOGGED_IN", `the ${provider.name} login has expired`, {
        hint: `run 'authctl login ${label}'`,
      });
    }
    throw notLoggedIn(label, ctx.store.path);
  }
  ctx.deps.ui.info(`${provider.name} is not logged in yet: logging in first.`);
  const { login } = await import("./login.ts");
  await login(ctx, { providerId: label });
  shared.drop();
  const after = (await resolveStoredWithSecrets(ctx, label, shared)).resolved;
  if (!after) throw notLoggedIn(label, ctx.store.path);
  return after;
}

/**
 * OAuth credentials are refreshed before they are handed out. The refresh code (HTTP, the OAuth
 * core) is loaded only when a refresh is due, so the hot path of a fresh token stays import-free.
 * Returns undefined when the login is dead and a new login is the only way on (with a terminal).
 *
 * A refresh is due minutes before the token expires, so a refresh that fails for a reason that is
 * not the grant's (the identity provider is down, the store is read-only) must not take down every
 * program that still has a valid token: while the current token satisfies what was asked
 * (`--min-ttl`, or unexpired), it is handed out with one warning. Only a dead grant or an expired
 * token is an error.
 */
async function ensureFresh(
  ctx: Context,
  target: AccountTarget,
  credential: StoredCredential,
  minTtlMs: number | undefined,
  shared: SharedSnapshot,
): Promise<ResolvedCredential | undefined> {
  const { provider, account, key } = target;
  minTtlMs ??= 0;
  let current = credential;
  if (current.needs_login) {
    if (ctx.deps.interactive) return undefined;
    throw new AuthctlError("NOT_LOGGED_IN", `the ${provider.name} login needs renewing`, {
      hint: `run 'authctl login ${accountLabel(provider.id, account)}'`,
    });
  }
  if (needsRefresh(current, ctx.deps.now(), minTtlMs)) {
    const { refreshCredential, RefreshOutage } = await import("./refresh.ts");
    // The refresh writes the store: what the command reads next reads it again.
    shared.drop();
    try {
      current = await refreshCredential(ctx, provider, { minTtlMs, held: current.access_token, key });
    } catch (error) {
      const now = ctx.deps.now();
      if (error instanceof RefreshOutage && stillSatisfies(current, now, minTtlMs)) {
        const left =
          current.expires_at === undefined
            ? ""
            : `, valid for another ${formatDuration(current.expires_at - now)}`;
        ctx.deps.ui.warn(`${error.message}; using the current token${left}`);
      } else if (ctx.deps.interactive && error instanceof AuthctlError && error.code === "NOT_LOGGED_IN") {
        ctx.deps.ui.warn(error.message);
        return undefined;
      } else {
        throw error;
      }
    }
  }
  const secret = credentialSecret(current)!;
  registerSecret(secret);
  return {
    provider,
    account,
    key,
    source: "store",
    credential: current,
    secret,
    vars: credentialVars(provider, current),
  };
}

/** "25 s", "4 min", "3 h": how long a token has left, for warnings. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 2 * 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h`;
}

/**
 * Every provider with a stored credential (each counts once, whatever its accounts), in store
 * order; unknown ids in the store are skipped with a warning.
 */
export function storedProviders(ctx: Context, snapshot = ctx.store.read()): ProviderDefinition[] {
  for (const warning of snapshot.warnings) ctx.deps.ui.warn(warning);
  const out: ProviderDefinition[] = [];
  for (const id of storedProviderIds(snapshot.credentials)) {
    const provider = ctx.registry.get(id);
    if (provider) out.push(provider);
    else
      ctx.deps.ui.warn(`the store holds a credential for '${id}', which this authctl does not know: skipped`);
  }
  return out;
}

/**
 * Starts reading the keyring secrets of every named provider that keeps them there, all at once:
 * over one connection the reads travel together instead of one after another. Failures surface
 * when (and only if) the caller awaits that provider's promise.
 */
export function prefetchKeyringSecrets(
  ctx: Context,
  providerIds: string[],
  snapshot = ctx.store.read(),
): Map<string, Promise<StoredCredential | undefined>> {
  const prefetched = new Map<string, Promise<StoredCredential | undefined>>();
  const backends = snapshot.backends;
  for (const id of providerIds) {
    let key: string;
    try {
      key = accountTarget(ctx, id, snapshot.credentials).key;
    } catch {
      continue; // resolving it says what is wrong
    }
    const backend = backends[key];
    if (!backend || !describeStore(backend).asyncReads || prefetched.has(id)) continue;
    const read = ctx.store.readSecrets(key, snapshot);
    read.catch(() => {});
    prefetched.set(id, read);
  }
  return prefetched;
}
