/**
 * What a resolved credential becomes: the variables a program is given, and the environment
 * `exec` builds for its child. Pure functions over the provider table and the stored record, shared
 * by the actions (resolve.ts, env.ts, exec.ts) and the usual-case lane (usual-case.ts), so both
 * hand out exactly the same variables.
 */
import { AuthctlError } from "../errors.ts";
import { isAuthctlSecretName, isEnvVarName } from "../names.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import type { StoredCredential } from "../store/types.ts";
import type { Env } from "../deps.ts";

export function credentialSecret(credential: StoredCredential): string | undefined {
  return credential.type === "api_key" ? credential.key : credential.access_token;
}

export function credentialVars(
  provider: ProviderDefinition,
  credential: StoredCredential,
): Array<[string, string]> {
  const secret = credentialSecret(credential);
  if (!secret) return [];
  const method = provider.methods.find((m) => m.id === credential.method);
  if (credential.type === "oauth" && method?.kind === "oauth") {
    const out: Array<[string, string]> = [];
    for (const [name, field] of Object.entries(method.env)) {
      const value = fieldValue(credential, field);
      if (value) out.push([name, value]);
    }
    return out;
  }
  return provider.keyVars.map((name) => [name, secret] as [string, string]);
}

function fieldValue(credential: StoredCredential, field: string): string | undefined {
  // A constant that tells the program which credential kind it gets (GOOGLE_GENAI_USE_GCA=true).
  if (field.startsWith("literal:")) return field.slice("literal:".length);
  if (field === "access_token") return credential.access_token;
  if (field === "id_token") return credential.id_token;
  if (field === "key") return credential.key;
  if (field === "account") return credential.account;
  // Own string fields only: `env = { X = "constructor" }` must not reach Object.prototype.
  const extra = credential.extra;
  return extra && Object.hasOwn(extra, field) && typeof extra[field] === "string" ? extra[field] : undefined;
}

export function collectVars(resolved: Array<Pick<CredentialVars, "vars">>): Array<[string, string]> {
  const vars = new Map<string, string>();
  for (const r of resolved) for (const [name, value] of r.vars) vars.set(name, value);
  return [...vars];
}

/** One credential as the variables code sees it. */
export interface CredentialVars {
  provider: ProviderDefinition;
  credential?: StoredCredential;
  vars: Array<[string, string]>;
}

/**
 * The child's environment: `base` is `env` without authctl's own secrets (what `exec --proxy`
 * starts from), `child` is that with the providers' competing variables removed and the resolved
 * ones set. Throws (nothing run) for a variable no environment can carry.
 */
export function childEnvironment(
  env: Env,
  resolved: CredentialVars[],
): { base: Record<string, string>; child: Record<string, string> } {
  for (const r of resolved) checkVars(r.provider.id, r.vars);
  const base: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !isAuthctlSecretVar(name)) base[name] = value;
  }
  const child: Record<string, string> = { ...base };
  const injected = collectVars(resolved);
  const injectedNames = new Set(injected.map(([name]) => name));
  for (const r of resolved) {
    for (const name of competingVars(r.provider, r.credential?.method))
      if (!injectedNames.has(name)) delete child[name];
  }
  for (const [name, value] of injected) child[name] = value;
  return { base, child };
}

/**
 * Variables that would compete with what is injected: the provider's other names for the same
 * key and the ones it declares in conflictVars (a stale ANTHROPIC_AUTH_TOKEN outranks an injected
 * ANTHROPIC_API_KEY in Claude Code).
 */
export function competingVars(provider: ProviderDefinition, method?: string): string[] {
  const oauth = provider.methods.find((m) => m.id === method);
  const methodVars = oauth?.kind === "oauth" ? (oauth.conflictVars ?? []) : [];
  return [...(provider.aliasVars ?? []), ...(provider.conflictVars ?? []), ...methodVars];
}

/**
 * authctl's own secrets (the store passphrase, and any later AUTHCTL_*_PASSWORD, _KEY, _TOKEN or
 * _SECRET) never reach a child: with AUTHCTL_PASSPHRASE the child could open the whole store,
 * every provider's refresh token included (issue 13.6).
 */
export function isAuthctlSecretVar(name: string): boolean {
  return isAuthctlSecretName(name);
}

/**
 * An environment cannot carry a NUL byte (or a value that is not a string): Bun and Node refuse
 * the whole environment and quote all of it, keys included, in their error (issue 13.3). Refuse
 * here, naming the variable and never its value.
 */
function checkVars(providerId: string, vars: Array<[string, string]>): void {
  for (const [name, value] of vars) {
    if (!isEnvVarName(name)) {
      throw new AuthctlError(
        "CONFIG_INVALID",
        `${providerId}: '${name}' is not a variable name; nothing was run`,
      );
    }
    if (typeof value !== "string" || value.includes("\0")) {
      throw new AuthctlError(
        "STORE_CORRUPT",
        `the ${providerId} credential for ${name} ${typeof value === "string" ? "holds a NUL byte, which no environment variable can carry" : "is not a text value"}; nothing was run`,
        {
          hint: `log in again: authctl login ${providerId}`,
        },
      );
    }
  }
}
