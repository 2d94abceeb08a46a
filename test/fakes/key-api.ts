/**
 * A fake of the providers' key-validation endpoints (providers.md §9), on 127.0.0.1. It answers
 * like the real ones for the keys the tests use: a good key 200, a revoked one 401 with the
 * provider's error body, a disabled one 403, a key that hits an outage 500, a rate-limited one 429,
 * and a "hostile" one 401 with terminal escapes and the key itself in the body.
 * Sources for the provider-specific answers:
 * - OpenRouter's GET /api/v1/key answers {data: {label, usage, limit, …}}
 *   (https://openrouter.ai/docs/api/api-reference/api-keys/get-current-key).
 * - xAI's GET /v1/api-key answers an unknown key with HTTP 400 "Incorrect API key provided: xa***yz.
 *   You can obtain an API key from https://console.x.ai." (continuedev/continue#10778, openai/codex#1352).
 * - Hugging Face: GET /api/whoami-v2 needs a valid token and answers {type: "user", name, …}
 *   (huggingface/huggingface_hub hf_api.py HfApi.whoami); the router's GET /v1/models is public,
 *   so `publicPaths` answers it 200 whatever the key (the reason whoami-v2 is the check).
 * - Regions (MiniMax, Moonshot, DashScope): with `region` set, a key tagged `region-<other>` is
 *   unknown here and gets 401, as a China key gets from a global host (MiniMax's own CLI probes
 *   both regions for that reason: MiniMax-AI/cli src/config/detect-region.ts). The 401 body is
 *   Moonshot's OpenAI-style {error: {message: "Invalid Authentication", type: "invalid_authentication_error"}}.
 */
import { join } from "node:path";

export interface KeyApiRequest {
  method: string;
  path: string;
  authorization: string | null;
  apiKeyHeader: string | null;
  headers: Record<string, string>;
}

export interface KeyApi {
  url: string;
  requests: KeyApiRequest[];
  stop(): void;
}

/** The test CA and a certificate for 127.0.0.1 it signed (its private key was thrown away). */
export const TEST_TLS = {
  caPath: join(import.meta.dir, "tls", "ca.pem"),
  cert: join(import.meta.dir, "tls", "server.pem"),
  key: join(import.meta.dir, "tls", "server.key"),
};

export interface KeyApiOptions {
  /** Serve HTTPS with the test certificate, as behind a TLS-inspecting company proxy. */
  tls?: boolean;
  /** The region this server stands for: keys tagged `region-<another>` get 401. */
  region?: string;
  /** Paths that answer 200 without looking at the key (Hugging Face's router listing). */
  publicPaths?: string[];
}

export function startKeyApi(options: KeyApiOptions = {}): KeyApi {
  const requests: KeyApiRequest[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: options.tls ? { cert: Bun.file(TEST_TLS.cert), key: Bun.file(TEST_TLS.key) } : undefined,
    fetch(req) {
      const url = new URL(req.url);
      const authorization = req.headers.get("authorization");
      const apiKeyHeader = req.headers.get("x-api-key") ?? req.headers.get("x-goog-api-key");
      requests.push({
        method: req.method,
        path: url.pathname,
        authorization,
        apiKeyHeader,
        headers: Object.fromEntries(req.headers),
      });
      const key = authorization?.replace(/^Bearer /, "") ?? apiKeyHeader ?? "";
      if (options.publicPaths?.includes(url.pathname))
        return Response.json({ object: "list", data: [{ id: "public-model", object: "model" }] });
      if (url.pathname.endsWith("/api-key") && (!key || key.includes("revoked"))) {
        const shown = key ? `${key.slice(0, 2)}***${key.slice(-2)}` : "";
        return Response.json(
          {
            code: "Client specified an invalid argument",
            error: `Incorrect API key provided: ${shown}. You can obtain an API key from https://console.x.ai.`,
          },
          { status: 400 },
        );
      }
      if (!key)
        return Response.json({ error: { message: "No auth credentials found", code: 401 } }, { status: 401 });
      const tagged = /region-([a-z]+)/.exec(key)?.[1];
      if (options.region && tagged && tagged !== options.region) {
        return Response.json(
          { error: { message: "Invalid Authentication", type: "invalid_authentication_error" } },
          { status: 401 },
        );
      }
      // A hostile server: terminal escapes (retitle, clear screen), a bidi override, and the key echoed back.
      if (key.includes("hostile")) {
        return Response.json(
          { error: { message: `\x1b]0;pwned\x07\x1b[2Jwrong key ${key}\u202e done` } },
          { status: 401 },
        );
      }
      if (key.includes("revoked"))
        return Response.json({ error: { message: "User not found.", code: 401 } }, { status: 401 });
      if (key.includes("forbidden"))
        return Response.json({ error: { message: "Key disabled", code: 403 } }, { status: 403 });
      if (key.includes("outage"))
        return new Response("<html><body>502 Bad Gateway</body></html>", {
          status: 500,
          headers: { "content-type": "text/html" },
        });
      if (key.includes("ratelimited"))
        return Response.json({ error: { message: "Rate limit exceeded", code: 429 } }, { status: 429 });
      if (url.pathname.endsWith("/whoami-v2"))
        return Response.json({ type: "user", name: "test-user", auth: { type: "access_token" } });
      if (url.pathname.endsWith("/key")) {
        return Response.json({
          data: {
            label: "sk-or-v1-abc...xyz",
            usage: 0,
            limit: null,
            is_free_tier: false,
            rate_limit: { requests: 10, interval: "10s" },
          },
        });
      }
      return Response.json({ object: "list", data: [{ id: "fake-model", object: "model" }] });
    },
  });
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${server.port}`,
    requests,
    stop: () => server.stop(true),
  };
}

/** A port that refuses connections: bound, noted, released. */
export function refusedPort(): number {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = server.port!;
  server.stop(true);
  return port;
}
