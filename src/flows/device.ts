import type { Context } from "../actions/context.ts";
import { canOpenBrowser } from "../io/browser.ts";
import {
  createPkce,
  deviceAuthorizationRequest,
  deviceTokenRequest,
  pollDeviceToken,
  processDeviceAuthorizationResponse,
  type DevicePollOutcome,
  type TokenSet,
} from "../oauth/index.ts";
import type { OAuthSettings, ProviderDefinition } from "../providers/types.ts";

export interface DeviceFlowOptions {
  signal: AbortSignal;
  noBrowser: boolean;
  /** Providers that add PKCE to the device flow (Qwen, MiniMax). */
  pkce?: boolean;
  /** Provider quirks in poll answers (HTTP 429 as slow_down, `status: pending`). */
  classify?: (response: Response) => Promise<DevicePollOutcome>;
  headers?: Record<string, string>;
}

/**
 * RFC 8628. The code and URL go to stderr (they are not secrets: they are useless without the
 * person approving them), the complete URL is opened when a browser is at hand, and polling
 * waits the full interval after each answer.
 */
export async function runDeviceFlow(
  ctx: Context,
  provider: ProviderDefinition,
  settings: OAuthSettings & { deviceAuthorizationUrl: string; tokenUrl: string },
  options: DeviceFlowOptions,
): Promise<TokenSet> {
  const { deps } = ctx;
  const pkce = options.pkce ? createPkce(deps.randomBytes) : undefined;
  const authorization = await processDeviceAuthorizationResponse(
    await deviceAuthorizationRequest(deps.fetch, {
      url: settings.deviceAuthorizationUrl,
      clientId: settings.clientId ?? "",
      scopes: settings.scopes,
      pkce,
      body: settings.tokenBody,
      signal: options.signal,
      headers: options.headers,
    }),
    { now: deps.now() },
  );
  deps.ui.info(`To log in to ${provider.name}, open ${authorization.verification_uri} and enter the code:`);
  deps.ui.line(`\n    ${authorization.user_code}\n`);
  const complete = authorization.verification_uri_complete;
  if (complete && !options.noBrowser && canOpenBrowser(deps.env, deps.platform)) {
    if (await deps.openBrowser(complete)) deps.ui.info("opened the page in your browser, with the code filled in");
  }
  const spinner = deps.interactive ? await deps.spinner() : undefined;
  const left = () => Math.max(0, Math.round((authorization.expires_at - deps.now()) / 1000));
  const remaining = () => `${Math.floor(left() / 60)}:${String(left() % 60).padStart(2, "0")}`;
  spinner?.start(`waiting for approval (${remaining()} left)`);
  if (!spinner) deps.ui.info(`waiting for approval (the code expires in ${remaining()})`);
  try {
    const tokens = await pollDeviceToken({
      request: (signal) =>
        deviceTokenRequest(deps.fetch, {
          tokenUrl: settings.tokenUrl,
          clientId: settings.clientId ?? "",
          deviceCode: authorization.device_code,
          codeVerifier: pkce?.verifier,
          body: settings.tokenBody,
          signal,
          headers: options.headers,
        }),
      interval: authorization.interval,
      expiresAt: authorization.expires_at,
      now: deps.now,
      sleep: deps.sleep,
      signal: options.signal,
      classify: options.classify,
      onPoll: (event) => {
        if (event.outcome === "slow_down") {
          const note = `the server asked to poll more slowly: every ${event.interval} s`;
          if (spinner) spinner.message(`${note} (${remaining()} left)`);
          else deps.ui.info(note);
        } else spinner?.message(`waiting for approval (${remaining()} left)`);
      },
    });
    spinner?.stop("approved");
    return tokens;
  } catch (error) {
    spinner?.stop("stopped");
    throw error;
  }
}
