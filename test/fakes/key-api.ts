/**
 * A fake of the providers' key-validation endpoints (providers.md §9), on 127.0.0.1. It answers
 * like the real ones for the keys the tests use: a good key 200, a revoked one 401 with the
 * provider's error body, a key that hits an outage 500, a rate-limited one 429.
 * OpenRouter's GET /api/v1/key answers {data: {label, usage, limit, …}}.
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

/** `tls`: serve HTTPS with the test certificate, as behind a TLS-inspecting company proxy. */
export function startKeyApi(options: { tls?: boolean } = {}): KeyApi {
  const requests: KeyApiRequest[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: options.tls ? { cert: Bun.file(TEST_TLS.cert), key: Bun.file(TEST_TLS.key) } : undefined,
    fetch(req) {
      const url = new URL(req.url);
      const authorization = req.headers.get("authorization");
      const apiKeyHeader = req.headers.get("x-api-key") ?? req.headers.get("x-goog-api-key");
      requests.push({ method: req.method, path: url.pathname, authorization, apiKeyHeader, headers: Object.fromEntries(req.headers) });
      const key = authorization?.replace(/^Bearer /, "") ?? apiKeyHeader ?? "";
      if (!key) return Response.json({ error: { message: "No auth credentials found", code: 401 } }, { status: 401 });
      if (key.includes("revoked")) return Response.json({ error: { message: "User not found.", code: 401 } }, { status: 401 });
      if (key.includes("forbidden")) return Response.json({ error: { message: "Key disabled", code: 403 } }, { status: 403 });
      if (key.includes("outage")) return new Response("<html><body>502 Bad Gateway</body></html>", { status: 500, headers: { "content-type": "text/html" } });
      if (key.includes("ratelimited")) return Response.json({ error: { message: "Rate limit exceeded", code: 429 } }, { status: 429 });
      if (url.pathname.endsWith("/key")) {
        return Response.json({ data: { label: "sk-or-v1-abc...xyz", usage: 0, limit: null, is_free_tier: false, rate_limit: { requests: 10, interval: "10s" } } });
      }
      return Response.json({ object: "list", data: [{ id: "fake-model", object: "model" }] });
    },
  });
  return { url: `${options.tls ? "https" : "http"}://127.0.0.1:${server.port}`, requests, stop: () => server.stop(true) };
}

/** A port that refuses connections: bound, noted, released. */
export function refusedPort(): number {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = server.port!;
  server.stop(true);
  return port;
}
