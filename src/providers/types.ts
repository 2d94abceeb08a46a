/**
 * Providers are data. A provider has one or more methods (the first is the default); each method
 * says how a credential is obtained and which variables carry it to programs.
 */
export type HeaderStyle =
  | { kind: "bearer" }
  /** `query`: a URL parameter clients may carry the key in instead (Google's `?key=`). */
  | { kind: "header"; name: string; extra?: Record<string, string>; query?: string };

/**
 * How `exec --proxy` hands this provider to a child (proxy/routes.ts): the variable that carries
 * the proxy's base URL, and the path shape of the SDKs that read it. The proxy forwards
 * `http://127.0.0.1:PORT/<id>/<rest>` to `<origin of api_url>/<rest>` while `<rest>` stays under
 * the api_url's path or one of `versions`. Without one: `<ID>_BASE_URL`, ending in the api_url's
 * own path, for SDKs that append OpenAI-style paths to it.
 */
export interface ProxyShape {
  baseVar: string;
  /**
   * The SDK adds the API version itself: the variable stops before the version, and each of these
   * versions is forwarded (the api_url's own one always is).
   */
  versions?: string[];
  /**
   * First path segments that some clients send without the version, because they read the same
   * base-URL variable as ending in it: forwarded under `versions[0]`.
   */
  unversioned?: string[];
  /** How a stored key travels upstream; default the key check's header (`validation.auth`). OAuth tokens always go as a bearer token. */
  keyAuth?: HeaderStyle;
}

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
  /**
   * The refresh request's body when it differs from the code exchange's (`tokenBody`): OpenAI's
   * Codex posts the code form-encoded and the refresh as JSON (openai/codex
   * codex-rs/login/src/auth/manager.rs request_chatgpt_token_refresh).
   */
  refreshBody?: "form" | "json";
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
  /** The HTTP client (deps.http): provider endpoints go through oauth/_http.ts sendRequest. */
  http: import("../deps.ts").HttpClient;
  now(): number;
  /** deps.sleep: pauses (Gemini's onboarding poll) on the same clock as everything else. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
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

/** What the authorize step hands on: a code to exchange, or the tokens a device poll already got. */
export type Grant = CodeGrant | { kind: "tokens"; tokens: import("../oauth/token.ts").TokenSet };

export interface CodeGrant {
  kind: "code";
  code: string;
  /** The state that came back with the code (Anthropic wants it in the token request). */
  state: string;
  verifier: string;
  redirectUri: string;
  /** The OpenID nonce sent with the request, when one was (the ID token must carry it back). */
  nonce?: string;
}

/**
 * A login is three steps; flows/login-steps.ts holds the default of each and a provider overrides
 * only the ones it bends, so a provider reads as data plus those overrides. A provider's step
 * never talks to the terminal or the store: those stay with the flows.
 *
 * 1. authorize: the person approves. Default: the loopback redirect (a paste prompt always races
 *    it), or RFC 8628's device flow when the method has one and `--device` or a headless machine
 *    asks for it. Out comes a code, or tokens from the device poll.
 * 2. exchange: a code becomes tokens (or a key: OpenRouter). Default: the RFC 6749 §4.1.3 code
 *    grant at token_url; the override is handed that default (`standard`) to call with extra
 *    body fields. Tokens from a device poll pass through.
 * 3. finish: tokens become what is stored: a claim read, an API key made with them, a project
 *    named. Default: the tokens as they are. Skipped when the exchange already gave a key.
 *
 * The ID token check and the grant report (scopes, refresh token) run between 2 and 3 for every
 * login that has tokens.
 */
export interface LoginSteps {
  authorize?: {
    /** The authorize request's shape, for servers that are not quite RFC 6749 §4.1.1 (OpenRouter). */
    request?: {
      /** null: send no response_type. */
      responseType?: string | null;
      /** OpenRouter calls the redirect URI `callback_url`. */
      redirectUriParam?: string;
      /** Carry state as the redirect path's last segment instead of a `state` parameter (OpenRouter echoes none). */
      stateInRedirectPath?: boolean;
    };
    /** Turns an error the provider sends back to the redirect into a readable one (OpenAI's missing_codex_entitlement). */
    explainError?: (error: unknown) => unknown;
    /** RFC 8628 with quirks: PKCE added (Qwen), poll answers read the provider's way (429 as slow_down). */
    device?: {
      pkce?: boolean;
      classify?: (response: Response, now: number) => Promise<import("../oauth/device.ts").DevicePollOutcome>;
    };
    /**
     * A device flow that is not RFC 8628 on the wire (OpenAI's, MiniMax's): the provider starts it
     * and says how to poll; showing the code, waiting and polling stay the shared flow's.
     */
    startDevice?: (deps: HookDeps, settings: OAuthSettings) => Promise<DeviceStart>;
  };
  exchange?: (
    deps: HookDeps,
    grant: CodeGrant,
    settings: OAuthSettings,
    standard: (extraBody?: Record<string, string>) => Promise<import("../oauth/token.ts").TokenSet>,
  ) => Promise<LoginResult>;
  finish?: (
    deps: HookDeps,
    tokens: import("../oauth/token.ts").TokenSet,
    settings: OAuthSettings,
  ) => Promise<LoginResult>;
}

/**
 * Quirks of talking to the provider's auth server that are not login steps: they also apply to
 * refreshes (actions/refresh.ts) or to the settings before any step runs.
 */
export interface OAuthHooks {
  /**
   * Reads a refresh answer the provider shapes its own way (MiniMax: `status`/base_resp and a
   * millisecond `expired_in`), instead of the RFC 6749 §5.1 reading.
   */
  processTokenAnswer?: (response: Response, now: number) => Promise<import("../oauth/token.ts").TokenSet>;
  /** Headers every request to this provider's auth server carries (Kimi's X-Msh-*). */
  headers?: (deps: HookDeps) => Record<string, string>;
  /** Settings derived from `--host` (GitHub Enterprise). */
  forHost?: (host: string, settings: OAuthSettings) => OAuthSettings;
}

/** A provider's own device flow, started: what the shared flow shows, and how it polls. */
export interface DeviceStart {
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  /** Epoch ms. */
  expiresAt: number;
  /** Seconds. */
  interval: number;
  poll(signal?: AbortSignal): Promise<Response>;
  classify(response: Response): Promise<import("../oauth/device.ts").DevicePollOutcome>;
  /**
   * What the approved poll answer grants, when it is not tokens: OpenAI's answer carries an
   * authorization code and the verifier to exchange it with (the default exchange step does).
   */
  grant?(answer: import("../oauth/token.ts").TokenSet): Grant;
}

export interface OAuthMethod {
  id: string;
  kind: "oauth";
  label: string;
  hint?: string;
  /**
   * Flows this method supports; the first is preferred when a browser is available. `loopback`
   * always comes with a paste prompt for the redirect URL (flows/loopback.ts): a browser on
   * another machine, --no-browser, a busy port.
   */
  flows: Array<"loopback" | "device">;
  oauth: OAuthSettings;
  /** Variable → credential field (`access_token`, `id_token`, or an `extra` field). Never the refresh token. */
  env: Record<string, string>;
  /** Inherited variables that compete with this method's variables (removed by `exec`). */
  conflictVars?: string[];
  /** The login steps this method does its own way (LoginSteps); the rest are the defaults. */
  steps?: LoginSteps;
  hooks?: OAuthHooks;
  /** A one-line notice shown before the login starts (policy warnings). */
  notice?: string;
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
  /** The base-URL shape `exec --proxy` gives a child (default `<ID>_BASE_URL`, OpenAI-style paths). */
  proxy?: ProxyShape;
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
