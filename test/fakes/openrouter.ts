/**
 * OpenRouter's PKCE login on 127.0.0.1, written from providers.md §2 (not from authctl's code):
 * the browser page that redirects with a code, the exchange of that code for a permanent
 * `sk-or-v1-…` API key, and the key status endpoint. There is no client_id, no access or refresh
 * token: the key is the credential.
 *
 *   const fake = startOpenRouterFake({ authorize: "deny" });
 *   fake.options.authorize = "approve";                 // behaviour may change between steps
 *
 * Endpoints (the real host is https://openrouter.ai):
 *   GET /auth?callback_url=…&code_challenge=…&code_challenge_method=S256|plain[&key_label=…]
 *       (a login page in reality; here it answers at once with a 302 to callback_url)
 *   POST /api/v1/auth/keys   JSON {code, code_verifier, code_challenge_method[, key_label]}
 *       → 200 {key, user_id}; 400 method mismatch; 403 bad code or verifier; 405 not POST
 *   GET /api/v1/key          Bearer <key> → 200 {data:{label, limit, …}}; 401 otherwise
 *       (also at the older path /api/v1/auth/key, which §2 names)
 * Deleting a key is not documented, so it is not served (405 like any other method).
 *
 * The redirect appends `?code=…` to callback_url as text, as the docs describe it ("redirected
 * back to your site with a code parameter in the URL"): a callback_url that already has a query
 * comes back broken (`…?state=abc?code=…`). No source shows OpenRouter merging queries, so a
 * client must not rely on it: pi (earendil-works/pi packages/ai/src/auth/oauth/openrouter.ts)
 * carries its per-login value in the path, /oauth/callback/<uuid>.
 *
 * Choices where §2 is silent (each marked "undocumented" below):
 * - a code whose exchange fails (400/403) stays usable; only a successful exchange uses it up;
 * - /auth without code_challenge is allowed ("optional but recommended"); such a code is then
 *   exchanged without any verifier check, and code_challenge_method in the body is ignored;
 * - a code_challenge without code_challenge_method means `plain` (the RFC 7636 default);
 * - deny redirects with `?error=access_denied` and no code.
 *
 * `requests` holds every request, in order; `counts` counts requests per endpoint whatever the
 * answer; `issuedKeys` lists the keys handed out, with their label.
 */
import {
  bearerOf,
  bodyReader,
  hex,
  htmlPage,
  jsonObject,
  parseUrl,
  pkceChallenge,
  redirect,
  serveFake,
  type RecordedRequest,
} from "./_kit.ts";

export interface OpenRouterFakeOptions {
  /** what GET /auth does once the request is valid (default "approve") */
  authorize?: "approve" | "deny";
  /** user_id in the exchange answer; §2 says it may be null (default a random "user_…") */
  userId?: string | null;
}

export interface OpenRouterFakeRequest extends RecordedRequest<Record<string, unknown>, "query" | "headers"> {
  /** the JSON object body, values as sent; {} when there was none or it was not a JSON object */
  body: Record<string, unknown>;
}

export interface IssuedKey {
  key: string;
  /** key_label from the exchange body, else from the /auth query, else null */
  label: string | null;
  userId: string | null;
}

export interface OpenRouterFake {
  /** http://127.0.0.1:<port>, standing for https://openrouter.ai */
  url: string;
  /** mutable: tests change behaviour between steps */
  options: OpenRouterFakeOptions;
  requests: OpenRouterFakeRequest[];
  counts: { auth: number; exchange: number; key: number };
  issuedKeys: IssuedKey[];
  stop(): void;
}

type Method = "S256" | "plain";

interface CodeRecord {
  /** undefined when /auth was sent no code_challenge */
  challenge: string | undefined;
  method: Method | undefined;
  label: string | null;
  used: boolean;
}

/** The error shape of OpenRouter's API: {"error":{"message","code"}}. */
function apiError(status: number, message: string): Response {
  return Response.json({ error: { message, code: status } }, { status });
}

/** §2: "localhost/127.0.0.1 URLs on any port" for local tools, or https. */
function isAllowedCallback(value: string): boolean {
  const url = parseUrl(value);
  if (url?.protocol === "https:") return true;
  return url?.protocol === "http:" && (url.hostname === "127.0.0.1" || url.hostname === "localhost");
}

