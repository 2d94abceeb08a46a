import { loadConfig, type Config } from "../config/config.ts";
import type { Deps } from "../deps.ts";
import { createRegistry, type Registry } from "../providers/registry.ts";
import { createFileStore } from "../store/file-store.ts";
import type { CredentialStore } from "../store/types.ts";

/** What every action needs: the side effects, the config, the providers and the store. */
export interface Context {
  deps: Deps;
  config: Config;
  registry: Registry;
  store: CredentialStore;
}

export function createContext(deps: Deps): Context {
  const config = loadConfig(deps.home);
  return { deps, config, registry: createRegistry(config), store: createFileStore(deps.home, { lockTimeoutMs: 30_000 }) };
}
