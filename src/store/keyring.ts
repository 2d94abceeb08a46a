/**
 * The OS keyring through `Bun.secrets` (macOS Keychain, libsecret / Secret Service on Linux,
 * Windows Credential Manager): service `authctl`, one item per provider (account = provider id)
 * holding the credential's secret fields as JSON. Every call is bounded by a timeout: a locked
 * keyring whose unlock prompt nobody answers, or a Secret Service that never replies, must not
 * hang a shell start-up.
 */
import { existsSync } from "node:fs";
import type { Env } from "../deps.ts";
import { AuthctlError } from "../errors.ts";

export const KEYRING_SERVICE = "authctl";
const PROBE_NAME = "__authctl_probe__";
export const DEFAULT_KEYRING_TIMEOUT_MS = 2_000;

export interface Keyring {
  /** Why the keyring cannot be used, found without calling it; undefined when it may work. */
  quickUnavailableReason(): string | undefined;
  /** Why the keyring cannot be used (calls it once, bounded); undefined when it works. */
  probe(): Promise<string | undefined>;
  get(id: string): Promise<string | null>;
  set(id: string, value: string): Promise<void>;
  delete(id: string): Promise<boolean>;
}

/** Rejects with TIMEOUT after `ms`. The call itself may go on in Bun's thread pool; nobody waits for it. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AuthctlError("TIMEOUT", `${what} did not answer within ${ms / 1000}s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function keyringError(what: string, error: unknown): AuthctlError {
  if (error instanceof AuthctlError) return error;
  const reason = error instanceof Error ? error.message.split("\n", 1)[0] : String(error);
  return new AuthctlError("STORE_IO", `the keyring could not ${what}: ${reason}`, {
    hint: "unlock the keyring, or set AUTHCTL_STORE=encrypted",
    cause: error,
  });
}

export function createBunKeyring(env: Env, options: { timeoutMs?: number; platform?: NodeJS.Platform } = {}): Keyring {
  const timeoutMs = options.timeoutMs ?? DEFAULT_KEYRING_TIMEOUT_MS;
  const platform = options.platform ?? process.platform;
  const secrets = (globalThis as { Bun?: { secrets?: typeof Bun.secrets } }).Bun?.secrets;
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    const reason = quickUnavailableReason();
    if (reason) throw new AuthctlError("STORE_IO", `the keyring is not available: ${reason}`, { hint: "set AUTHCTL_STORE=encrypted" });
    try {
      return await withTimeout(run(), timeoutMs, "the keyring");
    } catch (error) {
      throw keyringError(what, error);
    }
  };
  function quickUnavailableReason(): string | undefined {
    if (!secrets) return "this build of Bun has no Bun.secrets";
    // libsecret talks to the Secret Service over the session bus; without one it would try to
    // autolaunch a bus through X11, which fails (or worse, starts one nobody unlocks).
    if (platform === "linux" || platform === "freebsd") {
      const runtimeBus = env.XDG_RUNTIME_DIR ? `${env.XDG_RUNTIME_DIR}/bus` : undefined;
      if (!env.DBUS_SESSION_BUS_ADDRESS && !(runtimeBus && existsSync(runtimeBus))) return "no D-Bus session bus";
    }
    return undefined;
  }
  return {
    quickUnavailableReason,
    async probe() {
      try {
        await call("be reached", () => secrets!.get({ service: KEYRING_SERVICE, name: PROBE_NAME }));
        return undefined;
      } catch (error) {
        return error instanceof Error ? error.message.replace(/^the keyring (is not available|could not be reached): /, "") : String(error);
      }
    },
    get: (id) => call(`read ${id}`, () => secrets!.get({ service: KEYRING_SERVICE, name: id })),
    set: (id, value) => call(`store ${id}`, () => secrets!.set({ service: KEYRING_SERVICE, name: id, value })),
    delete: (id) => call(`delete ${id}`, () => secrets!.delete({ service: KEYRING_SERVICE, name: id })),
  };
}
