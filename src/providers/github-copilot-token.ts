import type { HttpClient } from "../deps.ts";
import { AuthctlError, HttpError } from "../errors.ts";
import { isTokenText, sendRequest } from "../oauth/index.ts";
import { registerSecret } from "../redact.ts";
import { githubApiBase } from "./_github-host.ts";
import type { HookDeps } from "./types.ts";

/**
 * The short-lived Copilot token (providers.md §5b, variant a): GET copilot_internal/v2/token with
 * the stored GitHub token. Caching it and the store lock are actions/use-exchange.ts's; this is
 * the request, loaded only by `authctl token github-copilot --copilot`.
 */
/**
 * The headers of VS Code's Copilot Chat, the first-party client of this exchange, as read in
 * microsoft/vscode-copilot-chat at commit 31acd00a (2026-03-29, extension 0.42.0):
 * src/platform/authentication/node/copilotTokenManager.ts fetchCopilotTokenFromGitHubToken sends
 * `Authorization: token <GitHub token>` and `X-GitHub-Api-Version: 2025-04-01`, and its fetchers
 * (src/platform/networking/node/nodeFetcher.ts) add `User-Agent: GitHubCopilotChat/<version>`.
 * Editor-Version, Editor-Plugin-Version and Copilot-Integration-Id are the chat requests' headers
 * (@vscode/copilot-api 0.2.18 adds them to those, not to this call); authctl keeps sending them
 * here, with the same extension's values (engines.vscode ^1.111.0), as pi-mono
 * packages/ai/src/utils/oauth/github-copilot.ts COPILOT_HEADERS and other clients of the
 * Iv1.b507a08c87ecfe98 app do, because its token may be checked for an editor identity.
 */
const HEADERS = {
  accept: "application/json",
  "x-github-api-version": "2025-04-01",
  "user-agent": "GitHubCopilotChat/0.42.0",
  "editor-version": "vscode/1.111.0",
  "editor-plugin-version": "copilot-chat/0.42.0",
  "copilot-integration-id": "vscode-chat",
};

function exchangeUrl(apiUrl: string, host: string | undefined): string {
  const base = new URL(apiUrl);
  if (host && apiUrl === "https://api.github.com") {
    // The store checks that `host` is a host name (store/_routing-fields.ts); this checks that the
    // URL built from it has exactly that host, so "x@evil" can never become user info here.
    // GHE.com: https://api.<host>; GitHub Enterprise Server: https://<host>/api/v3 (githubApiBase).
    const corrupt = () =>
      new AuthctlError("STORE_CORRUPT", "the stored GitHub host of github-copilot is not a host name", {
        hint: "run 'authctl login github-copilot --host <host>'",
      });
    let url: URL;
    try {
      url = new URL(`${githubApiBase(host)}/`);
    } catch {
      throw corrupt();
    }
    const expected = host.toLowerCase();
    if (url.username || url.password || (url.host !== `api.${expected}` && url.host !== expected))
      throw corrupt();
    return new URL("copilot_internal/v2/token", url).toString();
  }
  base.pathname = `${base.pathname.replace(/\/+$/, "")}/copilot_internal/v2/token`;
  return base.toString();
}

const WHAT = "Copilot token exchange";
/** A fresh Copilot token is wanted before an agent starts: 20 s, then the error. */
export const COPILOT_TOKEN_TIMEOUT_MS = 20_000;

/** GET copilot_internal/v2/token as VS Code's Copilot Chat sends it. Idempotent: retried once. */
export function copilotTokenRequest(
  http: HttpClient,
  input: { url: string; githubToken: string; signal?: AbortSignal },
): Promise<Response> {
  return sendRequest(
    http,
    input.url,
    WHAT,
    { method: "GET", headers: { ...HEADERS, authorization: `token ${input.githubToken}` } },
    { timeoutMs: COPILOT_TOKEN_TIMEOUT_MS, signal: input.signal, retries: 1 },
  );
}

/**
 * 200 with a non-empty `token` and a numeric `expires_at` (unix seconds: guhfvbj/copilot-api
 * get-copilot-token.ts; providers.md §5b). 401: the GitHub token is dead; 403/404: no Copilot seat.
 */
export async function processCopilotTokenResponse(
  response: Response,
): Promise<{ token: string; expiresAt: number }> {
  if (response.status === 401) {
    throw new HttpError(
      "AUTH_FAILED",
      "GitHub rejected the stored token (HTTP 401: Bad credentials)",
      { status: 401 },
      { hint: "run 'authctl login github-copilot'" },
    );
  }
  if (response.status === 403 || response.status === 404) {
    throw new HttpError(
      "AUTH_FAILED",
      `this GitHub account has no Copilot access (HTTP ${response.status})`,
      { status: response.status },
      { hint: "check the Copilot seat at github.com/settings/copilot" },
    );
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HttpError("PROTOCOL", `the ${WHAT} answered HTTP ${response.status} with no JSON`, {
      status: response.status,
    });
  }
  const body = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
  if (
    !response.ok ||
    typeof body.token !== "string" ||
    body.token === "" ||
    !isTokenText(body.token) ||
    typeof body.expires_at !== "number" ||
    !Number.isFinite(body.expires_at)
  ) {
    throw new HttpError("PROTOCOL", `the ${WHAT} answered HTTP ${response.status} without a token`, {
      status: response.status,
      data: body,
    });
  }
  registerSecret(body.token);
  return { token: body.token, expiresAt: body.expires_at * 1000 };
}

export async function exchangeCopilotToken(
  deps: HookDeps,
  github: string,
  extra: Record<string, string>,
): Promise<{ token: string; expiresAt: number }> {
  const url = exchangeUrl(deps.apiUrl, extra.host);
  return processCopilotTokenResponse(
    await copilotTokenRequest(deps.http, { url, githubToken: github, signal: deps.signal }),
  );
}
