import type { Config } from "./config/config.ts";
import type { Deps } from "./deps.ts";
import type { Registry } from "./providers/registry.ts";
import type { BackendStore } from "./store/backend-store.ts";
import type { BackendChoice } from "./store/select-backend.ts";

/**
 * What every action and flow needs: the side effects, the config, the providers and the store.
 * A type only, below actions/ and flows/ so both can take it without importing each other; it is
 * built once, by src/compose.ts, which only main.ts calls (tests build theirs with createTestDeps).
 */
export interface Context {
  deps: Deps;
  config: Config;
  registry: Registry;
  store: BackendStore;
  /** Other stores than `store`, built the same way (store migrate between the local and the team store). */
  stores: { local(choice: BackendChoice): BackendStore; team(): BackendStore };
}
