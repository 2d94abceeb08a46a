/**
 * A model provider's API on 127.0.0.1, for `exec --proxy` tests and scripts/bench-proxy.ts.
 * It records every request's headers and answers under `/api/v1` (any prefix works: only the
 * last path segment matters):
 *
 *   GET  …/stream?events=N&delay=MS  SSE: N `data:` events, MS apart; `streamFinishedAt` is set
 *                                     when the last one has been written
 *   GET  …/bytes?size=N               N bytes of application/octet-stream (one preallocated body)
 *   any  …/echo                       JSON {method, path, body} — a small request
 *   any  …/me                         like echo, but only for a credential `authorize` accepts
 *
 * `authorize(header)` decides who is let in (default: everyone): 401 otherwise. `rejectNext`
 * answers the next N requests with 401 whatever the credential, to provoke a refresh.
 */
export interface UpstreamRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  at: number;
}

export interface Upstream {
  url: string;
  port: number;
  requests: UpstreamRequest[];
  streamFinishedAt: number | undefined;
  rejectNext: number;
  stop(): void;
}

export interface UpstreamOptions {
  authorize?: (authorization: string | null, req: Request) => boolean | Promise<boolean>;
  /** Don't record requests (the benchmark sends tens of thousands). */
  quiet?: boolean;
}

const encoder = new TextEncoder();

export function startUpstream(options: UpstreamOptions = {}): Upstream {
  let big = new Uint8Array(0);
  const state: Upstream = {
    url: "",
    port: 0,
    requests: [],
    streamFinishedAt: undefined,
    rejectNext: 0,
    stop: () => void server.stop(true),
  };

  function sse(events: number, delay: number): Response {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent > 0) await Bun.sleep(delay);
        controller.enqueue(encoder.encode(`data: {"n":${sent},"at":${Date.now()}}\n\n`));
        sent += 1;
        if (sent === events) {
          controller.enqueue(encoder.encode("data: [DONE]\n\n"));
          state.streamFinishedAt = Date.now();
          controller.close();
        }
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (!options.quiet) {
        state.requests.push({
          method: req.method,
          path: url.pathname + url.search,
          headers: Object.fromEntries(req.headers),
          at: Date.now(),
        });
      }
      const last = url.pathname.split("/").pop();
      if (last === "me") {
        const allowed =
          state.rejectNext > 0
            ? ((state.rejectNext -= 1), false)
            : await (options.authorize?.(req.headers.get("authorization"), req) ?? true);
        if (!allowed) return Response.json({ error: { message: "invalid credential" } }, { status: 401 });
      }
      if (last === "stream")
        return sse(Number(url.searchParams.get("events") ?? 5), Number(url.searchParams.get("delay") ?? 200));
      if (last === "bytes") {
        const size = Number(url.searchParams.get("size") ?? 1024);
        if (big.length < size) big = new Uint8Array(size).fill(97);
        return new Response(big.subarray(0, size), {
          headers: { "content-type": "application/octet-stream" },
        });
      }
      if (last === "echo" || last === "me") {
        const body = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
        return Response.json({ method: req.method, path: url.pathname, body });
      }
      return Response.json({ error: { message: "not found" } }, { status: 404 });
    },
  });
  state.port = server.port!;
  state.url = `http://127.0.0.1:${server.port}`;
  return state;
}
