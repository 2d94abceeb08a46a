import type { Config } from "./config/config.ts";
import type { Deps } from "./deps.ts";
import type { ProviderDefinition } from "./providers/types.ts";
import type { Registry } from "./providers/registry.ts";
import type { BackendStore } from "./store/backend-store.ts";
import type { WholeStoreName } from "./store/backends.ts";
import type { BackendChoice } from "./store/select-backend.ts";
import type { StoredCredential } from "./store/types.ts";

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
  /** Other stores than `store`, built the same way (store migrate between the local and a whole store). */
  stores: { local(choice: BackendChoice): BackendStore; whole(name: WholeStoreName): BackendStore };
}

/** A credential ready to hand out, and where it came from (actions/resolve.ts; exec hands it to the proxy). */
export interface ResolvedCredential {
  provider: ProviderDefinition;
  /** The account (store/accounts.ts): `default` for credentials stored without a name. */
  account: string;
  /** Where it is stored: the provider id for the account `default`, else `provider@account`. */
  key: string;
  source: "store" | "environment";
  credential?: StoredCredential;
  /** What `authctl token` prints: the API key or the current access token. */
  secret: string;
  /** What `env` and `exec` export, in order. */
  vars: Array<[string, string]>;
  /** For the environment source: the variable the secret was found in. */
  envVar?: string;
}
