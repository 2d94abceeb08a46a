import type { Context } from "../context.ts";
import { AuthctlError, isAuthctlError } from "../errors.ts";
import {
  buildAuthorizeUrl,
  createOAuthError,
  createPkce,
  createState,
  type ExpectedIssuer,
  issuerMismatchError,
  parseCallback,
  parsePastedInput,
  STATE_MISMATCH_MESSAGE,
} from "../oauth/index.ts";
import type { LoginSteps, OAuthSettings, ProviderDefinition } from "../providers/types.ts";
import { whenAborted } from "./_cancel.ts";
import { PROMPT_TRIES } from "./api-key.ts";
import { page } from "./_pages.ts";

export interface AuthorizationCode {
  code: string;
  /** The state that came back with the code (Anthropic wants it in the token request). */
  state: string;
  redirectUri: string;
  verifier: string;
  /** The OpenID nonce sent with the request, when one was (the ID token must carry it back). */
  nonce?: string;
}

export interface LoopbackFlowOptions {
  noBrowser: boolean;
  /** The provider also has a device flow: name it when the browser cannot come back here. */
  deviceAvailable: boolean;
  signal: AbortSignal;
  authorize?: NonNullable<LoginSteps["authorize"]>["request"];
  /** What to suggest when this flow cannot run here (another method, --with-key). */
  alternativeHint?: string;
  explainError?: (error: unknown) => unknown;
  /** The issuer the answer must name (RFC 9207); unknown for providers without an issuer. */
  expectedIssuer?: ExpectedIssuer;
}

/**
 * Authorization code + PKCE (RFC 7636) with a loopback redirect (RFC 8252). One login works
 * wherever the user is: the callback listener always runs, and when no browser can be opened here
 * (SSH, no display, --no-browser) a paste prompt races it, taking the redirect URL the browser
 * could not deliver, `code#state`, a query string or a bare code.
 */
