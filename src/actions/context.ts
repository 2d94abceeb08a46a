import { loadConfig, type Config } from "../config/config.ts";
import type { Deps } from "../deps.ts";
import { createRegistry, type Registry } from "../providers/registry.ts";
import { type BackendStore, createBackendStore } from "../store/backend-store.ts";
import { chooseBackend } from "../store/select-backend.ts";

/** What every action needs: the side effects, the config, the providers and the store. */
export interface Context {
  deps: Deps;
  config: Config;
  registry: Registry;
  store: BackendStore;
}

export function createContext(deps: Deps): Context {
  const config = loadConfig(deps.home);
  for (const warning of config.warnings ?? []) deps.ui.warn(warning);
  const store = createBackendStore(deps.home, {
    lockTimeoutMs: 30_000,
    choice: chooseBackend(deps.env, config.store),
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
    passphrase: deps.env.AUTHCTL_PASSPHRASE || undefined,
    notify: (message) => deps.ui.info(message),
  });
  return { deps, config, registry: createRegistry(config), store };
}
