import type { Deps } from "../deps.ts";
import type { HookDeps, ProviderDefinition } from "./types.ts";

/** The part of Deps a provider's steps and exchanges may use: no terminal, no store. */
export function createHookDeps(deps: Deps, provider: ProviderDefinition, signal?: AbortSignal): HookDeps {
  return {
    apiUrl: provider.apiUrl,
    env: deps.env,
    home: deps.home,
    http: deps.http,
    now: deps.now,
    sleep: deps.sleep,
    hostname: deps.hostname,
    randomBytes: deps.randomBytes,
    signal,
  };
}
