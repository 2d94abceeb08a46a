/**
 * Which backend new secrets go to: `AUTHCTL_STORE`, else `store = "…"` in config.toml, else the
 * best available one — the keyring when it answers, else the encrypted file. The plain file is
 * only ever used when asked for.
 */
import type { Env } from "../deps.ts";
import { AuthctlError } from "../errors.ts";
import type { Keyring } from "./keyring.ts";
import { BACKEND_NAMES, type BackendName } from "./types.ts";

export type BackendChoice = {
  backend: BackendName | "auto";
  from: "AUTHCTL_STORE" | "config.toml" | "default";
};

export function parseBackendName(value: string, from: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new AuthctlError("CONFIG_INVALID", `${from} must be keyring, encrypted or file, not "${value}"`, {
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

/** The likely backend, decided without calling the keyring (for `status` and `store.backend`). */
export function guessBackend(choice: BackendChoice, keyring: Keyring): BackendName {
  if (choice.backend !== "auto") return choice.backend;
  return keyring.quickUnavailableReason() === undefined ? "keyring" : "encrypted";
}

/**
 * The backend a write goes to, for certain. An explicitly chosen keyring that does not answer is
 * an error; an automatically chosen one falls through to the encrypted file, with `fellThrough`
 * saying why (the caller shows that once).
 */
export async function resolveBackend(
  choice: BackendChoice,
  keyring: Keyring,
): Promise<{ backend: BackendName; fellThrough?: string }> {
  if (choice.backend !== "auto" && choice.backend !== "keyring") return { backend: choice.backend };
  const reason = keyring.quickUnavailableReason() ?? (await keyring.probe());
  if (reason === undefined) return { backend: "keyring" };
  if (choice.backend === "keyring") {
    throw new AuthctlError(
      "STORE_IO",
      `the keyring is not available (${reason}), and ${choice.from} asks for it`,
      {
        hint: "unlock the keyring or start a D-Bus session, or choose AUTHCTL_STORE=encrypted",
      },
    );
  }
  return { backend: "encrypted", fellThrough: reason };
}
