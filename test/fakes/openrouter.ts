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
import { createHash, randomBytes } from "node:crypto";

export interface OpenRouterFakeOptions {
  /** what GET /auth does once the request is valid (default "approve") */
  authorize?: "approve" | "deny";
  /** user_id in the exchange answer; §2 says it may be null (default a random "user_…") */
  userId?: string | null;
}

export interface OpenRouterFakeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** the JSON object body, values as sent; {} when there was none or it was not a JSON object */
  body: Record<string, unknown>;
  /** lower-cased header names */
  headers: Record<string, string>;
  /** Date.now() when the request arrived */
  at: number;
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

function htmlPage(status: number, title: string, text: string): Response {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const html = [
    `<!DOCTYPE html>`,
    `<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>`,
    `<body><h1>${esc(title)}</h1><p>${esc(text)}</p></body></html>`,
  ].join("\n");
  return new Response(html, { status, headers: { "content-type": "text/html; charset=utf-8" } });
}

/** §2: "localhost/127.0.0.1 URLs on any port" for local tools, or https. */
function isAllowedCallback(value: string): boolean {
  try {
    const url = new URL(value);
    if (url.protocol === "https:") return true;
    return url.protocol === "http:" && (url.hostname === "127.0.0.1" || url.hostname === "localhost");
  } catch {
    return false;
  }
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

    const redirect = new URL(callback); // its own query (a state the client put there) is kept
    if ((options.authorize ?? "approve") === "deny") {
      // Undocumented: §2 does not say what the user declining looks like. We send an error.
      redirect.searchParams.set("error", "access_denied");
    } else {
      const code = randomBytes(16).toString("hex");
      codes.set(code, { challenge, method, label: query.key_label ?? null, used: false });
      redirect.searchParams.set("code", code);
    }
    return new Response(null, { status: 302, headers: { location: redirect.href } });
  }

  function exchange(raw: string): Response {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return apiError(400, "Invalid JSON body");
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return apiError(400, "Invalid JSON body");
    const body = parsed as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === "string" ? v : undefined);

    const invalid = () => apiError(403, "Invalid code or code_verifier");
    const code = str(body.code);
    const record = code === undefined ? undefined : codes.get(code);
    if (!record || record.used) return invalid();
    if (record.method !== undefined) {
      if (body.code_challenge_method !== record.method) return apiError(400, "Invalid code_challenge_method");
      const verifier = str(body.code_verifier) ?? "";
      const computed = record.method === "S256" ? createHash("sha256").update(verifier).digest("base64url") : verifier;
      if (!verifier || computed !== record.challenge) return invalid();
    }

    record.used = true;
    const issued: IssuedKey = {
      key: `sk-or-v1-${randomBytes(32).toString("hex")}`,
      label: str(body.key_label) ?? record.label,
      userId: options.userId === undefined ? `user_${randomBytes(12).toString("hex")}` : options.userId,
    };
    keys.set(issued.key, issued);
    issuedKeys.push(issued);
    return Response.json({ key: issued.key, user_id: issued.userId });
  }

  function currentKey(req: Request): Response {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
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

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const { pathname, searchParams } = new URL(req.url);
      const raw = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
      let body: Record<string, unknown> = {};
      try {
        const value: unknown = JSON.parse(raw);
        if (value && typeof value === "object" && !Array.isArray(value)) body = value as Record<string, unknown>;
      } catch {
        // recorded as {}
      }
      const headers = Object.fromEntries(req.headers);
      const query = Object.fromEntries(searchParams);
      requests.push({ method: req.method, path: pathname, query, body, headers, at: Date.now() });

      if (pathname === "/auth") {
        counts.auth += 1;
        if (req.method !== "GET") return htmlPage(405, "Method Not Allowed", "GET only");
        return auth(query);
      }
      if (pathname === "/api/v1/auth/keys") {
        counts.exchange += 1;
        if (req.method !== "POST") return apiError(405, "Method Not Allowed");
        return exchange(raw);
      }
      if (pathname === "/api/v1/key" || pathname === "/api/v1/auth/key") {
        counts.key += 1;
        if (req.method !== "GET") return apiError(405, "Method Not Allowed");
        return currentKey(req);
      }
      return apiError(404, "Not Found");
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    options,
    requests,
    counts,
    issuedKeys,
    stop() {
      void server.stop(true);
    },
  };
}
