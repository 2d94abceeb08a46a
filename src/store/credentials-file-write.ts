/**
 * Serialising `credentials.toml` back (credentials-file.ts reads it): the write path's half of
 * the format, kept apart so that `env`, `token` and `exec`, which only read, load neither it nor
 * smol-toml's writer (issue 18: every function a module brings costs a compiled binary's start-up).
 */
import { stringify } from "smol-toml";
import { AuthctlError } from "../errors.ts";
import {
  type CredentialsDocument,
  FIELDS,
  findCredentialProblem,
  isValidProviderId,
  STORE_HEADER,
} from "./credentials-file.ts";
import type { StoredCredential } from "./types.ts";

const KNOWN_FIELDS = new Set(FIELDS.map(([name]) => name));
const EPOCH_FIELDS = FIELDS.filter(([, kind]) => kind === "integer").map(([name]) => name);

/** Rebuilds one credential in the canonical field order, dropping empty values, keeping unknown fields. */
function orderCredential(id: string, credential: StoredCredential): Record<string, unknown> {
  const source = credential as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = Object.create(null);
  for (const [name] of FIELDS) {
    let value = source[name];
    // A computed expiry (`now + expires_in * 1000`) can be fractional; TOML would store a float
    // that the next read rejects, so whole milliseconds are kept.
    if (EPOCH_FIELDS.includes(name) && typeof value === "number" && Number.isFinite(value))
      value = Math.round(value);
    if (value !== undefined && value !== null) out[name] = value;
  }
  for (const [name, value] of Object.entries(source)) {
    if (!KNOWN_FIELDS.has(name) && value !== undefined && value !== null) out[name] = value;
  }
  const problem = findCredentialProblem(id, out);
  if (problem)
    throw new AuthctlError("INTERNAL", `refusing to store an invalid credential: ${problem.problem}`);
  return out;
}

/**
 * The full text of the store. Throws INTERNAL, before anything is written, for data that could
 * not be read back: an invalid provider id, a field of the wrong type.
 */
export function serializeCredentialsFile(document: CredentialsDocument): string {
  const root: Record<string, unknown> = Object.create(null);
  root.version = document.version;
  for (const [key, value] of Object.entries(document.preserved)) {
    if (!Object.hasOwn(document.credentials, key) && key !== "version") root[key] = value;
  }
  for (const [id, credential] of Object.entries(document.credentials)) {
    if (credential === undefined) continue;
    if (!isValidProviderId(id)) {
      throw new AuthctlError("INTERNAL", `refusing to store a credential under "${id}": not a provider id`);
    }
    root[id] = orderCredential(id, credential);
  }
  let body: string;
  try {
    body = stringify(root);
  } catch (error) {
    throw new AuthctlError("INTERNAL", "could not serialise the credential store", { cause: error });
  }
  return `${STORE_HEADER}\n${body}`;
}
