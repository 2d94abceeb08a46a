import { describeLocation } from "../store/trust.ts";
import { AuthctlError, isAuthctlError } from "../errors.ts";
import { describeStore } from "../store/stores.ts";
import type { StoreName, StoreSnapshot, StoredCredential } from "../store/types.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import { maskSecret, registerSecret } from "../redact.ts";
import {
  lowerProvider,
  accountsOf,
  DEFAULT_ACCOUNT,
  defaultAccountOf,
  parseAccountRef,
  splitStoreKey,
  storeKey,
} from "../store/accounts.ts";
import type { Context } from "../context.ts";
import { type ProjectStatus, projectStatus } from "./project.ts";
import { credentialSecret, credentialVars, findInEnvironment } from "./resolve.ts";

export interface StatusOptions {
  providerIds: string[];
  json: boolean;
  /** Also read every stored secret (the keyring, the sealed file) to prove it can be had. */
  check?: boolean;
}

export interface ProviderStatus {
  /** How the account is named on the command line: `openrouter` for its account `default`, else `openrouter@work`. */
  id: string;
  provider: string;
  /** The account's name (store/accounts.ts); `default` for credentials stored without one. */
  account: string;
  /** This account is what the bare provider id means. */
  default: boolean;
  name: string;
  logged_in: boolean;
  /** The source authctl hands out: the store wins over the environment. */
  source: "store" | "environment" | null;
  method: string | null;
  type: "api_key" | "oauth" | null;
  secret: string | null;
  variables: string[];
  expires_at: string | null;
  needs_login: boolean;
  updated_at: string | null;
  /** The shell's own variable holds a different value: programs started directly from it use that one. */
  shadowed_by: { variable: string; secret: string } | null;
  /** Where the stored secret lives; null when nothing is stored. */
  backend: StoreName | null;
  /** With --check: whether the stored secret could be read, and if not why. */
  check?: { ok: true } | { ok: false; error: string; hint?: string };
  /** Who the login belongs to (an e-mail, a user id), when the provider said. */
  identity: string | null;
  /** The OAuth access token's expiry has passed. */
  expired: boolean;
  /** Whether authctl can refresh it; null when the refresh token sits unread in the keyring or a sealed file. */
  refreshable: boolean | null;
  /** False for a credential whose provider was removed from config.toml: nothing hands it out. */
  configured: boolean;
  /** env, token and exec can hand this credential out now (refreshing it first if they must). */
  usable: boolean;
}

/**
 * The store as status shows it. Sealed secrets are opened to show them masked; when they cannot
 * be (no or a wrong AUTHCTL_PASSPHRASE, a missing key file, a damaged value), status still lists
 * every credential from its metadata and says why the secrets are not shown.
 */
function readForStatus(ctx: Context): StoreSnapshot {
  try {
    return ctx.store.read();
  } catch (error) {
    const snapshot = ctx.store.readMetadata(); // a file that does not parse throws here too
    const why = isAuthctlError(error)
      ? `${error.message}${error.hint ? ` (${error.hint})` : ""}`
      : String(error);
    return { ...snapshot, warnings: [...snapshot.warnings, `sealed secrets are not shown: ${why}`] };
  }
}

