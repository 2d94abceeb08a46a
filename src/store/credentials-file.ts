/**
 * The text format of `credentials.toml`: parsing with field-by-field validation (serialising
 * back is credentials-file-write.ts, which `env`, `token` and `exec` never load). Pure functions, no file access. Every error names the file and, where it can
 * be found, the line, and never quotes the file: the line at fault may hold a secret.
 */
import type { TomlError } from "smol-toml";
import { AuthctlError } from "../errors.ts";
import { isProviderKey } from "../names.ts";
import { parseToml, tomlErrorOf } from "../plain-toml.ts";
import type { Credentials, StoredCredential } from "./types.ts";

/**
 * The newest format this authctl reads. 1: secrets sealed by field-name pattern, records not
 * authenticated. 2: a store with a key (encrypted) authenticates every record (`mac`, bound to
 * `generation`; see _integrity.ts). Stores without a key are written as 1, which any authctl reads.
 */
export const STORE_FORMAT_VERSION = 2;
export { CREDENTIALS_FILE } from "./files.ts";
export const STORE_HEADER = "# authctl credential store. Managed by authctl: use 'authctl login/logout'.";

/** Top-level keys of the file that are not provider tables. */
const RESERVED_KEYS = new Set(["version", "generation"]);

/**
 * True for keys that can name a table in the store (`[openrouter]`, `["openrouter@work"]`) without
 * clashing with `version`: a provider id, and `@<account>` for an account other than `default`
 * (store/accounts.ts).
 */
export function isValidProviderId(id: string): boolean {
  return isProviderKey(id) && !RESERVED_KEYS.has(id);
}

export interface CredentialsDocument {
  /** The file's format (see STORE_FORMAT_VERSION); 1 when absent. */
  version: number;
  credentials: Credentials;
  /** Top-level values other than `version` and provider tables, kept for the newer authctl that wrote them. */
  preserved: Record<string, unknown>;
}

type FieldKind = "string" | "integer" | "boolean" | "credential-type" | "string-table";

/** Known fields in the order they are written; unknown fields follow them, sub-tables come last. */
export const FIELDS: ReadonlyArray<readonly [name: string, kind: FieldKind, required: boolean]> = [
  ["method", "string", true],
  ["type", "credential-type", true],
  ["account", "string", false],
  ["label", "string", false],
  ["key", "string", false],
  ["access_token", "string", false],
  ["refresh_token", "string", false],
  ["id_token", "string", false],
  ["token_type", "string", false],
  ["scope", "string", false],
  ["expires_at", "integer", false],
  ["obtained_at", "integer", false],
  ["rotated_at", "integer", false],
  ["needs_login", "boolean", false],
  ["default", "boolean", false],
  ["created_at", "integer", true],
  ["updated_at", "integer", true],
  ["mac", "string", false],
  ["extra", "string-table", false],
];

const EXPECTED: Record<FieldKind, string> = {
  string: "a string",
  integer: "an integer (epoch milliseconds)",
  boolean: "true or false",
  "credential-type": '"api_key" or "oauth"',
  "string-table": "a table of strings",
};

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Names the kind of a value without showing it. */
function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (isTable(value)) return "a table";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a number";
  return `a ${typeof value}`;
}

function fitsKind(value: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case "string":
      return typeof value === "string";
    case "integer":
      return typeof value === "number" && Number.isSafeInteger(value);
    case "boolean":
      return typeof value === "boolean";
    case "credential-type":
      return value === "api_key" || value === "oauth";
    case "string-table":
      return isTable(value) && Object.values(value).every((entry) => typeof entry === "string");
  }
}

/** The problem with one credential, as "openrouter.expires_at must be …", or undefined. */
export function findCredentialProblem(
  id: string,
  credential: unknown,
): { field?: string; problem: string } | undefined {
  if (!isTable(credential)) return { problem: `[${id}] must be a table, found ${describe(credential)}` };
  for (const [name, kind, required] of FIELDS) {
    const value = credential[name];
    if (value === undefined || value === null) {
      if (required) return { field: name, problem: `${id}.${name} is missing` };
      continue;
    }
    if (!fitsKind(value, kind)) {
      let found = describe(value);
      if (kind === "credential-type" && typeof value === "string") found = "another string";
      if (kind === "string-table" && isTable(value)) found = "a value that is not a string";
      return { field: name, problem: `${id}.${name} must be ${EXPECTED[kind]}, found ${found}` };
    }
  }
  return undefined;
}

