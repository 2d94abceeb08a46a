import { AuthctlError, isAuthctlError } from "../errors.ts";
import type { BackendName, StoreSnapshot } from "../store/types.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import { maskSecret, registerSecret } from "../redact.ts";
import type { Context } from "./context.ts";
import { credentialSecret, credentialVars, findInEnvironment } from "./resolve.ts";

export interface StatusOptions {
  providerIds: string[];
  json: boolean;
  /** Also read every stored secret (the keyring, the sealed file) to prove it can be had. */
  check?: boolean;
}

export interface ProviderStatus {
  id: string;
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
  backend: BackendName | null;
  /** With --check: whether the stored secret could be read, and if not why. */
  check?: { ok: true } | { ok: false; error: string; hint?: string };
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
    const why = isAuthctlError(error) ? `${error.message}${error.hint ? ` (${error.hint})` : ""}` : String(error);
    return { ...snapshot, warnings: [...snapshot.warnings, `sealed secrets are not shown: ${why}`] };
  }
}

export function collectStatus(ctx: Context, options: StatusOptions): { statuses: ProviderStatus[]; warnings: string[] } {
  const snapshot = readForStatus(ctx);
  const env = ctx.deps.env;
  let providers: ProviderDefinition[];
  if (options.providerIds.length) providers = options.providerIds.map((id) => ctx.registry.require(id));
  else providers = ctx.registry.list().filter((p) => snapshot.credentials[p.id] || findInEnvironment(p, env));
  const statuses = providers.map((provider): ProviderStatus => {
    const credential = snapshot.credentials[provider.id];
    const fromEnv = findInEnvironment(provider, env);
    if (fromEnv) registerSecret(fromEnv.value);
    const secret = credential ? credentialSecret(credential) : undefined;
    if (secret) registerSecret(secret);
    const base = { id: provider.id, name: provider.name, variables: provider.keyVars };
    // A keyring secret is not fetched: status never calls (or prompts for) the keyring.
    const backend = credential ? (snapshot.backends[provider.id] ?? "file") : null;
    if (credential && (secret || backend === "keyring" || backend === "encrypted")) {
      // An account login exports its own variables (CLAUDE_CODE_OAUTH_TOKEN, CHATGPT_ACCESS_TOKEN, …).
      if (secret) base.variables = credentialVars(provider, credential).map(([name]) => name);
      const shadow = secret ? [...provider.keyVars, ...(provider.aliasVars ?? [])].find((name) => env[name] && env[name] !== secret) : undefined;
      return {
        ...base,
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
      };
    }
    if (fromEnv) {
      return {
        ...base, logged_in: true, source: "environment", method: "environment", type: "api_key",
        secret: maskSecret(fromEnv.value), expires_at: null, needs_login: false, updated_at: null,
        shadowed_by: null, backend: null, variables: [fromEnv.name],
      };
    }
    return {
      ...base, logged_in: false, source: null, method: null, type: null, secret: null, expires_at: null,
      needs_login: false, updated_at: null, shadowed_by: null, backend: null,
    };
  });
  const damaged = Object.values(snapshot.damaged ?? {}).map((error) => `${error.message}; its secret is not shown`);
  return { statuses, warnings: [...snapshot.warnings, ...damaged] };
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
        if (!secret) throw new AuthctlError("STORE_CORRUPT", `the stored ${s.id} credential holds no secret`, { hint: `run 'authctl login ${s.id}'` });
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

export async function status(ctx: Context, options: StatusOptions): Promise<void> {
  const { deps } = ctx;
  const { statuses, warnings } = collectStatus(ctx, options);
  if (options.check) await checkSecrets(ctx, statuses);
  for (const warning of warnings) deps.ui.warn(warning);
  if (options.json) {
    deps.writeStdout(`${JSON.stringify({ store: { path: ctx.store.path, backend: ctx.store.backend }, providers: statuses }, null, 2)}\n`);
  } else {
    printHuman(ctx, statuses);
  }
  const broken = statuses.filter((s) => s.check && !s.check.ok);
  if (broken.length > 0) {
    const first = broken[0]!.check as { hint?: string };
    throw new AuthctlError("STORE_IO", `the stored secret of ${broken.map((s) => s.id).join(", ")} cannot be read`, { hint: first.hint });
  }
  const missing = statuses.filter((s) => !s.logged_in);
  if (statuses.length === 0 || (options.providerIds.length > 0 && missing.length > 0)) {
    const what = options.providerIds.length ? `${missing.map((s) => s.id).join(", ")} not logged in` : "not logged in to any provider";
    throw new AuthctlError("NOT_LOGGED_IN", what, {
      hint: `run 'authctl login${missing.length === 1 ? ` ${missing[0]!.id}` : ""}'`,
    });
  }
}

function printHuman(ctx: Context, statuses: ProviderStatus[]): void {
  const { ui } = ctx.deps;
  for (const s of statuses) {
    ui.line(`${s.name} (${s.id})`);
    if (!s.source) {
      ui.line(`  ✗ not logged in — run 'authctl login ${s.id}'`);
      continue;
    }
    if (s.source === "environment") {
      ui.line(`  ✓ from the environment: ${s.variables.join(", ")} = ${s.secret}`);
      ui.line(`    not stored by authctl; 'authctl login ${s.id}' stores it`);
      continue;
    }
    const how = s.type === "api_key" ? "API key" : `${s.method} login`;
    const secret = s.secret ?? (s.backend === "keyring" ? "(secret in the keyring)" : "(secret sealed)");
    ui.line(`  ${s.needs_login ? "✗ needs login" : "✓ logged in"} with ${how} ${secret}, from the store (${describeBackend(s.backend, ctx.store.path)})`);
    if (s.check?.ok) ui.line("    secret read back: ok");
    else if (s.check) ui.warn(`    ✗ secret cannot be read: ${s.check.error}${s.check.hint ? ` (${s.check.hint})` : ""}`);
    if (s.expires_at) ui.line(`    access token expires ${s.expires_at}`);
    ui.line(`    exports ${s.variables.join(", ")}`);
    if (s.shadowed_by) {
      ui.warn(
        `  ${s.shadowed_by.variable} in this shell holds a different value (${s.shadowed_by.secret}): programs you start directly use it; 'authctl exec' and 'authctl env' use the stored ${s.secret}`,
      );
    }
  }
}

function describeBackend(backend: BackendName | null, path: string): string {
  if (backend === "keyring") return "keyring, service authctl";
  if (backend === "encrypted") return `encrypted, ${path}`;
  return `plain file, ${path}`;
}