export function collectStatus(
  ctx: Context,
  options: StatusOptions,
): { statuses: ProviderStatus[]; warnings: string[] } {
  const snapshot = readForStatus(ctx);
  const env = ctx.deps.env;
  const now = ctx.deps.now();
  const stored = snapshot.credentials;
  const providerOf = (key: string) => splitStoreKey(key).provider;
  // Every account of every provider, and providers known only from the environment. A credential
  // whose provider was removed from config.toml is still listed: hiding it would leave a secret
  // nobody can see, and `logout <id>` removes it.
  let wanted: Array<{ provider: ProviderDefinition | string; account: string }>;
  if (options.providerIds.length) {
    wanted = options.providerIds.map((text) => {
      const ref = lowerProvider(parseAccountRef(text));
      const orphan = accountsOf(stored, ref.provider).length > 0 && !ctx.registry.get(ref.provider);
      const provider = orphan ? ref.provider : ctx.registry.require(text.split("@")[0]!);
      const id = typeof provider === "string" ? provider : provider.id;
      return { provider, account: ref.account ?? defaultAccountOf(stored, id) ?? DEFAULT_ACCOUNT };
    });
  } else {
    wanted = Object.keys(stored).map((key) => ({
      provider: ctx.registry.get(providerOf(key)) ?? providerOf(key),
      account: splitStoreKey(key).account,
    }));
    for (const provider of ctx.registry.list())
      if (accountsOf(stored, provider.id).length === 0 && findInEnvironment(provider, env))
        wanted.push({ provider, account: DEFAULT_ACCOUNT });
    wanted.sort(
      (a, b) => idOf(a.provider).localeCompare(idOf(b.provider)) || a.account.localeCompare(b.account),
    );
  }
  const statuses = wanted.map(({ provider, account }): ProviderStatus => {
    const providerId = idOf(provider);
    const key = storeKey(providerId, account);
    const isDefault = account === (defaultAccountOf(stored, providerId) ?? DEFAULT_ACCOUNT);
    const names = { id: key, provider: providerId, account, default: isDefault };
    if (typeof provider === "string") return orphanStatus(names, stored[key]!, snapshot.backends[key]!, now);
    const credential = stored[key];
    // The environment stands in for a provider with no stored account only, as in resolve.ts.
    const fromEnv =
      accountsOf(stored, providerId).length === 0 && isDefault ? findInEnvironment(provider, env) : undefined;
    if (fromEnv) registerSecret(fromEnv.value);
    const secret = credential ? credentialSecret(credential) : undefined;
    if (secret) registerSecret(secret);
    const base = {
      ...names,
      name: provider.name,
      variables: provider.keyVars,
      identity: null,
      expired: false,
      refreshable: null,
      configured: true,
      usable: false,
    };
    // A keyring secret is not fetched: status never calls (or prompts for) the keyring.
    // Every stored credential has its backend in the snapshot.
    const backend = credential ? snapshot.backends[key]! : null;
    if (credential && backend && (secret || !describeStore(backend).inClear)) {
      // An account login exports its own variables (CLAUDE_CODE_OAUTH_TOKEN, CHATGPT_ACCESS_TOKEN, …).
      if (secret) base.variables = credentialVars(provider, credential).map(([name]) => name);
      // Only the default account is what a program started from this shell would compete with.
      const shadow =
        secret && isDefault
          ? [...provider.keyVars, ...(provider.aliasVars ?? [])].find(
              (name) => env[name] && env[name] !== secret,
            )
          : undefined;
      const health = healthOf(credential, Boolean(secret), now);
      return {
        ...base,
        ...health,
        logged_in: !credential.needs_login,
        source: "store",
        method: credential.method,
        type: credential.type,
        secret: secret ? maskSecret(secret) : null,
        expires_at: credential.expires_at ? new Date(credential.expires_at).toISOString() : null,
        needs_login: Boolean(credential.needs_login),
        updated_at: new Date(credential.updated_at).toISOString(),
        shadowed_by: shadow ? { variable: shadow, secret: maskSecret(env[shadow]!) } : null,
        backend,
        identity: credential.account ?? null,
      };
    }
    if (fromEnv) {
      return {
        ...base,
        logged_in: true,
        source: "environment",
        method: "environment",
        type: "api_key",
        secret: maskSecret(fromEnv.value),
        expires_at: null,
        needs_login: false,
        updated_at: null,
        shadowed_by: null,
        backend: null,
        variables: [fromEnv.name],
        usable: true,
      };
    }
    return {
      ...base,
      logged_in: false,
      source: null,
      method: null,
      type: null,
      secret: null,
      expires_at: null,
      needs_login: false,
      updated_at: null,
      shadowed_by: null,
      backend: null,
    };
  });
  const damaged = Object.values(snapshot.damaged ?? {}).map(
    (error) => `${error.message}; its secret is not shown`,
  );
  return { statuses, warnings: [...snapshot.warnings, ...damaged] };
}

function idOf(entry: ProviderDefinition | string): string {
  return typeof entry === "string" ? entry : entry.id;
}

/** Expired, refreshable, usable: what a stored credential can still do, from its metadata. */
function healthOf(
  credential: StoredCredential,
  secretVisible: boolean,
  now: number,
): Pick<ProviderStatus, "expired" | "refreshable" | "usable"> {
  const expired =
    credential.type === "oauth" && credential.expires_at !== undefined && credential.expires_at <= now;
  // A refresh token in the keyring (or a sealed file that did not open) is not read by status.
  const refreshable =
    credential.type !== "oauth" ? false : credential.refresh_token ? true : secretVisible ? false : null;
  const usable = !credential.needs_login && (!expired || refreshable !== false);
  return { expired, refreshable, usable };
}

