import { AuthctlError, httpStatusOf, isAuthctlError } from "../errors.ts";
import { maskSecret } from "../redact.ts";
import { KeyringItemError, SealedValueError } from "../store/errors.ts";
import {
  lowerProvider,
  accountNote,
  accountsOf,
  DEFAULT_ACCOUNT,
  defaultAccountOf,
  markDefault,
  parseAccountRef,
  splitStoreKey,
  storeKey,
} from "../store/accounts.ts";
import type { Credentials, StoredCredential } from "../store/types.ts";
import type { Context } from "../context.ts";
import { credentialSecret, findInEnvironment } from "./resolve.ts";

export interface LogoutOptions {
  providerIds: string[];
  all: boolean;
}

/**
 * The store keys a logout names: `p@a` that account; `p` the provider's default account; with
 * --all, every account of the named providers (or of every provider when none is named).
 */
function keysToLogOut(ctx: Context, options: LogoutOptions, stored: Credentials): string[] {
  if (options.all && options.providerIds.length === 0) return Object.keys(stored);
  const keys: string[] = [];
  for (const text of options.providerIds) {
    const ref = lowerProvider(parseAccountRef(text));
    const provider = ctx.registry.get(ref.provider)?.id ?? ref.provider;
    if (options.all) {
      if (ref.account !== undefined)
        throw new AuthctlError("USAGE", `--all logs out every account of a provider, not of ${text}`, {
          hint: `run 'authctl logout ${text}' for that account, or 'authctl logout ${provider} --all'`,
        });
      const accounts = accountsOf(stored, provider);
      keys.push(...(accounts.length ? accounts.map((a) => storeKey(provider, a)) : [provider]));
      continue;
    }
    const account = ref.account ?? defaultAccountOf(stored, provider) ?? DEFAULT_ACCOUNT;
    keys.push(storeKey(provider, account));
  }
  return [...new Set(keys)];
}

export async function logout(ctx: Context, options: LogoutOptions): Promise<void> {
  const { deps } = ctx;
  const stored = ctx.store.read().credentials;
  let ids = keysToLogOut(ctx, options, stored);
  if (!options.all && ids.length === 0) ids = await pickLoggedIn(ctx, Object.keys(stored));
  if (ids.length === 0) {
    if (options.all) deps.ui.info("nothing is stored: nothing to log out of");
    return;
  }
  const missing = ids.filter((id) => !stored[id]);
  for (const id of missing) {
    const provider = id.includes("@") ? undefined : ctx.registry.get(id);
    const env = provider && findInEnvironment(provider, deps.env);
    if (env)
      deps.ui.warn(
        `${id} comes from ${env.name} in your environment, which authctl did not set: unset it where your shell sets it`,
      );
  }
  if (missing.length) {
    const first = splitStoreKey(missing[0]!).provider;
    if (!ctx.registry.get(first)) ctx.registry.require(first);
    throw new AuthctlError("NOT_LOGGED_IN", `not logged in to ${missing.join(", ")}: nothing was removed`, {
      hint: "run 'authctl status' to see what is stored",
    });
  }
  // Keyring-held secrets are not in the lock-free snapshot: fetch them for the revocation. A
  // keyring that cannot give them (locked, or the item deleted behind authctl's back) must not
  // keep the user from logging out: the record goes, and the item (if any) follows later.
  // Logins whose revocation failed for a reason that may pass (5xx, 429, no answer): the refresh
  // token is the only handle on the grant, so it is kept for a retry instead of being forgotten
  // while the grant lives on at the provider (issue 14.9).
  const unrevoked: string[] = [];
  for (const id of ids) {
    let credential: StoredCredential;
    try {
      credential = (await ctx.store.readSecrets(id)) ?? stored[id]!;
    } catch (error) {
      if (error instanceof KeyringItemError && error.reason === "missing") {
        deps.ui.info(`${id}: its keyring item authctl/${id} was already gone`);
      } else if (error instanceof KeyringItemError && error.reason === "foreign") {
        deps.ui.info(
          `${id}: the keyring item authctl/${id} now holds the login of the authctl store at ${error.owner}; it is left alone`,
        );
      } else if (error instanceof SealedValueError) {
        const revoke = stored[id]!.type === "oauth" ? "; it is not revoked at the provider" : "";
        deps.ui.warn(`${id}: ${error.message}${revoke}`);
      } else {
        const reason = error instanceof Error ? error.message : String(error);
        const revoke = stored[id]!.type === "oauth" ? "it is not revoked at the provider, and " : "";
        deps.ui.warn(`${id}: ${reason}; ${revoke}its keyring item is deleted once the keyring answers`);
      }
      continue;
    }
    if (!(await revokeIfPossible(ctx, id, credential))) unrevoked.push(id);
  }
  const { removed, promoted } = await ctx.store.update((credentials) => {
    const out: Array<[string, string]> = [];
    const defaultsBefore = new Map<string, string | undefined>();
    for (const id of ids) {
      if (unrevoked.includes(id)) continue;
      const credential = credentials[id];
      if (!credential) continue;
      const { provider } = splitStoreKey(id);
      if (!defaultsBefore.has(provider))
        defaultsBefore.set(provider, defaultAccountOf(credentials, provider));
      const secret = credentialSecret(credential);
      out.push([id, secret ? maskSecret(secret) : ""]);
      delete credentials[id];
    }
    // The default went and other accounts remain: the first of them by name takes over, marked so
    // that it stays the default whatever is added later.
    const next: Array<[string, string, string]> = [];
    for (const [provider, before] of defaultsBefore) {
      if (before === undefined || credentials[storeKey(provider, before)]) continue;
      const first = accountsOf(credentials, provider)[0];
      if (first === undefined) continue;
      markDefault(credentials, provider, first);
      next.push([provider, before, first]);
    }
    return { removed: out, promoted: next };
  });
  for (const [id, masked] of removed) {
    const { provider, account } = splitStoreKey(id);
    const name = ctx.registry.get(provider)?.name ?? `${provider} (a provider no longer in config.toml)`;
    deps.ui.success(
      `logged out of ${name}${accountNote(account)}${masked ? ` (removed ${masked} from the store)` : ""}`,
    );
  }
  for (const [provider, before, now] of promoted)
    deps.ui.info(`${provider}@${now} is now the default ${provider} account (it was ${provider}@${before})`);
  if (unrevoked.length > 0) {
    throw new AuthctlError(
      "NETWORK",
      `${unrevoked.join(", ")} could not be revoked at the provider right now, so ${unrevoked.length > 1 ? "they are" : "it is"} still stored here`,
      {
        hint: `run 'authctl logout ${unrevoked.join(" ")}' again to retry`,
      },
    );
  }
}

