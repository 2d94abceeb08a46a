/**
 * Providers are data. A provider has one or more methods (the first is the default); each method
 * says how a credential is obtained and which variables carry it to programs.
 */
export type HeaderStyle =
  | { kind: "bearer" }
  /** `query`: a URL parameter clients may carry the key in instead (Google's `?key=`). */
  | { kind: "header"; name: string; extra?: Record<string, string>; query?: string };

/** A cheap authenticated request that tells a good key from a bad one (providers.md §9). */
export interface KeyValidation {
  /** Path (or absolute URL) appended to the provider's api_url. config.toml `validation_url` replaces it. */
  path: string;
  method?: "GET" | "POST";
  body?: string;
  auth: HeaderStyle;
  /** Statuses besides 401/403 that mean "this key is wrong" (xAI answers 400 for an unknown key). */
  rejectStatuses?: number[];
  /** Where this check comes from (repository and file, or doc URL): `providers --json` shows it. */
  source: string;
}

/**
 * A provider whose accounts live in one of several regions, each with its own API host (MiniMax,
 * Moonshot, DashScope): a key from one region is unknown to the others.
 */
export interface ProviderRegion {
  id: string;
  apiUrl: string;
  /** Where this host comes from. */
  source: string;
}

export interface KeyMethod {
  id: "key";
  kind: "api_key";
  label: string;
}

/** Where and how an OAuth method talks to its server. Every value is overridable in config.toml. */
export interface OAuthSettings {
  /** Discovery (RFC 8414 / OpenID) fills the endpoints that are not given. */
  issuer?: string;
  authorizeUrl?: string;
  tokenUrl?: string;
  deviceAuthorizationUrl?: string;
  revocationUrl?: string;
  clientId?: string;
  /** Installed-app clients (Google) ship a public secret; it is not a secret in any real sense. */
  clientSecret?: string;
  scopes: string[];
  /** The host written into the redirect URI; the listener binds loopback either way. */
  redirectHost: "127.0.0.1" | "localhost";
  /** 0: any free port (RFC 8252 §7.3); otherwise the registered port, then `fallbackPorts`. */
  redirectPort: number;
  fallbackPorts: number[];
  redirectPath: string;
  tokenBody: "form" | "json";
  /** RFC 7009 says form; OpenAI's revoke endpoint takes JSON (openai/codex codex-rs/login/src/auth/revoke.rs). */
  revocationBody?: "form" | "json";
  extraAuthorizeParams?: Record<string, string>;
}

/** What a provider's hooks may use: no terminal, no store — those stay with the flows. */
export interface HookDeps {
  /** The provider's API base (config.toml `api_url` wins), for calls after login. */
  apiUrl: string;
  /** The environment, for the overrides a provider's own CLI honours (CODE_ASSIST_ENDPOINT). */
  env: Record<string, string | undefined>;
  /** AUTHCTL_HOME: where per-install values live (Kimi's device id). */
  home: string;
  fetch: typeof fetch;
  now(): number;
  hostname(): string;
  randomBytes(length: number): Uint8Array;
  signal?: AbortSignal;
}

/** What a login produced: OAuth tokens to keep refreshing, or a permanent API key (OpenRouter). */
export type LoginResult =
  | {
      kind: "tokens";
      tokens: import("../oauth/token.ts").TokenSet;
      account?: string;
      extra?: Record<string, string>;
    }
  | { kind: "key"; key: string; account?: string; label?: string; extra?: Record<string, string> };

export interface CodeExchangeInput {
  code: string;
  state: string;
  verifier: string;
  redirectUri: string;
  settings: OAuthSettings;
}

/**
 * Narrow quirk hooks for providers that bend the standard grants. The flows stay shared: a
 * provider never talks to the terminal or the store.
 */
