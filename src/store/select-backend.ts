/**
 * Which backend new secrets go to: `AUTHCTL_STORE`, else `store = "…"` in config.toml, else the
 * best available one — the automatic backends in their order (the keyring when it answers, else
 * the encrypted file). The plain file is only ever used when asked for.
 */
import type { Env } from "../deps.ts";
import { AuthctlError } from "../errors.ts";
import type { StorageBackend } from "./backend.ts";
import {
  automaticBackends,
  type BackendName,
  backendFor,
  isBackendName,
  isStoreName,
  listBackendNames,
  type StoreName,
} from "./backends.ts";

export type BackendChoice = {
  backend: BackendName | "auto";
  from: "AUTHCTL_STORE" | "config.toml" | "default";
};

/** Whether a backend can be used here: undefined when it can, else why not. */
export type Availability = {
  /** Without any I/O (an environment check). */
  quick(backend: StorageBackend<BackendName>): string | undefined;
  /** With one bounded call. */
  probe(backend: StorageBackend<BackendName>): Promise<string | undefined>;
};

/** Any registered name, whole stores included (`store migrate --to`). */
export function parseStoreName(value: string, from: string): StoreName {
  if (isStoreName(value)) return value;
  throw unknownName(value, from);
}

/** A backend of the local store (a whole store is chosen before this is asked: compose.ts). */
export function parseBackendName(value: string, from: string): BackendName {
  if (isBackendName(value)) return value;
  throw unknownName(value, from);
}

function unknownName(value: string, from: string): AuthctlError {
  return new AuthctlError("CONFIG_INVALID", `${from} must be ${listBackendNames()}, not "${value}"`, {
    hint:
      from === "AUTHCTL_STORE" ? "unset AUTHCTL_STORE to let authctl choose" : "fix `store` in config.toml",
  });
}

export function chooseBackend(env: Env, configured: string | undefined): BackendChoice {
  if (env.AUTHCTL_STORE)
    return { backend: parseBackendName(env.AUTHCTL_STORE, "AUTHCTL_STORE"), from: "AUTHCTL_STORE" };
  if (configured !== undefined)
    return { backend: parseBackendName(configured, "store in config.toml"), from: "config.toml" };
  return { backend: "auto", from: "default" };
}

/** The likely backend, decided without calling anything (for `status` and `store.backend`). */
export function guessBackend(choice: BackendChoice, available: Availability): BackendName {
  if (choice.backend !== "auto") return choice.backend;
  const candidates = automaticBackends();
  return (candidates.find((backend) => available.quick(backend) === undefined) ?? candidates.at(-1)!).name;
}

/**
 * The backend a write goes to, for certain. An explicitly chosen backend that does not answer is
 * an error; an automatically chosen one falls through to the next, with `fellThrough` saying
 * which did not answer and why (the caller shows that once).
 */
export async function resolveBackend(
  choice: BackendChoice,
  available: Availability,
): Promise<{ backend: BackendName; fellThrough?: { backend: BackendName; reason: string } }> {
  const reasonFor = async (backend: StorageBackend<BackendName>) =>
    available.quick(backend) ?? (await available.probe(backend));
  if (choice.backend !== "auto") {
    const backend = backendFor(choice.backend);
    const reason = await reasonFor(backend);
    if (reason === undefined) return { backend: backend.name };
    throw new AuthctlError(
      "STORE_IO",
      `${backend.label} is not available (${reason}), and ${choice.from} asks for it`,
      {
        hint: `${backend.unavailableHint ?? "make it available"}, or choose AUTHCTL_STORE=${automaticBackends().at(-1)!.name}`,
      },
    );
  }
  let fellThrough: { backend: BackendName; reason: string } | undefined;
  const candidates = automaticBackends();
  for (const backend of candidates) {
    const reason = await reasonFor(backend);
    if (reason === undefined) return { backend: backend.name, ...(fellThrough ? { fellThrough } : {}) };
    fellThrough ??= { backend: backend.name, reason };
  }
  // The last automatic backend (the encrypted file) needs nothing that can be missing.
  return { backend: candidates.at(-1)!.name, ...(fellThrough ? { fellThrough } : {}) };
}