function orphanStatus(
  names: Pick<ProviderStatus, "id" | "provider" | "account" | "default">,
  credential: StoredCredential,
  backend: StoreName,
  now: number,
): ProviderStatus {
  const secret = credentialSecret(credential);
  if (secret) registerSecret(secret);
  return {
    ...names,
    name: names.provider,
    logged_in: !credential.needs_login,
    source: "store",
    method: credential.method,
    type: credential.type,
    secret: secret ? maskSecret(secret) : null,
    variables: [],
    expires_at: credential.expires_at ? new Date(credential.expires_at).toISOString() : null,
    needs_login: Boolean(credential.needs_login),
    updated_at: new Date(credential.updated_at).toISOString(),
    shadowed_by: null,
    backend,
    identity: credential.account ?? null,
    ...healthOf(credential, Boolean(secret), now),
    configured: false,
    usable: false,
  };
}

/**
 * --check: every stored secret is read where it lives, all at once (keyring reads share one
 * connection). A readable keyring secret is shown masked like the others.
 */
async function checkSecrets(ctx: Context, statuses: ProviderStatus[]): Promise<void> {
  await Promise.all(
    statuses.map(async (s) => {
      if (s.source !== "store") return;
      try {
        const credential = await ctx.store.readSecrets(s.id);
        const secret = credential ? credentialSecret(credential) : undefined;
        if (!secret)
          throw new AuthctlError("STORE_CORRUPT", `the stored ${s.id} credential holds no secret`, {
            hint: `run 'authctl login ${s.id}'`,
          });
        registerSecret(secret);
        s.secret = maskSecret(secret);
        s.check = { ok: true };
      } catch (error) {
        const e = isAuthctlError(error) ? error : new AuthctlError("INTERNAL", String(error));
        s.check = { ok: false, error: e.message, ...(e.hint ? { hint: e.hint } : {}) };
      }
    }),
  );
}

/**
 * The report goes to stdout. The exit code says whether everything reported can be used, as
 * `gh auth status` does: 0 when all can, 4 when any cannot (not logged in, expired without a
 * refresh token, needing a new login, provider gone from config.toml), 1 when --check could not
 * read a stored secret.
 */
export async function status(ctx: Context, options: StatusOptions): Promise<number> {
  const { deps } = ctx;
  const { statuses, warnings } = collectStatus(ctx, options);
  if (options.check) await checkSecrets(ctx, statuses);
  for (const warning of warnings) deps.ui.warn(warning);
  const project = projectStatus(ctx);
  if (options.json) {
    deps.writeStdout(
      `${JSON.stringify({ store: { path: ctx.store.path, backend: ctx.store.backend, ...answeredBy(ctx) }, project: project ?? null, providers: statuses }, null, 2)}\n`,
    );
  } else {
    if (project) printProject(ctx, project);
    printHuman(ctx, statuses);
  }
  const broken = statuses.filter((s) => s.check && !s.check.ok);
  if (broken.length > 0) {
    const first = broken[0]!.check as { hint?: string };
    throw new AuthctlError(
      "STORE_IO",
      `the stored secret of ${broken.map((s) => s.id).join(", ")} cannot be read`,
      { hint: first.hint },
    );
  }
  if (statuses.length === 0) {
    throw new AuthctlError(
      "NOT_LOGGED_IN",
      `not logged in to any provider (nothing in ${describeLocation(ctx.store.path)})`,
      {
        hint: "run 'authctl login' (or 'authctl login <provider>')",
      },
    );
  }
  // The report already says, per provider, what is wrong and what to run: no second message.
  return statuses.every((s) => s.usable) ? 0 : 4;
}

/** The project file first: it decides what `env` and `exec` hand out here. */
function printProject(ctx: Context, project: ProjectStatus): void {
  const { ui } = ctx.deps;
  const selects = project.providers.length ? project.providers.join(", ") : "no credentials";
  if (project.state === "invalid") {
    ui.result(`Project file ${project.path}: ✗ ${project.error?.replace(/^project file \S+: /, "")}`);
  } else if (project.state === "allowed") {
    ui.result(`Project file ${project.path}: ✓ allowed; 'env' and 'exec' hand out ${selects}`);
  } else {
    const why = project.state === "changed" ? "changed since it was allowed" : "not allowed";
    ui.result(
      `Project file ${project.path}: ✗ ${why}; it selects ${selects} — read it, then run 'authctl allow'`,
    );
  }
  ui.result("");
}

