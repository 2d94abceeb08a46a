/**
 * Named accounts: `<provider>@<account>` names one account of a provider wherever a provider id is
 * accepted. The store keeps each account under its own key: the provider id for the account
 * `default` (every credential stored before accounts existed is that one, so old stores read
 * unchanged), `<provider>@<account>` for the others. That key is also the keyring item's account
 * and what the encrypted backend's additional data and the record MACs bind (encrypted.ts,
 * _integrity.ts), so a sealed value or a record cannot be moved from one account to another.
 * Pure functions: no store, no registry.
 */
import { AuthctlError } from "../errors.ts";
import { isAccountName as isAccountNameText } from "../names.ts";
import type { Credentials, StoredCredential } from "./types.ts";

/** The account of credentials stored without a name (and before accounts existed). */
export const DEFAULT_ACCOUNT = "default";

/** What a person wrote: a provider, and an account when they named one (else its default account). */
export interface AccountRef {
  provider: string;
  account?: string;
}

/** Contract: lower-case letters, digits, `-` and `_`, up to 32 characters (src/names.ts: no regex on the hot path). */
export function isAccountName(name: string): boolean {
  return isAccountNameText(name);
}

/**
 * `openrouter` or `openrouter@work`. The provider part is returned as written (the registry
 * decides whether it exists); the account part must be a valid name.
 */
export function parseAccountRef(text: string): AccountRef {
  const at = text.indexOf("@");
  if (at < 0) return { provider: text };
  const provider = text.slice(0, at);
  const account = text.slice(at + 1);
  if (!provider)
    throw new AuthctlError("USAGE", `'${text}' names no provider before the @`, {
      hint: "write <provider>@<account>, e.g. openrouter@work",
    });
  if (!isAccountName(account))
    throw new AuthctlError(
      "USAGE",
      `'${account}' is not an account name (lower-case letters, digits, '-' and '_', up to 32 characters)`,
      { hint: `e.g. ${provider}@work` },
    );
  return { provider, account };
}

/** Provider ids are matched without regard to case (as the registry does); account names are not. */
export function lowerProvider(ref: AccountRef): AccountRef {
  return { ...ref, provider: ref.provider.toLowerCase() };
}

/** How an account is shown and typed: the bare provider id for `default`, else `provider@account`. */
export function accountLabel(provider: string, account: string): string {
  return account === DEFAULT_ACCOUNT ? provider : `${provider}@${account}`;
}

/** " (account work)" for a named account, "" for `default`: for messages after a provider's name. */
export function accountNote(account: string): string {
  return account === DEFAULT_ACCOUNT ? "" : ` (account ${account})`;
}

/** The store key of one account (the same text as accountLabel: see the module comment). */
export const storeKey = accountLabel;

/** The provider and account a store key holds. */
export function splitStoreKey(key: string): { provider: string; account: string } {
  const at = key.indexOf("@");
  return at < 0
    ? { provider: key, account: DEFAULT_ACCOUNT }
    : { provider: key.slice(0, at), account: key.slice(at + 1) };
}

/**
 * The providers the store holds a credential for, each once, in the order of their first record:
 * what `env` and `exec` without providers hand out (resolve.ts storedProviders; the usual-case
 * lane, actions/usual-case.ts).
 */
export function storedProviderIds(credentials: Credentials): string[] {
  return [...new Set(Object.keys(credentials).map((key) => splitStoreKey(key).provider))];
}

/** The accounts stored for one provider, sorted by name. */
export function accountsOf(credentials: Credentials, provider: string): string[] {
  const out: string[] = [];
  for (const key of Object.keys(credentials)) {
    const split = splitStoreKey(key);
    if (split.provider === provider) out.push(split.account);
  }
  return out.sort();
}

/**
 * A provider's default account: the one whose record says `default = true` (set by `switch`, and
 * when a second account arrives or the default goes), else the account `default`, else the first
 * by name. Undefined when the provider has no account stored.
 */
export function defaultAccountOf(credentials: Credentials, provider: string): string | undefined {
  const accounts = accountsOf(credentials, provider);
  if (accounts.length === 0) return undefined;
  const marked = accounts.find((account) => credentials[storeKey(provider, account)]?.default === true);
  if (marked) return marked;
  return accounts.includes(DEFAULT_ACCOUNT) ? DEFAULT_ACCOUNT : accounts[0];
}

/**
 * Makes `account` the provider's default by marking its record and unmarking the others (inside
 * an update). Only `switch`, a second account and a logout of the default call it, so a store
 * with one account per provider stays exactly as an older authctl wrote it.
 */
export function markDefault(credentials: Credentials, provider: string, account: string): void {
  for (const other of accountsOf(credentials, provider)) {
    const key = storeKey(provider, other);
    const record = credentials[key]!;
    if (other === account) {
      if (record.default !== true) credentials[key] = { ...record, default: true };
    } else if (record.default !== undefined) {
      const { default: _dropped, ...rest } = record;
      credentials[key] = rest;
    }
  }
}

/**
 * Stores one account's credential (inside an update) and returns the one it replaces. The first
 * account of a provider becomes its default by being the only one; a new account next to others
 * never takes over: the current default is marked first. A replaced credential keeps its mark.
 */
export function putAccount(
  credentials: Credentials,
  provider: string,
  account: string,
  credential: StoredCredential,
): StoredCredential | undefined {
  const key = storeKey(provider, account);
  const before = credentials[key];
  if (!before) {
    const current = defaultAccountOf(credentials, provider);
    if (current !== undefined) markDefault(credentials, provider, current);
  }
  const { default: _ignored, ...rest } = credential;
  credentials[key] = before?.default === true ? { ...rest, default: true } : rest;
  return before;
}

/** The account a reference means in this store: the named one, or the provider's default. */
export function resolveAccount(credentials: Credentials, ref: AccountRef): string | undefined {
  return ref.account ?? defaultAccountOf(credentials, ref.provider);
}
