/**
 * GitHub's OAuth device flow and the Copilot token exchange on 127.0.0.1, written from
 * providers.md §5 (its sources: badlogic/pi-mono packages/ai/src/utils/oauth/github-copilot.ts,
 * anomalyco/opencode packages/opencode/src/plugin/copilot.ts, GitHub's device-flow docs), not from
 * authctl's code. One server plays both hosts, told apart by path:
 * the real hosts are `https://<domain>` (github.com or an enterprise domain) for the device flow
 * and `https://api.<domain>` for the API; here the API lives under `apiUrl` = `${url}/api`.
 *
 *   const fake = startGitHubFake({ interval: 1 });
 *   const { device_code, user_code } = …POST /login/device/code…;
 *   fake.approve(user_code);                             // the user entered the code
 *
 * Endpoints:
 *   POST /login/device/code          client_id, scope (form or JSON)
 *   GET  /login/device               the page the user is sent to (HTML)
 *   POST /login/oauth/access_token   client_id, device_code, grant_type (form or JSON)
 *   GET  /api/copilot_internal/v2/token   Authorization: Bearer|token <GitHub token>
 *   GET  /api/user                   Authorization: Bearer|token <GitHub token>
 *   GET  /api/v3/copilot_internal/v2/token, GET /api/v3/user   the same, where a GitHub Enterprise
 *        Server serves its REST API (https://<host>/api/v3: docs.github.com enterprise-server rest/quickstart)
 * `tls: true` serves HTTPS with the test CA's 127.0.0.1 certificate (test/fakes/tls), so the
 * fake can stand for a GHES host named by `--host 127.0.0.1:<port>`.
 *
 * As GitHub does, the /login endpoints answer JSON only when `Accept: application/json` was sent,
 * and application/x-www-form-urlencoded text otherwise; and the access_token endpoint answers
 * HTTP 200 even for errors, with an `error` field. Poll answers, in the order checked:
 * incorrect_client_credentials, unsupported_grant_type, incorrect_device_code (unknown or
 * already exchanged), expired_token, slow_down (polled sooner than the device code's interval,
 * less 200 ms; the answer carries the new interval, +5 s, which also applies from then on),
 * access_denied, the token, authorization_pending.
 *
 * Choices where §5 is silent:
 * - /login/device/code with a missing or other client_id answers (HTTP 200)
 *   error=incorrect_client_credentials, like the poll endpoint;
 * - a device code that already got its token is unknown afterwards (incorrect_device_code);
 * - refresh_in = lifetime − 300 s (never below 0);
 * - the granted scope is the scope asked for at /login/device/code.
 *
 * `requests` holds every request, in order; `counts` counts requests per endpoint whatever the
 * answer (`poll` = access_token requests, `copilot` = token exchanges).
 */
import { TEST_TLS } from "./key-api.ts";
import {
  b64url,
  bareHtmlPage,
  bearerOf,
  bodyReader,
  deviceDecisions,
  hex,
  isForm,
  mentionsJson,
  serveFake,
  type DeviceState,
  type RecordedRequest,
} from "./_kit.ts";

export const GITHUB_COPILOT_CLIENT_ID = "Iv1.b507a08c87ecfe98";
export const GITHUB_USER_CODE = "WDJB-MJHT";
export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** How much sooner than the interval a poll may come before it gets slow_down. */
const POLL_TOLERANCE_MS = 200;

export interface GitHubFakeOptions {
  /** the client_id the server knows (default "Iv1.b507a08c87ecfe98") */
  clientId?: string;
  /** user_code handed out (default "WDJB-MJHT") */
  userCode?: string;
  /** seconds, default 899 */
  expiresIn?: number;
  /** seconds, default 5 */
  interval?: number;
  /** default true; false: the account has no Copilot seat, the exchange answers 404 */
  seat?: boolean;
  /** serve HTTPS with the test certificate (fixed at start) */
  tls?: boolean;
  /** lifetime of a Copilot token, seconds, default 1800 */
  copilotTokenTtl?: number;
  /** proxy-ep inside the Copilot token (default "proxy.individual.githubcopilot.com") */
  proxyEndpoint?: string;
  /** login from GET /api/user (default "octocat") */
  login?: string;
}