export function startOpenRouterFake(initial: OpenRouterFakeOptions = {}): OpenRouterFake {
  const options: OpenRouterFakeOptions = { ...initial };
  const requests: OpenRouterFakeRequest[] = [];
  const counts = { auth: 0, exchange: 0, key: 0 };
  const issuedKeys: IssuedKey[] = [];
  const codes = new Map<string, CodeRecord>();
  const keys = new Map<string, IssuedKey>();

  function auth(query: Record<string, string>): Response {
    const bad = (text: string) => htmlPage(400, "Invalid request", text);
    const callback = query.callback_url;
    if (!callback) return bad("callback_url is required");
    if (!isAllowedCallback(callback)) return bad("callback_url must be https or http on localhost/127.0.0.1");
    const challenge = query.code_challenge || undefined;
    let method: Method | undefined;
    if (challenge !== undefined) {
      const given = query.code_challenge_method ?? "plain"; // undocumented: RFC 7636 default
      if (given !== "S256" && given !== "plain") return bad("code_challenge_method must be S256 or plain");
      method = given;
    }

    // Appended as text, whatever query callback_url already has (see the header).
    if ((options.authorize ?? "approve") === "deny") {
      // Undocumented: §2 does not say what the user declining looks like. We send an error.
      return redirect(new URL(`${callback}?error=access_denied`));
    }
    const code = hex(16);
    codes.set(code, { challenge, method, label: query.key_label ?? null, used: false });
    return redirect(new URL(`${callback}?code=${code}`));
  }

  function exchange(raw: string): Response {
    const body = jsonObject(raw);
    if (!body) return apiError(400, "Invalid JSON body");
    const str = (v: unknown) => (typeof v === "string" ? v : undefined);

    const invalid = () => apiError(403, "Invalid code or code_verifier");
    const code = str(body.code);
    const record = code === undefined ? undefined : codes.get(code);
    if (!record || record.used) return invalid();
    if (record.method !== undefined) {
      if (body.code_challenge_method !== record.method) return apiError(400, "Invalid code_challenge_method");
      const verifier = str(body.code_verifier) ?? "";
      if (!verifier || pkceChallenge(verifier, record.method) !== record.challenge) return invalid();
    }

    record.used = true;
    const issued: IssuedKey = {
      key: `sk-or-v1-${hex(32)}`,
      label: str(body.key_label) ?? record.label,
      userId: options.userId === undefined ? `user_${hex(12)}` : options.userId,
    };
    keys.set(issued.key, issued);
    issuedKeys.push(issued);
    return Response.json({ key: issued.key, user_id: issued.userId });
  }

  function currentKey(req: Request): Response {
    const bearer = bearerOf(req);
    const issued = bearer === undefined ? undefined : keys.get(bearer);
    if (!issued) return apiError(401, "User not found.");
    return Response.json({
      data: {
        label: issued.label,
        limit: null,
        limit_remaining: null,
        usage: 0,
        is_free_tier: false,
        expires_at: null,
      },
    });
  }

  const keyStatus = ({ req }: { req: Request }) => {
    counts.key += 1;
    if (req.method !== "GET") return apiError(405, "Method Not Allowed");
    return currentKey(req);
  };

  const http = serveFake({
    // JSON whatever the Content-Type says
    body: bodyReader({ json: () => true }),
    record: { into: requests, fields: ["method", "path", "query", "body", "headers", "at"] },
    routes: {
      "* /auth": ({ req, query }) => {
        counts.auth += 1;
        if (req.method !== "GET") return htmlPage(405, "Method Not Allowed", "GET only");
        return auth(query);
      },
      "* /api/v1/auth/keys": ({ req, raw }) => {
        counts.exchange += 1;
        if (req.method !== "POST") return apiError(405, "Method Not Allowed");
        return exchange(raw);
      },
      "* /api/v1/key": keyStatus,
      "* /api/v1/auth/key": keyStatus,
    },
    notFound: () => apiError(404, "Not Found"),
  });

  return {
    url: http.url,
    options,
    requests,
    counts,
    issuedKeys,
    stop: http.stop,
  };
}