/** The team store says which etcd endpoint answered (the others may be down). */
function answeredBy(ctx: Context): { endpoint?: string } {
  const endpoint = (ctx.store as { answered?: string }).answered;
  return endpoint ? { endpoint } : {};
}

function printHuman(ctx: Context, statuses: ProviderStatus[]): void {
  const { ui } = ctx.deps;
  const { endpoint } = answeredBy(ctx);
  if (endpoint) ui.result(`store: ${ctx.store.path}, answered by ${endpoint}`);
  const now = ctx.deps.now();
  for (const s of statuses) {
    // Stored credentials name their account, and the one a bare provider id means says so.
    const account = s.source === "store" ? ` — account ${s.account}${s.default ? ", the default" : ""}` : "";
    ui.result(s.configured ? `${s.name} (${s.id})${account}` : `${s.id}${account}`);
    if (!s.source) {
      ui.result(`  ✗ not logged in — run 'authctl login ${s.id}'`);
      continue;
    }
    if (s.source === "environment") {
      ui.result(`  ✓ from the environment: ${s.variables.join(", ")} = ${s.secret}`);
      ui.result(`    not stored by authctl; 'authctl login ${s.id}' stores it`);
      continue;
    }
    const how = s.type === "api_key" ? "a key" : `an account login (${s.method})`;
    const secret = s.secret ?? (s.backend ? describeStore(s.backend).unreadSecret : "(secret sealed)");
    const who = s.identity ? ` as ${s.identity}` : "";
    if (!s.configured) {
      ui.result(
        `  ✗ provider no longer configured: ${how} ${secret}${who} is stored, but config.toml defines no [providers.${s.id}]`,
      );
      ui.result(`    add it back to config.toml to use it, or run 'authctl logout ${s.id}' to remove it`);
      continue;
    }
    ui.result(
      s.usable
        ? `  ✓ logged in with ${how} ${secret}${who}`
        : `  ✗ logged in with ${how} ${secret}${who}, but it cannot be used now:`,
    );
    if (s.needs_login)
      ui.result(
        `    ✗ needs a new login: the provider refused the last refresh — run 'authctl login ${s.id}'`,
      );
    else if (s.expires_at) ui.result(`    ${describeExpiry(s, Date.parse(s.expires_at), now)}`);
    if (s.backend) ui.result(`    stored ${describeStore(s.backend).describeLocation(ctx.store.path)}`);
    if (s.check?.ok) ui.result("    secret read back: ok");
    else if (s.check)
      ui.result(`    ✗ secret cannot be read: ${s.check.error}${s.check.hint ? ` (${s.check.hint})` : ""}`);
    ui.result(`    exports ${s.variables.join(", ")}`);
    if (s.shadowed_by) {
      ui.warn(
        `${s.shadowed_by.variable} in this shell holds a different value (${s.shadowed_by.secret}): programs you start directly use it; 'authctl exec' and 'authctl env' use the stored ${s.secret}`,
      );
    }
  }
}

function describeExpiry(s: ProviderStatus, expiresAt: number, now: number): string {
  if (!s.expired) {
    const refresh =
      s.refreshable === false ? "; cannot be refreshed, log in again then" : "; refreshed automatically";
    return `access token expires ${relativeTime(expiresAt, now)}${refresh}`;
  }
  if (s.refreshable === false)
    return `✗ expired ${relativeTime(expiresAt, now)} and cannot be refreshed (no refresh token) — run 'authctl login ${s.id}'`;
  return `access token expired ${relativeTime(expiresAt, now)}; refreshed on next use`;
}

/** "in 3 h", "12 min ago": what a person reads at a glance (the exact time is in --json). */
export function relativeTime(at: number, now: number): string {
  const delta = at - now;
  const abs = Math.abs(delta);
  const text =
    abs < 60_000
      ? "less than a minute"
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)} min`
        : abs < 48 * 3_600_000
          ? `${Math.round(abs / 3_600_000)} h`
          : `${Math.round(abs / 86_400_000)} days`;
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}
