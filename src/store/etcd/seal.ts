/**
 * What reaches etcd: each credential as one JSON record whose secret fields (the same fields the
 * encrypted file seals: _secret-fields.ts) are sealed on this machine with AES-256-GCM under the
 * team's seal key, a random 96-bit nonce per value (NIST SP 800-38D §8.2.2), and additional data
 * binding the value to the store's prefix, the provider, the account and the field. A value
 * copied to another field, credential or team prefix does not open there.
 *
 * The rest of the record (method, expiry, and above all the endpoints and hosts that decide where
 * a secret is sent: token_url, revocation_url, a Copilot host…) is authenticated by an
 * HMAC-SHA256 (RFC 2104) over the prefix, the id and the whole record as written, under a key
 * derived from the seal key: whoever can write etcd without the seal key cannot point a secret
 * elsewhere, or put a plaintext value where a sealed one was.
 *
 * The sealed-value text is the encrypted file's (store/_aead.ts: one AES-256-GCM wire format);
 * what differs is the additional data (prefix and account), which stays in this file.
 */
import { AuthctlError } from "../../errors.ts";
import { canonicalJson, listSecrets, listStrings, setSecret } from "../_secret-fields.ts";
import type { StoredCredential } from "../types.ts";
import { openAesGcm, openAheadAesGcm, SEALED_PREFIX, sealAesGcm } from "../_aead.ts";
import { hkdfSha256, hmacSha256, sameMac } from "../_integrity.ts";

const SEALED = SEALED_PREFIX;
const MAC_PREFIX = "hmac-sha256:";
/** The sealed text stored at `<prefix>key-check`: a wrong seal key is told apart from an altered record. */
const KEY_CHECK_TEXT = "authctl etcd key check v1";

export interface TeamKey {
  key: Buffer;
  macKey: Buffer;
  /** The manifest's MAC key (manifest.ts): HKDF-SHA256 of the seal key with its own label. */
  manifestKey: Buffer;
  /** Where it came from, for messages: "AUTHCTL_ETCD_KEY" or "seal_key_file /path". */
  source: string;
}

/**
 * Both MAC keys come from the runtime's own HMAC (_integrity.ts), not node:crypto: `env`, `token`
 * and `exec` derive them on every read of the team store, and loading node:crypto cost that read
 * 2-3 ms (measured; in this binary its memory is mostly shared with fetch's: issue 18). The bytes are those
 * node:crypto's createHmac and hkdfSync (empty salt) gave, so stores written before still verify.
 */
export function createTeamKey(raw: Buffer, source: string): TeamKey {
  return {
    key: raw,
    macKey: hmacSha256(raw, "authctl:etcd:v1:record-mac-key"),
    manifestKey: hkdfSha256(raw, new Uint8Array(0), "authctl:etcd:v1:manifest-mac-key", 32),
    source,
  };
}

/** `<provider>@<account>` ids (accounts) and bare provider ids (the account `default`). */
export function splitId(id: string): { provider: string; account: string } {
  const at = id.indexOf("@");
  return at < 0
    ? { provider: id, account: "default" }
    : { provider: id.slice(0, at), account: id.slice(at + 1) };
}

function aad(prefix: string, id: string, field: string): Buffer {
  const { provider, account } = splitId(id);
  return Buffer.from(`authctl:etcd:v1:value\n${prefix}\n${provider}\n${account}\n${field}`, "utf8");
}

export const seal = sealAesGcm;
export const open = openAesGcm;

export function sealKeyCheck(key: TeamKey, prefix: string): string {
  return seal(key.key, KEY_CHECK_TEXT, Buffer.from(`authctl:etcd:v1:key-check\n${prefix}`));
}

export function opensKeyCheck(key: TeamKey, prefix: string, sealed: string): boolean {
  return open(key.key, sealed, keyCheckAad(prefix)) === KEY_CHECK_TEXT;
}

function keyCheckAad(prefix: string): Buffer {
  return Buffer.from(`authctl:etcd:v1:key-check\n${prefix}`);
}

/**
 * Opens ahead, with crypto.subtle (_aead.ts openAheadAesGcm), what openStoreState will open
 * synchronously: the key check and every secret field of every record, each with the additional
 * data openRecord gives it. So the read that `env`, `token` and `exec` make loads no node:crypto;
 * a value not opened here is opened by node:crypto as before, with the same answer.
 */
export async function openRecordsAhead(
  key: TeamKey,
  prefix: string,
  keyCheck: string | undefined,
  records: Iterable<[id: string, text: string]>,
): Promise<void> {
  const values: Array<{ sealed: string; additional: Buffer }> = [];
  if (keyCheck !== undefined) values.push({ sealed: keyCheck, additional: keyCheckAad(prefix) });
  for (const [id, text] of records) {
    const record = parseRecord(text);
    if (!record) continue;
    for (const [field, value] of listSecrets(record))
      if (value.startsWith(SEALED)) values.push({ sealed: value, additional: aad(prefix, id, field) });
  }
  if (values.length) await openAheadAesGcm(key.key, values);
}