/**
 * Logging out should end the grant at the provider too, not only forget it here (openai/codex#2557):
 * the refresh token is revoked (RFC 7009) where the provider has a revocation endpoint. Returns
 * false when the provider could not be reached or answered 5xx/429: the caller keeps the login so
 * that running logout again retries (as gh and op report a failed logout rather than pretend). A
 * refusal (400/401: the token is already dead, or this client may not revoke it) will not change
 * on a retry: it is reported and the login is removed here.
 */
async function revokeIfPossible(ctx: Context, key: string, credential: StoredCredential): Promise<boolean> {
  if (credential.type !== "oauth") return true;
  const id = splitStoreKey(key).provider;
  const provider = ctx.registry.get(id);
  const method = provider?.methods.find((m) => m.id === credential.method);
  const settings = method?.kind === "oauth" ? method.oauth : undefined;
  const token = credential.refresh_token ?? credential.access_token;
  const { clientAuthFor, discover, processRevocationResponse, revocationRequest } = await import(
    "../oauth/index.ts"
  );
  // As for refresh (issue 11.16): a discovered endpoint, and how the server wants the client
  // secret, come from the issuer's metadata now; the URL stored at login only when it is unreachable.
  let url = settings?.revocationUrl;
  let clientAuth: import("../oauth/index.ts").ClientAuthMethod | undefined;
  if (!url && settings?.issuer && token) {
    const metadata = await discover(ctx.deps.http, settings.issuer, { timeoutMs: 10_000 }).catch(
      () => undefined,
    );
    url = metadata?.revocation_endpoint;
    clientAuth = metadata && clientAuthFor(metadata);
  }
  url ??= credential.extra?.revocation_url;
  if (!url || !token) return true;
  try {
    const result = await processRevocationResponse(
      await revocationRequest(ctx.deps.http, {
        url,
        clientId: settings?.clientId,
        clientSecret: settings?.clientSecret,
        clientAuth,
        token,
        tokenTypeHint: credential.refresh_token ? "refresh_token" : "access_token",
        body: settings?.revocationBody,
        timeoutMs: 10_000,
      }),
    );
    if (result.status === "revoked") {
      ctx.deps.ui.info(`revoked the ${provider?.name ?? id} grant at the provider`);
      return true;
    }
    const later =
      result.retryAfterSeconds === undefined ? "" : ` (it asks to retry after ${result.retryAfterSeconds} s)`;
    ctx.deps.ui.warn(`${provider?.name ?? id} could not revoke the grant right now${later}; it is kept here`);
    return false;
  } catch (error) {
    const status = httpStatusOf(error) ?? 0;
    const transient = !isAuthctlError(error) || error.code === "NETWORK" || status >= 500 || status === 429;
    ctx.deps.ui.warn(
      `could not revoke the ${provider?.name ?? id} grant (${(error as Error).message}); ${transient ? "it is kept here" : "it is removed here only"}`,
    );
    return !transient;
  }
}

/**
 * One list, Enter takes the highlighted row (as `gh auth logout` does): a multi-select whose
 * Enter with nothing ticked removed nothing and still exited 0 looked like a logout that worked.
 * Several logins go at once with the "all" row, or by naming them.
 */
async function pickLoggedIn(ctx: Context, stored: string[]): Promise<string[]> {
  if (!ctx.deps.interactive) {
    throw new AuthctlError("NEEDS_TTY", "no provider named and no terminal to pick one", {
      hint: "run 'authctl logout <provider>' or 'authctl logout --all'",
    });
  }
  if (stored.length === 0) {
    ctx.deps.ui.info("nothing is stored: nothing to log out of");
    return [];
  }
  const credentials = ctx.store.read().credentials;
  const rows = stored.map((id) => {
    const credential = credentials[id];
    const how =
      credential?.type === "api_key"
        ? credential.method === "key"
          ? "API key"
          : `key from the ${credential.method} login`
        : `${credential?.method ?? "account"} login`;
    const who = credential?.account ? ` as ${credential.account}` : "";
    const { provider, account } = splitStoreKey(id);
    const name = ctx.registry.get(provider)?.name ?? provider;
    return { value: id, label: `${name}${accountNote(account)}`, hint: `${how}${who}` };
  });
  const ALL = "\u0000all";
  if (rows.length > 1) rows.push({ value: ALL, label: "All of them", hint: stored.join(", ") });
  const prompter = await ctx.deps.prompter();
  const picked = await prompter.select("Log out of which provider?", rows);
  return picked === ALL ? stored : [picked];
}
