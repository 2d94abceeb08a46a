import type { LoopbackServer, LoopbackServerOptions } from "../deps.ts";
import { AuthctlError } from "../errors.ts";

/**
 * The loopback redirect listener (RFC 8252 §7.3). It binds 127.0.0.1 only — never 0.0.0.0 — and,
 * when the redirect URI says `localhost`, ::1 as well, because browsers resolve localhost to
 * either (balena-io/balena-cli#1765).
 */
type LoopbackOptions = LoopbackServerOptions;

/** How long the last page may take to reach the browser before the listener is closed anyway. */
const STOP_GRACE_MS = 2_000;

export function startLoopbackServer(options: LoopbackOptions): LoopbackServer {
  const busy: number[] = [];
  for (const port of options.ports) {
    let v4: ReturnType<typeof Bun.serve> | undefined;
    try {
      v4 = serveOn("127.0.0.1", port, options);
    } catch (error) {
      if (!isAddrInUse(error)) throw error;
      busy.push(port);
      continue;
    }
    const actual = v4.port!;
    let v6: ReturnType<typeof Bun.serve> | undefined;
    if (options.dualStack) {
      try {
        v6 = serveOn("::1", actual, options);
      } catch {
        // No IPv6 loopback on this machine: browsers then resolve localhost to 127.0.0.1.
      }
    }
    return {
      port: actual,
      async stop() {
        // Graceful first: the page answering the request that ended the login is still being
        // written when the flow finishes, and a forced stop cut it off (the browser got an empty
        // reply, curl exit 52). Then forced, so that a browser's idle keep-alive connection
        // cannot hold authctl open.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)));
        await Promise.race([Promise.all([v4.stop(false), v6?.stop(false)]), grace]);
        clearTimeout(timer);
        await Promise.all([v4.stop(true), v6?.stop(true)]);
      },
    };
  }
  throw new AuthctlError("PORT_BUSY", `port${busy.length > 1 ? "s" : ""} ${busy.join(", ")} on 127.0.0.1 ${busy.length > 1 ? "are" : "is"} in use, and the provider only accepts ${busy.length > 1 ? "those" : "that one"}`, {
    detail: { ports: busy },
  });
}

function serveOn(hostname: string, port: number, options: LoopbackOptions) {
  return Bun.serve({
    hostname,
    port,
    reusePort: false,
    fetch(request) {
      const url = new URL(request.url);
      if (request.method !== "GET" || url.pathname !== options.path) return new Response("Not found", { status: 404 });
      const { status, html } = options.handle(url);
      return new Response(html, {
        status,
        headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "referrer-policy": "no-referrer" },
      });
    },
  });
}

function isAddrInUse(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e?.code === "EADDRINUSE" || /in use|EADDRINUSE/i.test(String(e?.message));
}
