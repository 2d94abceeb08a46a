import type { Context } from "../context.ts";
import type { LoginOptions } from "./login-options.ts";
import { AuthctlError } from "../errors.ts";
import { authorizationCodeGrantRequest, processTokenResponse, type TokenSet } from "../oauth/index.ts";
import type {
  CodeGrant,
  Grant,
  HookDeps,
  LoginResult,
  OAuthMethod,
  ProviderDefinition,
} from "../providers/types.ts";
import { runCustomDeviceFlow, runDeviceFlow, trustedHosts } from "./device.ts";
import { obtainAuthorizationCode } from "./loopback.ts";
import type { ResolvedSettings } from "./oauth-login.ts";

/**
 * The default of each login step (providers/types.ts LoginSteps), and where a provider's
 * override takes its place. oauth-login.ts runs them in order.
 */
export interface StepContext {
  ctx: Context;
  provider: ProviderDefinition;
  method: OAuthMethod;
  settings: ResolvedSettings;
  options: LoginOptions;
  signal: AbortSignal;
  hookDeps: HookDeps;
  /** The provider's headers for its auth server (Kimi's X-Msh-*). */
  headers?: Record<string, string>;
}

/**
 * Step 1. The loopback redirect, or a device flow when asked for (--device), when the method has
 * nothing else, or when no browser can come back here.
 */
export async function authorize(login: StepContext): Promise<Grant> {
  const { ctx, provider, method, settings, options } = login;
  const { deps } = ctx;
  const step = method.steps?.authorize ?? {};
  const deviceAvailable =
    method.flows.includes("device") && Boolean(settings.deviceAuthorizationUrl || step.startDevice);
  // Over SSH or without a display no browser can come back to a loopback port here: a device
  // code, approved on any machine, is the login that works (gh does the same). --no-browser
  // still asks for the paste flow; providers without a device flow keep it too (issue 15.8).
  const headless = !options.device && !options.noBrowser && deviceAvailable && !deps.canOpenBrowser();
  if (headless && method.flows.includes("loopback")) {
    deps.ui.info(
      `no browser here (SSH or no display): logging in with a device code (--no-browser pastes a redirect URL instead)`,
    );
  }
  const useDevice = options.device || headless || !method.flows.includes("loopback");
  if (!useDevice) return authorizeInBrowser(login, deviceAvailable);
  if (!deviceAvailable) {
    throw new AuthctlError("USAGE", `${provider.name} has no device-code login`, {
      hint: `run 'authctl login ${provider.id}' (add --no-browser to paste the code instead)`,
    });
  }
  return authorizeOnDevice(login);
}

/** Authorization code + PKCE with a loopback redirect and a paste prompt (flows/loopback.ts). */
async function authorizeInBrowser(login: StepContext, deviceAvailable: boolean): Promise<CodeGrant> {
  const { ctx, provider, method, settings, options } = login;
  const step = method.steps?.authorize ?? {};
  if (!settings.authorizeUrl) throw missing(provider, "authorize_url");
  const code = await obtainAuthorizationCode(
    ctx,
    provider,
    { ...settings, authorizeUrl: settings.authorizeUrl },
    {
      explainError: step.explainError,
      noBrowser: Boolean(options.noBrowser),
      deviceAvailable,
      signal: login.signal,
      authorize: step.request,
      expectedIssuer: settings.expectedIssuer,
      alternativeHint: provider.methods.some((m) => m.kind === "api_key")
        ? `use 'authctl login ${provider.id} --with-key' with the key on stdin${deviceAvailable ? `, or --device` : ""}`
        : undefined,
    },
  );
  return { kind: "code", ...code };
}

/** RFC 8628, or the provider's own device flow (startDevice) driven by the same code display and polling. */
async function authorizeOnDevice(login: StepContext): Promise<Grant> {
  const { ctx, provider, method, settings, options } = login;
  const step = method.steps?.authorize ?? {};
  const shared = { signal: login.signal, noBrowser: Boolean(options.noBrowser) };
  if (step.startDevice) {
    const started = await step.startDevice(login.hookDeps, settings);
    const answer = await runCustomDeviceFlow(ctx, provider, started, {
      ...shared,
      trustedHosts: trustedHosts(settings),
    });
    return started.grant ? started.grant(answer) : { kind: "tokens", tokens: answer };
  }
  if (!settings.tokenUrl) throw missing(provider, "token_url");
  const classify = step.device?.classify;
  const tokens = await runDeviceFlow(
    ctx,
    provider,
    { ...settings, deviceAuthorizationUrl: settings.deviceAuthorizationUrl!, tokenUrl: settings.tokenUrl },
    {
      ...shared,
      pkce: step.device?.pkce,
      classify: classify ? (response) => classify(response, ctx.deps.now()) : undefined,
      headers: login.headers,
    },
  );
  return { kind: "tokens", tokens };
}

/**
 * Step 2. A code goes through the provider's exchange when it has one (handed the standard one),
 * else the standard RFC 6749 §4.1.3 grant; tokens from a device poll pass through.
 */
export async function exchange(login: StepContext, grant: Grant): Promise<LoginResult> {
  if (grant.kind === "tokens") return { kind: "tokens", tokens: grant.tokens };
  const standard = (extraBody?: Record<string, string>) => exchangeCode(login, grant, extraBody);
  const override = login.method.steps?.exchange;
  if (override) return override(login.hookDeps, grant, login.settings, standard);
  return { kind: "tokens", tokens: await standard() };
}

async function exchangeCode(
  login: StepContext,
  grant: CodeGrant,
  extraBody?: Record<string, string>,
): Promise<TokenSet> {
  const { ctx, provider, settings } = login;
  if (!settings.tokenUrl) throw missing(provider, "token_url");
  return processTokenResponse(
    await authorizationCodeGrantRequest(ctx.deps.http, {
      tokenUrl: settings.tokenUrl,
      clientId: settings.clientId,
      clientSecret: settings.clientSecret,
      clientAuth: settings.clientAuth,
      code: grant.code,
      redirectUri: grant.redirectUri,
      codeVerifier: grant.verifier,
      body: settings.tokenBody,
      extra: extraBody,
      headers: login.headers,
      signal: login.signal,
    }),
    { now: ctx.deps.now() },
  );
}

export function missing(provider: ProviderDefinition, key: string): AuthctlError {
  return new AuthctlError(
    "CONFIG_INVALID",
    `${provider.name} has no ${key} (and discovery did not supply one)`,
    {
      hint: `set ${key} or issuer under [providers.${provider.id}] in config.toml`,
    },
  );
}