export async function obtainAuthorizationCode(
  ctx: Context,
  provider: ProviderDefinition,
  settings: Required<Pick<OAuthSettings, "authorizeUrl">> & OAuthSettings,
  options: LoopbackFlowOptions,
): Promise<AuthorizationCode> {
  const { deps } = ctx;
  const pkce = createPkce(deps.randomBytes);
  const state = createState(deps.randomBytes);
  // A nonce binds the ID token to this request (OIDC Core §3.1.2.1), for the OpenID providers
  // whose tokens authctl validates (those with a known issuer).
  const nonce =
    options.expectedIssuer && settings.scopes.includes("openid") ? createState(deps.randomBytes) : undefined;
  let settle!: { resolve: (code: AuthorizationCode) => void; reject: (error: unknown) => void };
  const fromCallback = new Promise<AuthorizationCode>((resolve, reject) => (settle = { resolve, reject }));
  // The browser may answer while the opener is still running, before anything awaits this promise:
  // mark it handled so an early error is not an unhandled rejection (the race below still sees it).
  fromCallback.catch(() => {});
  let redirectUri = "";
  let done = false;
  // OpenRouter echoes no `state` and appends `?code=…` to callback_url as it sees fit: the state
  // rides as the callback path's last segment (as pi does: earendil-works/pi
  // packages/ai/src/auth/oauth/openrouter.ts, /oauth/callback/<uuid>), so the callback URL has no
  // query of its own and only this attempt's path reaches the handler.
  const stateInPath = Boolean(options.authorize?.stateInRedirectPath);
  const callbackPath = stateInPath
    ? `${settings.redirectPath.replace(/\/+$/, "")}/${state}`
    : settings.redirectPath;

  const handle = (url: URL) => {
    if (done)
      return {
        status: 409,
        html: page("Already done", "This login has already finished. You can close this tab."),
      };
    let answer = url;
    if (stateInPath) {
      // The listener matched the whole path, state included: that is the state check.
      answer = new URL(url);
      answer.searchParams.set("state", state);
    }
    const result = parseCallback(answer, state, options.expectedIssuer);
    switch (result.kind) {
      case "bad-state":
        // Another page (or a stale tab from an earlier attempt) cannot complete or end this login.
        return {
          status: 400,
          html: page(
            "Not this login",
            "This link does not belong to the login authctl is waiting for. Start the login again from the terminal if it is stuck.",
          ),
        };
      case "bad-issuer":
        // This attempt's state, from another server: a mix-up (RFC 9207). The code is burnt.
        done = true;
        settle.reject(issuerMismatchError(options.expectedIssuer!, result.iss));
        return {
          status: 400,
          html: page(
            "Login refused",
            "The answer came from another server than the one this login started with. authctl did not use it. You can close this tab.",
          ),
        };
      case "missing-code":
        return {
          status: 400,
          html: page("No code", "The provider's redirect carried no authorization code."),
        };
      case "error":
        done = true;
        const error = createOAuthError("authorization server", {
          error: result.error,
          error_description: result.description,
        });
        settle.reject(options.explainError ? options.explainError(error) : error);
        return {
          status: 200,
          html: page(
            "Login failed",
            `${result.error}${result.description ? `: ${result.description}` : ""}. You can close this tab.`,
          ),
        };
      case "code":
        done = true;
        settle.resolve({ code: result.code, state, redirectUri, verifier: pkce.verifier, nonce });
        return {
          status: 200,
          html: page("Logged in", `authctl has your ${provider.name} login. You can close this tab.`),
        };
    }
  };

  const ports = settings.redirectPort === 0 ? [0] : [settings.redirectPort, ...settings.fallbackPorts];
  let server: Awaited<ReturnType<typeof deps.startLoopbackServer>> | undefined;
  let portBusy: AuthctlError | undefined;
  try {
    server = await deps.startLoopbackServer({
      ports,
      path: callbackPath,
      dualStack: settings.redirectHost === "localhost",
      handle,
    });
  } catch (error) {
    if (!isAuthctlError(error) || error.code !== "PORT_BUSY") throw error;
    portBusy = error;
  }
  const port = server?.port ?? settings.redirectPort;
  redirectUri = `http://${settings.redirectHost}:${port}${callbackPath}`;
  try {
    const url = buildAuthorizeUrl({
      authorizeUrl: settings.authorizeUrl,
      clientId: settings.clientId,
      redirectUri,
      scopes: settings.scopes,
      state: stateInPath ? undefined : state,
      pkce,
      nonce,
      extraParams: offlineConsent(settings, options.expectedIssuer),
      responseType: options.authorize?.responseType,
      redirectUriParam: options.authorize?.redirectUriParam,
    });
    const deviceHint = options.deviceAvailable ? ` or 'authctl login ${provider.id} --device'` : "";
    if (portBusy) {
      // Never a silent wait (gethouston/houston#945): say which port, and what else works.
      if (!deps.interactive) {
        throw new AuthctlError(
          "PORT_BUSY",
          `${portBusy.message}; the browser could not come back to authctl`,
          {
            hint: `free the port, or use a terminal and paste the redirect URL${deviceHint}`,
          },
        );
      }
      deps.ui.warn(
        `${portBusy.message}. After logging in, copy the address the browser ends on and paste it here${deviceHint}.`,
      );
    }
    const browserPossible = !options.noBrowser && !portBusy && deps.canOpenBrowser();
    if (!browserPossible && !deps.interactive) {
      // Nobody to paste and no browser to come back: waiting would only be a silent hang.
      throw new AuthctlError(
        "NEEDS_TTY",
        `no browser can be opened here and no terminal to paste the code into`,
        {
          hint:
            options.alternativeHint ??
            (options.deviceAvailable
              ? `use 'authctl login ${provider.id} --device'`
              : `run the login in a terminal, or set BROWSER`),
        },
      );
    }
    deps.ui.info(`Log in to ${provider.name} in your browser:`);
    deps.ui.line(`  ${url.href}`);
    const opened = browserPossible ? await deps.openBrowser(url.href) : false;
    if (browserPossible && !opened) deps.ui.warn("could not open a browser: open the URL above yourself");
    if (!browserPossible && !options.noBrowser && !portBusy) {
      deps.ui.info(`no browser here (SSH or no display): open the URL on any machine${deviceHint}`);
    }
    const contenders: Array<Promise<AuthorizationCode>> = [fromCallback, whenAborted(options.signal)];
    const pasteController = new AbortController();
    if (deps.interactive) {
      // The paste prompt always races the callback: a browser that opened may still never come
      // back (another machine's browser, a blocked port, a closed tab), and the person should
      // see what to do then without reading a README (gh: "Waiting for authentication").
      const message =
        opened && !portBusy
          ? "Waiting for the browser… paste the redirect URL here if it does not come back · Ctrl-C to cancel"
          : "Paste the redirect URL (or the code) here, or wait for the browser · Ctrl-C to cancel";
      contenders.push(
        promptForPaste(
          ctx,
          state,
          options.expectedIssuer,
          redirectUri,
          pkce.verifier,
          nonce,
          pasteController.signal,
          message,
        ),
      );
    } else if (!opened) deps.ui.info(`waiting for the browser to come back to ${redirectUri}`);
    else deps.ui.info("waiting for the browser to come back (Ctrl-C to cancel)");
    try {
      return await Promise.race(contenders);
    } finally {
      done = true;
      pasteController.abort();
    }
  } finally {
    // Awaited: the process may exit right after (an error page), and the page must arrive whole.
    await server?.stop();
  }
}

