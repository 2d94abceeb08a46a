/**
 * Which fields of a credential are secret (sealed by the encrypted backend, moved to the keyring
 * by the keyring backend) and which are metadata that `status` reads without unsealing anything.
 */
import { AuthctlError } from "../errors.ts";
import type { StoredCredential } from "./types.ts";

const SECRET_FIELDS = ["key", "access_token", "refresh_token", "id_token"] as const;
/**
 * The `extra` entries that hold secrets are declared by the providers that write them
 * (`extra: { copilot_token: { secret: true } }` on the definition; providers/extra-fields.ts
 * collects them). Every other entry (hosts, endpoint URLs, account ids, expiries) is metadata.
 * Read from the generated table (the same names; test/unit/builtin-table.test.ts): importing
 * the provider files here put them, and the OAuth code they import, on the path of every reader
 * of the store, the usual case of `env` on a sealed store included (issue 18).
 */
import { SECRET_EXTRA_FIELDS } from "../providers/builtin-table.ts";

let secretNames: ReadonlySet<string> | undefined;
const secretExtraFields = (): ReadonlySet<string> => (secretNames ??= new Set(SECRET_EXTRA_FIELDS));
/**
 * Format 1 sealed every `extra` entry whose name matched this (so `token_url` and
 * `copilot_expires_at` too). Only used to read such files: a plaintext value where format 1
 * would have sealed one is refused there.
 */
export const LEGACY_SECRET_EXTRA = /token|secret|password|key/i;

/** A secret field's name as used in additional data and messages: `key`, `extra.copilot_token`. */
export type SecretEntry = [field: string, value: string];

export function listSecrets(credential: StoredCredential): SecretEntry[] {
  const source = credential as unknown as Record<string, unknown>;
  const out: SecretEntry[] = [];
  for (const name of SECRET_FIELDS)
    if (typeof source[name] === "string") out.push([name, source[name] as string]);
  if (credential.extra) {
    const secret = secretExtraFields();
    for (const [name, value] of Object.entries(credential.extra))
      if (secret.has(name) && typeof value === "string") out.push([`extra.${name}`, value]);
  }
  return out;
}

export function setSecret(credential: StoredCredential, field: string, value: string | undefined): void {
  if (field.startsWith("extra.")) {
    const name = field.slice(6);
    const extra = { ...credential.extra };
    if (value === undefined) delete extra[name];
    else extra[name] = value;
    credential.extra = Object.keys(extra).length ? extra : undefined;
    if (!credential.extra) delete credential.extra;
    return;
  }
  const target = credential as unknown as Record<string, unknown>;
  if (value === undefined) delete target[field];
  else target[field] = value;
}

/** Every string value of a credential, top level and `extra`, as `[field, value]` (`extra.host`). */
export function listStrings(credential: StoredCredential): SecretEntry[] {
  const out: SecretEntry[] = [];
  for (const [name, value] of Object.entries(credential))
    if (typeof value === "string") out.push([name, value]);
  for (const [name, value] of Object.entries(credential.extra ?? {}))
    if (typeof value === "string") out.push([`extra.${name}`, value]);
  return out;
}

/** The fields format 1 of the encrypted store sealed. */
export function isLegacySecretField(field: string): boolean {
  if ((SECRET_FIELDS as readonly string[]).includes(field)) return true;
  return field.startsWith("extra.") && LEGACY_SECRET_EXTRA.test(field.slice(6));
}

/** A shallow copy (and a copy of `extra`), so changing secret fields leaves the original alone. */
export function copyCredential(credential: StoredCredential): StoredCredential {
  const copy = { ...credential };
  if (credential.extra) copy.extra = { ...credential.extra };
  return copy;
}

/** The metadata only: a copy with every secret field removed. */
export function withoutSecrets(credential: StoredCredential): StoredCredential {
  const copy = copyCredential(credential);
  for (const [field] of listSecrets(credential)) setSecret(copy, field, undefined);
  return copy;
}

/**
 * The field of a keyring item naming the store that wrote it (its AUTHCTL_HOME). Items are per
 * user (service authctl, account = provider id) while stores are per directory: two stores must
 * never silently use, or delete, each other's item.
 */
export const ITEM_OWNER_FIELD = "authctl_home";

/**
 * The field of a keyring item holding a digest of the record credentials.toml keeps beside it
 * (endpoints, hosts, method, expiry): the file can be edited by whoever can write it, the item
 * only through the keyring, so a record changed behind authctl's back no longer matches its item
 * and its secrets are not handed out to wherever it now points.
 */
export const ITEM_META_FIELD = "authctl_meta";

/** The secret fields as the JSON a keyring item holds: `{"key":"…","authctl_home":"…","authctl_meta":"…"}`. */
export function secretsJson(credential: StoredCredential, owner: string, meta?: string): string {
  return JSON.stringify({
    ...Object.fromEntries(listSecrets(credential)),
    [ITEM_OWNER_FIELD]: owner,
    ...(meta ? { [ITEM_META_FIELD]: meta } : {}),
  });
}

/** A keyring item's secrets and the store that wrote it (none for items written before owners were recorded). */
export function parseSecretsJson(
  json: string,
  id: string,
): { secrets: Record<string, string>; owner?: string; meta?: string } {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    value = undefined;
  }
  if (
    typeof value !== "object" ||
    value === null ||
    Array.isArray(value) ||
    !Object.values(value).every((v) => typeof v === "string")
  ) {
    throw new AuthctlError(
      "STORE_CORRUPT",
      `the keyring item authctl/${id} is not what authctl stored there`,
      {
        hint: `run 'authctl login ${id}' to store it again`,
      },
    );
  }
  const { [ITEM_OWNER_FIELD]: owner, [ITEM_META_FIELD]: meta, ...secrets } = value as Record<string, string>;
  return { secrets, owner, meta };
}

/** Puts parsed keyring secrets back into a credential. */
export function mergeSecrets(credential: StoredCredential, secrets: Record<string, string>): void {
  for (const [field, secret] of Object.entries(secrets)) setSecret(credential, field, secret);
}

/** A stable text form for "did this credential change?": key order does not count. */
export function canonicalJson(credential: StoredCredential | undefined): string {
  if (!credential) return "";
  const sort = (value: unknown): unknown => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, sort(v)]),
    );
  };
  return JSON.stringify(sort(credential));
}