export interface GitHubFakeRequest
  extends RecordedRequest<Record<string, string>, "contentType" | "query" | "headers"> {
  /** parsed form or JSON object body (values as strings); {} otherwise */
  body: Record<string, string>;
}

export interface GitHubFake {
  /** http://127.0.0.1:<port>, standing for https://<domain> */
  url: string;
  /** `${url}/api`, standing for https://api.<domain> */
  apiUrl: string;
  /** mutable: tests change behaviour between steps */
  options: GitHubFakeOptions;
  requests: GitHubFakeRequest[];
  counts: { device: number; poll: number; copilot: number; user: number };
  issued: { githubTokens: string[]; copilotTokens: string[] };
  /** the user entered this code and approved: pending device codes with it will get a token */
  approve(userCode: string): void;
  /** the user entered this code and declined: its pending device codes get access_denied */
  deny(userCode: string): void;
  stop(): void;
}

interface DeviceRecord {
  userCode: string;
  scope: string;
  expiresAt: number;
  /** seconds; grows by 5 with each slow_down */
  interval: number;
  lastPoll: number | undefined;
  state: DeviceState;
}

/** The /login endpoints: JSON if asked for with Accept, form-encoded text otherwise. */
function loginAnswer(req: Request, body: Record<string, string | number>): Response {
  if ((req.headers.get("accept") ?? "").toLowerCase().includes("application/json"))
    return Response.json(body);
  const text = new URLSearchParams(
    Object.entries(body).map(([k, v]): [string, string] => [k, String(v)]),
  ).toString();
  return new Response(text, {
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
  });
}

/** The GitHub token from `Authorization: Bearer …` or `Authorization: token …`. */
const githubTokenOf = (req: Request) => bearerOf(req, "Bearer|token");

const apiMessage = (status: number, message: string) => Response.json({ message }, { status });