/**
 * The paste prompt. A slip (nothing pasted, no code in it, a URL from another login attempt) is
 * asked again, up to PROMPT_TRIES times; then the login ends as an authentication failure (exit 4).
 * A provider's `error=` in the pasted URL, or an issuer mix-up, ends it at once.
 */
/**
 * OIDC Core §11: a server grants `offline_access` from the authorization endpoint only when the
 * request says `prompt=consent` (oidc-provider drops it otherwise, and with it the refresh token).
 * Added for OpenID providers (known issuer) unless the provider set its own prompt.
 */
function offlineConsent(
  settings: OAuthSettings,
  expectedIssuer: ExpectedIssuer | undefined,
): Record<string, string> | undefined {
  const extra = settings.extraAuthorizeParams;
  if (!expectedIssuer || !settings.scopes.includes("offline_access") || extra?.prompt !== undefined)
    return extra;
  return { ...extra, prompt: "consent" };
}

async function promptForPaste(
  ctx: Context,
  state: string,
  expectedIssuer: ExpectedIssuer | undefined,
  redirectUri: string,
  verifier: string,
  nonce: string | undefined,
  signal: AbortSignal,
  message: string,
): Promise<AuthorizationCode> {
  const prompter = await ctx.deps.prompter();
  for (let attempt = 1; ; attempt++) {
    let input: string;
    try {
      input = await prompter.text(
        attempt === 1 ? message : `Paste the redirect URL (try ${attempt} of ${PROMPT_TRIES})`,
        { placeholder: redirectUri, signal },
      );
    } catch (error) {
      // The callback won and aborted the prompt: this contender simply never finishes.
      if (signal.aborted) return new Promise<never>(() => {});
      throw error;
    }
    try {
      const pasted = parsePastedInput(input, state, expectedIssuer);
      return { code: pasted.code, state: pasted.state ?? state, redirectUri, verifier, nonce };
    } catch (error) {
      // A state from another attempt is a slip worth another paste; an issuer mix-up (RFC 9207) is not.
      const otherAttempt = isAuthctlError(error) && error.message === STATE_MISMATCH_MESSAGE;
      if (!isAuthctlError(error) || (error.code !== "USAGE" && !otherAttempt)) throw error;
      if (attempt >= PROMPT_TRIES) {
        throw new AuthctlError(
          "AUTH_FAILED",
          `no usable redirect URL after ${PROMPT_TRIES} tries (${error.message})`,
          {
            hint: "run the login again and paste the address the browser ends on for that attempt",
          },
        );
      }
      // The oauth core's mismatch message says "start again": at this prompt, pasting again is the way.
      const why = otherAttempt
        ? "that URL belongs to another login attempt (its state does not match)"
        : error.message;
      ctx.deps.ui.warn(`${why}: paste the redirect URL of this login, or press Ctrl-C to stop`);
    }
  }
}