export interface OAuthHooks {
  authorize?: {
    /** null: send no response_type (OpenRouter). */
    responseType?: string | null;
    /** OpenRouter calls the redirect URI `callback_url`. */
    redirectUriParam?: string;
    /** Carry state as the redirect path's last segment instead of a `state` parameter (OpenRouter echoes none). */
    stateInRedirectPath?: boolean;
  };
  /** Extra body fields for the standard code exchange (Anthropic wants `state`). */
  exchangeExtra?: (input: CodeExchangeInput) => Record<string, string>;
  /** Replaces the standard code exchange entirely (OpenRouter's key exchange). */
  exchangeCode?: (deps: HookDeps, input: CodeExchangeInput) => Promise<LoginResult>;
  /** Runs after the tokens arrive: turn them into an API key, read an account claim. */
  afterTokens?: (
    deps: HookDeps,
    tokens: import("../oauth/token.ts").TokenSet,
    settings: OAuthSettings,
  ) => Promise<LoginResult>;
  /** Device-flow quirks: PKCE, headers, non-standard poll answers. */
  device?: {
    pkce?: boolean;
    classify?: (response: Response, now: number) => Promise<import("../oauth/device.ts").DevicePollOutcome>;
  };
  /**
   * Reads a refresh answer the provider shapes its own way (MiniMax: `status`/base_resp and a
   * millisecond `expired_in`), instead of the RFC 6749 §5.1 reading.
   */
  processTokenAnswer?: (response: Response, now: number) => Promise<import("../oauth/token.ts").TokenSet>;
  /** Headers every request to this provider's auth server carries (Kimi's X-Msh-*). */
  headers?: (deps: HookDeps) => Record<string, string>;
  /** Settings derived from `--host` (GitHub Enterprise). */
  forHost?: (host: string, settings: OAuthSettings) => OAuthSettings;
  /** A one-line notice shown before the login starts (policy warnings). */
  notice?: string;
  /** Turns a provider error into a readable one (OpenAI's missing_codex_entitlement). */
  explainError?: (error: unknown) => unknown;
  /**
   * A device flow that is not RFC 8628 on the wire (OpenAI's, MiniMax's): the provider starts it
   * and says how to poll; showing the code, waiting and polling stay the shared flow's.
   */
  customDevice?: (deps: HookDeps, settings: OAuthSettings) => Promise<CustomDeviceStart>;
}

export interface CustomDeviceStart {
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  /** Epoch ms. */
  expiresAt: number;
  /** Seconds. */
  interval: number;
  poll(signal?: AbortSignal): Promise<Response>;
  classify(response: Response): Promise<import("../oauth/device.ts").DevicePollOutcome>;
  /** Turns the poll's token answer into the login's result (OpenAI exchanges a code first). */
  finish?(tokens: import("../oauth/token.ts").TokenSet): Promise<LoginResult>;
}

export interface OAuthMethod {
  id: string;
  kind: "oauth";
  label: string;
  hint?: string;
  /** Flows this method supports; the first is preferred when a browser is available. */
  flows: Array<"loopback" | "device" | "paste">;
  oauth: OAuthSettings;
  /** Variable → credential field (`access_token`, `id_token`, or an `extra` field). Never the refresh token. */
  env: Record<string, string>;
  /** Inherited variables that compete with this method's variables (removed by `exec`). */
  conflictVars?: string[];
  hooks?: OAuthHooks;
  /** Endpoints that differ by region (MiniMax's account hosts); the first region's are in `oauth`. */
  regionOAuth?: Record<string, Partial<OAuthSettings>>;
  /** Whose client this login follows (repository and file): `providers --json` shows it. */
  source?: string;
  /** The `extra` fields this login's steps store (OpenAI's `api_key`, Gemini's `project`). */
  extra?: ExtraFields;
  /** Variables that no tool reads by that name: who they are meant for (`providers --json`). */
  variableNotes?: Record<string, string>;
  /**
   * The provider's stance on third-party use of this login (providers.md §0), shown by
   * `providers --json`: "supported", "first-party client only", "uncertain", "retired".
   */
  policy?: string;
}