export function startGitHubFake(initial: GitHubFakeOptions = {}): GitHubFake {
  const options: GitHubFakeOptions = { ...initial };
  const requests: GitHubFakeRequest[] = [];
  const counts = { device: 0, poll: 0, copilot: 0, user: 0 };
  const issued = { githubTokens: [] as string[], copilotTokens: [] as string[] };
  const devices = new Map<string, DeviceRecord>();
  const githubTokens = new Set<string>();

  const clientId = () => options.clientId ?? GITHUB_COPILOT_CLIENT_ID;
  const error = (req: Request, code: string, description: string, extra: Record<string, number> = {}) =>
    loginAnswer(req, { error: code, error_description: description, ...extra });

  function deviceCode(req: Request, body: Record<string, string>): Response {
    if (body.client_id !== clientId()) {
      return error(
        req,
        "incorrect_client_credentials",
        "The client_id and/or client_secret passed are incorrect.",
      );
    }
    const expiresIn = options.expiresIn ?? 899;
    const interval = options.interval ?? 5;
    const code = hex(20);
    const userCode = options.userCode ?? GITHUB_USER_CODE;
    devices.set(code, {
      userCode,
      scope: body.scope ?? "",
      expiresAt: Date.now() + expiresIn * 1000,
      interval,
      lastPoll: undefined,
      state: "pending",
    });
    return loginAnswer(req, {
      device_code: code,
      user_code: userCode,
      verification_uri: `${http.url}/login/device`,
      expires_in: expiresIn,
      interval,
    });
  }

  function poll(req: Request, body: Record<string, string>): Response {
    if (body.client_id !== clientId()) {
      return error(
        req,
        "incorrect_client_credentials",
        "The client_id and/or client_secret passed are incorrect.",
      );
    }
    if (body.grant_type !== DEVICE_CODE_GRANT) {
      return error(req, "unsupported_grant_type", `The grant type must be ${DEVICE_CODE_GRANT}.`);
    }
    const device = body.device_code === undefined ? undefined : devices.get(body.device_code);
    if (!device || device.state === "used") {
      return error(req, "incorrect_device_code", "The device_code provided is not valid.");
    }
    const now = Date.now();
    if (now >= device.expiresAt) return error(req, "expired_token", "The device_code has expired.");
    const previous = device.lastPoll;
    device.lastPoll = now;
    if (previous !== undefined && now - previous < device.interval * 1000 - POLL_TOLERANCE_MS) {
      device.interval += 5;
      return error(req, "slow_down", "Too many requests have been made in the same timeframe.", {
        interval: device.interval,
      });
    }
    if (device.state === "denied")
      return error(req, "access_denied", "The authorization request was denied.");
    if (device.state === "approved") {
      device.state = "used";
      const token = `gho_${b64url(18).replace(/[-_]/g, "0")}`;
      githubTokens.add(token);
      issued.githubTokens.push(token);
      return loginAnswer(req, { access_token: token, token_type: "bearer", scope: device.scope });
    }
    return error(req, "authorization_pending", "The authorization request is still pending.");
  }

  function copilotToken(req: Request): Response {
    const token = githubTokenOf(req);
    if (token === undefined || !githubTokens.has(token)) return apiMessage(401, "Bad credentials");
    if (options.seat === false) return apiMessage(404, "Not Found");
    const ttl = options.copilotTokenTtl ?? 1800;
    const expiresAt = Math.floor(Date.now() / 1000) + ttl;
    const proxy = options.proxyEndpoint ?? "proxy.individual.githubcopilot.com";
    const copilot = [
      `tid=${hex(16)}`,
      `exp=${expiresAt}`,
      "sku=free_limited_copilot",
      `proxy-ep=${proxy}`,
      `8kp=1:${hex(32)}`,
    ].join(";");
    issued.copilotTokens.push(copilot);
    return Response.json({ token: copilot, expires_at: expiresAt, refresh_in: Math.max(0, ttl - 300) });
  }

  function user(req: Request): Response {
    const token = githubTokenOf(req);
    if (token === undefined || !githubTokens.has(token)) return apiMessage(401, "Bad credentials");
    return Response.json({ login: options.login ?? "octocat" });
  }

  const http = serveFake({
    body: bodyReader({ form: isForm, json: mentionsJson, strings: true }),
    record: { into: requests, fields: ["method", "path", "contentType", "body", "query", "headers", "at"] },
    routes: {
      "POST /login/device/code": ({ req, body }) => {
        counts.device += 1;
        return deviceCode(req, body);
      },
      "POST /login/oauth/access_token": ({ req, body }) => {
        counts.poll += 1;
        return poll(req, body);
      },
      "GET /login/device": () => bareHtmlPage("Device activation"),
      "GET /api/copilot_internal/v2/token": ({ req }) => {
        counts.copilot += 1;
        return copilotToken(req);
      },
      "GET /api/user": ({ req }) => {
        counts.user += 1;
        return user(req);
      },
      "GET /api/v3/copilot_internal/v2/token": ({ req }) => {
        counts.copilot += 1;
        return copilotToken(req);
      },
      "GET /api/v3/user": ({ req }) => {
        counts.user += 1;
        return user(req);
      },
    },
    notFound: () => apiMessage(404, "Not Found"),
    tls: options.tls ? { cert: TEST_TLS.cert, key: TEST_TLS.key } : undefined,
  });

  return {
    url: http.url,
    apiUrl: `${http.url}/api`,
    options,
    requests,
    counts,
    issued,
    // GITHUB_USER_CODE is shared by every device code: a decision applies to all pending ones
    ...deviceDecisions(
      devices,
      (userCode) => `github fake: no pending device code has user code ${userCode}`,
      true,
    ),
    stop: http.stop,
  };
}
