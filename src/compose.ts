import { type Config, loadConfig, loadConfigQuickly } from "./config/config.ts";
import type { Context } from "./context.ts";
import type { Deps } from "./deps.ts";
import { processEffects } from "./io/process-probe.ts";
import { createRegistry } from "./providers/registry.ts";
import type { SecretVault } from "./store/backend.ts";
import { type BackendStore, createBackendStore } from "./store/backend-store.ts";
import { isWholeStoreName, type WholeStoreName, wholeStoreFor } from "./store/backends.ts";
import type { StoreEffects } from "./store/effects.ts";
import { type BackendChoice, chooseBackend } from "./store/select-backend.ts";
import type { BackendName } from "./store/types.ts";

/**
 * The composition root's second half: the config, the providers and the store, built on the
 * `Deps` main.ts made. Only main.ts calls it (lazily: `--help` or a usage error needs none of it);
 * tests call it with their own Deps and stand-in `vaults` (an in-memory keyring:
 * test/helpers/deps.ts).
 */
export interface ContextParts {
  /** Stand-ins for external backends (tests: an in-memory keyring), by backend name. */
  vaults?: Partial<Record<BackendName, SecretVault>>;
  /** The store lock's clock, pid, host, liveness probe and exit hook; by default storeEffects(deps). */
  effects?: StoreEffects;
}

export function createContext(deps: Deps, parts: ContextParts = {}): Context {
  return contextWith(deps, loadConfig(deps.home), parts);
}

function contextWith(deps: Deps, config: Config, parts: ContextParts): Context {
  for (const warning of config.warnings ?? []) deps.ui.warn(warning);
  const whole = chosenWholeStore(deps, config);
  const store = whole
    ? openWholeStore(deps, config, whole)
    : createLocalStore(deps, chooseBackend(deps.env, config.store), parts);
  return {
    deps,
    config,
    registry: createRegistry(config),
    store,
    stores: {
      local: (choice) => createLocalStore(deps, choice, parts),
      whole: (name) => openWholeStore(deps, config, name),
    },
  };
}

/** createContext, with the store read once when reading it is a network call (the team store). */
export async function openContext(deps: Deps, parts: ContextParts = {}): Promise<Context> {
  const ctx = createContext(deps, parts);
  await ctx.store.open?.();
  return ctx;
}

/**
 * openContext for `env`, `token` and `exec`: config.toml is read without node:fs in the usual case
 * (config/config.ts loadConfigQuickly); node:fs costs a compiled binary about 5 MiB of memory.
 */
export async function openContextQuickly(deps: Deps, parts: ContextParts = {}): Promise<Context> {
  const ctx = contextWith(deps, await loadConfigQuickly(deps.home), parts);
  await ctx.store.open?.();
  return ctx;
}

/** The whole store chosen (the team store on etcd), if one is: AUTHCTL_STORE wins over `store` in config.toml, as in chooseBackend. */
export function chosenWholeStore(deps: Deps, config: Config): WholeStoreName | undefined {
  const name = deps.env.AUTHCTL_STORE || config.store;
  return isWholeStoreName(name) ? name : undefined;
}

/** The store in AUTHCTL_HOME: credentials.toml with the keyring, encrypted or plain backend. */
export function createLocalStore(deps: Deps, choice: BackendChoice, parts: ContextParts = {}): BackendStore {
  return createBackendStore(deps.home, {
    lockTimeoutMs: 30_000,
    effects: parts.effects ?? storeEffects(deps),
    choice,
    open: {
      env: deps.env,
      home: deps.home,
      // Someone at a terminal on a desktop can answer the keyring's unlock dialog. A getter: the
      // terminal check loads node:tty (about 2 MB of memory in a compiled binary), and only a
      // locked keyring item asks.
      get unlockWaitMs() {
        return deps.interactive && (deps.env.DISPLAY || deps.env.WAYLAND_DISPLAY) ? 60_000 : undefined;
      },
      notify: (message) => deps.ui.info(message),
    },
    vaults: parts.vaults,
    passphrase: deps.env.AUTHCTL_PASSPHRASE || undefined,
    notify: (message) => deps.ui.info(message),
  });
}

/** The store lock's effects: the clock and host from Deps, the process probes from the process adapter. */
export function storeEffects(deps: Deps): StoreEffects {
  return { ...processEffects(), now: () => deps.now(), hostname: () => deps.hostname() };
}

/**
 * A whole store (the team store on etcd), with its `[<name>]` table of config.toml. Its code is
 * loaded only by openStore, so the other stores never pay for it.
 */
export function openWholeStore(deps: Deps, config: Config, name: WholeStoreName): BackendStore {
  return wholeStoreFor(name).openStore({
    env: deps.env,
    home: deps.home,
    settings: (config as unknown as Record<string, unknown>)[name],
    configPath: config.path,
    fetch: deps.fetch,
    // Read by a write only (the lock's owner): deps.hostname() loads node:os, which `env` on the
    // team store has no other use for (issue 18: about 0.4 MiB of peak memory there, measured).
    get hostname() {
      return deps.hostname();
    },
    lockTimeoutMs: 30_000,
    notify: (message) => deps.ui.info(message),
  });
}