function corrupt(path: string, what: string, line: number | undefined, cause?: unknown): AuthctlError {
  const where = line === undefined ? "" : ` (line ${line})`;
  return new AuthctlError("STORE_CORRUPT", `credentials store ${path} is invalid${where}: ${what}`, {
    hint: "fix or move the file aside; authctl will not overwrite it",
    cause,
    detail: { path, line },
  });
}

/**
 * smol-toml's message carries a code block quoting the offending lines. Keep only its first line,
 * and only if it reads like one of the library's fixed phrases: anything else (a Temporal parser
 * message, say) could quote the document.
 */
function tomlReason(error: TomlError): string {
  const first = (error.message.split("\n", 1)[0] ?? "").replace(/^Invalid TOML document:\s*/, "").trim();
  return /^[A-Za-z ,:;.()-]{1,120}$/.test(first) ? first : "invalid value";
}

/**
 * The line of `key` in `[table]` (or of the table header), found by a plain scan. Good enough to
 * point a person at the spot; undefined when the file uses a form the scan does not follow.
 */
function findLine(text: string, table: string | undefined, key?: string): number | undefined {
  const lines = text.split(/\r?\n/);
  let current: string | undefined;
  let headerLine: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    const header = /^\[\s*([^[\]]+?)\s*\]/.exec(line);
    if (header) {
      current = (header[1] ?? "").replaceAll('"', "").replace(/\s*\.\s*/g, ".");
      if (current === table) headerLine ??= i + 1;
      if (key !== undefined && current === `${table}.${key}`) return i + 1;
      continue;
    }
    if (current === table && key !== undefined && line.replace(/^"/, "").startsWith(key)) {
      if (/^\s*=/.test(line.replace(/^"/, "").slice(key.length).replace(/^"/, ""))) return i + 1;
    }
  }
  return headerLine;
}

/** Parses and validates the store's text. Throws STORE_CORRUPT naming `path` (and the line) on any problem. */
export function parseCredentialsFile(text: string, path: string): CredentialsDocument {
  let root: Record<string, unknown>;
  try {
    // A byte-order mark is not TOML; dropped without a regular expression (src/names.ts says why).
    const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    // The file as authctl writes it is read without smol-toml's parser (src/plain-toml.ts).
    root = parseToml(body);
  } catch (error) {
    const tomlError = tomlErrorOf(error);
    if (tomlError) {
      throw new AuthctlError(
        "STORE_CORRUPT",
        `credentials store ${path} does not parse (line ${tomlError.line}, column ${tomlError.column}): ${tomlReason(tomlError)}`,
        {
          hint: "fix or move the file aside; authctl will not overwrite it",
          detail: { path, line: tomlError.line },
        },
      );
    }
    throw corrupt(path, "the TOML parser failed", undefined, error);
  }

  const version = root.version ?? 1;
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 1) {
    throw corrupt(path, "version must be a positive integer", findLine(text, undefined, "version"));
  }
  if (version > STORE_FORMAT_VERSION) {
    throw new AuthctlError(
      "STORE_CORRUPT",
      `credentials store ${path} has format version ${version} (line ${findLine(text, undefined, "version") ?? 1}); this authctl reads version ${STORE_FORMAT_VERSION}`,
      {
        hint: "upgrade authctl; it will not overwrite a store written by a newer version",
        detail: { path, version },
      },
    );
  }

  const credentials: Credentials = Object.create(null);
  const preserved: Record<string, unknown> = Object.create(null);
  for (const [id, value] of Object.entries(root)) {
    if (id === "version") continue;
    if (!isTable(value)) {
      preserved[id] = value;
      continue;
    }
    if (!isValidProviderId(id)) {
      throw corrupt(
        path,
        `[${id}] is not a provider id (lower-case letters, digits and '-', then @ and an account name)`,
        findLine(text, id),
      );
    }
    const problem = findCredentialProblem(id, value);
    if (problem) {
      const line = problem.field === undefined ? findLine(text, id) : findLine(text, id, problem.field);
      throw corrupt(path, problem.problem, line);
    }
    credentials[id] = value as unknown as StoredCredential;
  }
  return { version, credentials, preserved };
}