export type ProviderMethod = KeyMethod | OAuthMethod;

/**
 * The `extra` fields a provider's login or exchange keeps beside the credential, each secret or
 * not. Secret ones are sealed by the encrypted backend and kept in the keyring item with the
 * tokens (providers/extra-fields.ts collects them for the store); the rest is metadata `status`
 * reads without unsealing anything.
 */
export type ExtraFields = Record<string, { secret: boolean }>;

export interface ProviderDefinition {
  id: string;
  name: string;
  /** One line for the picker and `providers`. */
  hint?: string;
  methods: ProviderMethod[];
  /** Variables exported for a stored API key, in order. The first is the primary one. */
  keyVars: string[];
  /** Other variables some tools read for the same key: `status` and `token` look at them. */
  aliasVars?: string[];
  /**
   * Inherited variables that compete with this provider's injected credential: `exec` removes
   * them, so a stale ambient key cannot silently win (openai/codex#40871).
   */
  conflictVars?: string[];
  /** Variables that no tool reads by that name: who they are meant for (`providers --json`). */
  variableNotes?: Record<string, string>;
  /** Where the key variables and API base come from, when not models.dev (`providers --json`). */
  keySource?: string;
  /** Key prefixes that fit this provider; anything else gets a warning, not a refusal. */
  keyPrefixes?: string[];
  apiUrl: string;
  validation?: KeyValidation;
  /** Where the user can create a key: shown at the key prompt. */
  keysPage?: string;
  /**
   * Regions in order of preference (config.toml `region` moves one to the front). A key check
   * that gets 401 from one tries the next; the region that accepted the key becomes the
   * credential's api_url. Absent when config.toml pins `api_url`.
   */
  regions?: ProviderRegion[];
  /** Set for providers defined in config.toml. */
  custom?: boolean;
  /** The `extra` fields the provider's exchange at use keeps (its cached token and expiry). */
  extra?: ExtraFields;
  /**
   * A token the provider's API takes instead of the stored login, obtained from it at use (GitHub
   * Copilot's short-lived token, providers.md §5b): `authctl token <id> --<flag>` prints it.
   */
  useExchange?: UseExchange;
}

/**
 * An exchange at use: the stored secret buys a short-lived token, cached in the credential's
 * `extra` until `marginMs` before it expires, under the store lock so parallel callers make one
 * request. The generic part (lock, cache, flag) is actions/use-exchange.ts; the request is the
 * provider's, loaded only when asked for.
 */
export interface UseExchange {
  /** The `authctl token` flag that asks for it (`copilot` → `--copilot`). */
  flag: string;
  /** The flag's help text. */
  description: string;
  /** What the token is called in messages ("Copilot" → "the Copilot exchange"). */
  label: string;
  /** The `extra` fields the cached token and its expiry (epoch ms, as a string) are kept in. */
  cache: { token: string; expiresAt: string };
  marginMs: number;
  /** The request itself: the stored secret and the credential's `extra` (its `host`) in, a token out. */
  run(
    deps: HookDeps,
    secret: string,
    extra: Record<string, string>,
  ): Promise<{ token: string; expiresAt: number }>;
}

/** Keeps a provider's `resource_url` (Qwen, MiniMax: the API host for this account) beside the tokens. */
export function withResourceUrl(tokens: import("../oauth/token.ts").TokenSet): LoginResult {
  const url = tokens.raw.resource_url;
  return { kind: "tokens", tokens, extra: typeof url === "string" ? { resource_url: url } : {} };
}

/** The redirect settings of a method that has no redirect at all (device-only logins). */
export const NO_REDIRECT = {
  redirectHost: "127.0.0.1",
  redirectPort: 0,
  fallbackPorts: [],
  redirectPath: "/callback",
} satisfies Pick<OAuthSettings, "redirectHost" | "redirectPort" | "fallbackPorts" | "redirectPath">;