function recordMac(key: TeamKey, prefix: string, id: string, record: StoredCredential): string {
  const { mac: _omit, ...rest } = record as unknown as Record<string, unknown>;
  const input = `authctl:etcd:v1:record\n${prefix}\n${id}\n${canonicalJson(rest as unknown as StoredCredential)}`;
  return MAC_PREFIX + hmacSha256(key.macKey, input).toString("base64");
}

/**
 * A field of the record as stored (under its MAC), not of the credential: the record was written
 * while the store had a manifest (manifest.ts). Such a record in a store without a manifest means
 * the manifest was deleted, not that the store predates it.
 */
const UNDER_MANIFEST = "manifest";

/** The JSON text stored for a credential: secrets sealed, the whole record MACed. */
export function sealRecord(key: TeamKey, prefix: string, id: string, credential: StoredCredential): string {
  const record = structuredClone(credential) as StoredCredential;
  for (const [field, value] of listSecrets(credential))
    setSecret(record, field, seal(key.key, value, aad(prefix, id, field)));
  (record as unknown as Record<string, unknown>)[UNDER_MANIFEST] = 1;
  (record as unknown as Record<string, unknown>).mac = recordMac(key, prefix, id, record);
  return JSON.stringify(record);
}

/**
 * Whether a record says it was written under a manifest. Read without verifying its MAC: someone
 * without the key can add the mark (which only makes authctl refuse the store, as deleting
 * records would) but not remove it, since that breaks the record's MAC.
 */
export function writtenUnderManifest(text: string): boolean {
  return (parseRecord(text) as unknown as Record<string, unknown> | undefined)?.[UNDER_MANIFEST] === 1;
}

/** The record without opening anything: metadata only (sealed values and the MAC left out). */
export function recordMetadata(text: string): StoredCredential | undefined {
  const record = parseRecord(text);
  if (!record) return undefined;
  delete (record as unknown as Record<string, unknown>).mac;
  delete (record as unknown as Record<string, unknown>)[UNDER_MANIFEST];
  for (const [field, value] of listStrings(record))
    if (value.startsWith(SEALED)) setSecret(record, field, undefined);
  return record;
}

function parseRecord(text: string): StoredCredential | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    return value as StoredCredential;
  } catch {
    return undefined;
  }
}

/**
 * The credential with its secrets opened. Undefined when the record does not authenticate under
 * this key (the caller tells a wrong key from an altered record with the key check).
 */
export function openRecord(
  key: TeamKey,
  prefix: string,
  id: string,
  text: string,
): StoredCredential | undefined {
  const record = parseRecord(text);
  if (!record) return undefined;
  const mac = (record as unknown as Record<string, unknown>).mac;
  if (typeof mac !== "string" || !sameMac(mac, recordMac(key, prefix, id, record))) return undefined;
  const credential = structuredClone(record);
  delete (credential as unknown as Record<string, unknown>).mac;
  delete (credential as unknown as Record<string, unknown>)[UNDER_MANIFEST];
  // Every secret field must be sealed: a plaintext value where a secret belongs is not ours.
  for (const [field, value] of listSecrets(credential)) {
    const plain = open(key.key, value, aad(prefix, id, field));
    if (plain === undefined) return undefined;
    setSecret(credential, field, plain);
  }
  return credential;
}

/**
 * The team key: AUTHCTL_ETCD_KEY (base64 of 32 bytes), else the file `seal_key_file` names
 * (the same base64 text, or the 32 raw bytes). Missing or malformed: one line saying where it
 * comes from. `early`: the file's bytes as the store's open() read them with Bun's file API in the
 * usual case (quick-read.ts readFileQuickly); without them it is read here with node:fs.
 */
export function loadTeamKey(
  envValue: string | undefined,
  file: string | undefined,
  early?: Uint8Array,
): TeamKey {
  const where =
    "set AUTHCTL_ETCD_KEY (base64 of 32 random bytes: head -c 32 /dev/urandom | base64) or [etcd] seal_key_file in config.toml";
  if (envValue) {
    const raw = decodeKey(envValue);
    if (!raw)
      throw new AuthctlError("CONFIG_INVALID", "AUTHCTL_ETCD_KEY is not the base64 of 32 bytes", {
        hint: where,
      });
    return createTeamKey(raw, "AUTHCTL_ETCD_KEY");
  }
  if (file) {
    let bytes: Buffer;
    try {
      bytes = early
        ? Buffer.from(early)
        : (require("node:fs") as typeof import("node:fs")).readFileSync(file);
    } catch (error) {
      throw new AuthctlError(
        "CONFIG_INVALID",
        `cannot read the etcd seal key from [etcd] seal_key_file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
        { hint: where },
      );
    }
    const raw = bytes.length === 32 ? bytes : decodeKey(bytes.toString("utf8"));
    if (!raw)
      throw new AuthctlError(
        "CONFIG_INVALID",
        `[etcd] seal_key_file ${file} does not hold 32 bytes (raw or base64)`,
        {
          hint: where,
        },
      );
    return createTeamKey(raw, `seal_key_file ${file}`);
  }
  throw new AuthctlError("CONFIG_INVALID", "the team store on etcd needs its seal key, and none is set", {
    hint: where,
  });
}

function decodeKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) return undefined;
  const raw = Buffer.from(trimmed, "base64");
  return raw.length === 32 ? raw : undefined;
}
