import type { Context } from "../context.ts";
import { isAuthctlError } from "../errors.ts";
import { LoginTimeout } from "./_cancel.ts";
import { terminalSafe } from "../format/terminal-text.ts";
import {
  classifyDeviceTokenResponse,
  createPkce,
  deviceAuthorizationRequest,
  deviceTokenRequest,
  pollDeviceToken,
  processDeviceAuthorizationResponse,
  type ClientAuthMethod,
  type DevicePollOutcome,
  type TokenSet,
} from "../oauth/index.ts";
import type { DeviceStart, OAuthSettings, ProviderDefinition } from "../providers/types.ts";

export interface DeviceFlowOptions {
  signal: AbortSignal;
  noBrowser: boolean;
  /** Providers that add PKCE to the device flow (Qwen). */
  pkce?: boolean;
  /** Provider quirks in poll answers (HTTP 429 as slow_down). */
  classify?: (response: Response) => Promise<DevicePollOutcome>;
  headers?: Record<string, string>;
}

/** RFC 8628 on the wire: device authorization, then polling the token endpoint. */
export async function runDeviceFlow(
  ctx: Context,
  provider: ProviderDefinition,
  settings: OAuthSettings & {
    deviceAuthorizationUrl: string;
    tokenUrl: string;
    clientAuth?: ClientAuthMethod;
  },
  options: DeviceFlowOptions,
): Promise<TokenSet> {
  const { deps } = ctx;
  const pkce = options.pkce ? createPkce(deps.randomBytes) : undefined;
  const authorization = await processDeviceAuthorizationResponse(
    await deviceAuthorizationRequest(deps.http, {
      url: settings.deviceAuthorizationUrl,
      clientId: settings.clientId ?? "",
      clientSecret: settings.clientSecret,
      clientAuth: settings.clientAuth,
      scopes: settings.scopes,
      pkce,
      body: settings.tokenBody,
      signal: options.signal,
      headers: options.headers,
    }),
    { now: deps.now() },
  );
  return runCustomDeviceFlow(
    ctx,
    provider,
    {
      userCode: authorization.user_code,
      verificationUri: authorization.verification_uri,
      verificationUriComplete: authorization.verification_uri_complete,
      expiresAt: authorization.expires_at,
      interval: authorization.interval,
      poll: (signal) =>
        deviceTokenRequest(deps.http, {
          tokenUrl: settings.tokenUrl,
          clientId: settings.clientId ?? "",
          clientSecret: settings.clientSecret,
          clientAuth: settings.clientAuth,
          deviceCode: authorization.device_code,
          codeVerifier: pkce?.verifier,
          body: settings.tokenBody,
          signal,
          headers: options.headers,
        }),
      classify:
        options.classify ?? ((response) => classifyDeviceTokenResponse(response, { now: deps.now() })),
    },
    { ...options, trustedHosts: trustedHosts(settings) },
  );
}

/**
 * The hosts a login may open in the browser without asking: those of the provider's own
 * endpoints (its data, config.toml, or discovery from its issuer), never one a server named.
 */
export function trustedHosts(settings: OAuthSettings): string[] {
  const hosts: string[] = [];
  for (const url of [
    settings.issuer,
    settings.authorizeUrl,
    settings.deviceAuthorizationUrl,
    settings.tokenUrl,
  ]) {
    if (url && URL.canParse(url)) hosts.push(new URL(url).host.toLowerCase());
  }
  return hosts;
}

/**
 * Showing the code and waiting for approval, for every device flow (RFC 8628 or a provider's
 * variant). The code and URL go to stderr (useless without the person approving them), the
 * complete URL is opened when a browser is at hand, and polling waits the full interval after
 * each answer (RFC 8628 §3.5).
 */
export async function runCustomDeviceFlow(
  ctx: Context,
  provider: ProviderDefinition,
  started: DeviceStart,
  options: { signal: AbortSignal; noBrowser: boolean; trustedHosts?: string[] },
): Promise<TokenSet> {
  const { deps } = ctx;
  // Server-chosen text: no terminal escapes (a user_code that clears the screen and prints a
  // fake notice, issue 14.8).
  deps.ui.info(
    `To log in to ${provider.name}, open ${terminalSafe(started.verificationUri)} and enter the code:`,
  );
  deps.ui.line(`\n    ${terminalSafe(started.userCode)}\n`);
  const complete = started.verificationUriComplete;
  // A complete URI on a host the provider does not own could be a phishing page with the code
  // filled in: show it for the person to judge, never open it (RFC 8628 §5.4).
  const completeHost =
    complete !== undefined && URL.canParse(complete) ? new URL(complete).host.toLowerCase() : undefined;
  const foreign =
    complete !== undefined &&
    (completeHost === undefined ||
      (options.trustedHosts !== undefined && !options.trustedHosts.includes(completeHost)));
  if (complete && foreign) {
    deps.ui.warn(
      `the server also offers ${terminalSafe(complete)}, on a host that is not ${provider.name}'s own; it is not opened`,
    );
  } else if (complete && !options.noBrowser && deps.canOpenBrowser()) {
    if (await deps.openBrowser(complete))
      deps.ui.info("opened the page in your browser, with the code filled in");
  }
  const spinner = deps.interactive ? await deps.spinner() : undefined;
  const left = () => Math.max(0, Math.round((started.expiresAt - deps.now()) / 1000));
  const remaining = () => `${Math.floor(left() / 60)}:${String(left() % 60).padStart(2, "0")}`;
  spinner?.start(`waiting for approval (${remaining()} left) · Ctrl-C to cancel`);
  if (!spinner) deps.ui.info(`waiting for approval (the code expires in ${remaining()})`);
  try {
    const tokens = await pollDeviceToken({
      request: started.poll,
      interval: started.interval,
      expiresAt: started.expiresAt,
      now: deps.now,
      sleep: deps.sleep,
      signal: options.signal,
      classify: started.classify,
      onPoll: (event) => {
        if (event.outcome === "slow_down") {
          const note = `the server asked to poll more slowly: every ${event.interval} s (if this repeats, check this machine's clock)`;
          if (spinner) spinner.message(`${note} (${remaining()} left)`);
          else deps.ui.info(note);
        } else spinner?.message(`waiting for approval (${remaining()} left) · Ctrl-C to cancel`);
      },
    });
    spinner?.stop("approved");
    return tokens;
  } catch (error) {
    const cancelled = isAuthctlError(error) && error.code === "CANCELLED";
    spinner?.stop(cancelled ? "cancelled" : "stopped", cancelled ? "cancelled" : "failed");
    throw error instanceof LoginTimeout ? error.forDevice() : error;
  }
}
