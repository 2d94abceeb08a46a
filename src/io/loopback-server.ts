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

/** A random port whose ::1 twin is taken is drawn again, this many times at most. */
const RANDOM_PORT_TRIES = 5;

export function startLoopbackServer(options: LoopbackOptions): LoopbackServer {
  const busy: number[] = [];
  const busyV6: number[] = [];
  const ports = options.ports.flatMap((port) =>
    port === 0 ? Array<number>(RANDOM_PORT_TRIES).fill(0) : [port],
  );
  for (const port of ports) {
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
      } catch (error) {
        // Someone else holds the port on ::1: a browser that resolves localhost to ::1 would
        // hand them the code and state (another local user's phishing page). The port is busy.
        if (isAddrInUse(error)) {
          void v4.stop(true);
          busyV6.push(actual);
          continue;
        }
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
  const taken = [
    ...busy.map((port) => ({ port, host: "127.0.0.1" })),
    ...busyV6.map((port) => ({ port, host: "::1" })),
  ];
  const hosts = new Set(taken.map((t) => t.host));
  const named =
    hosts.size === 1
      ? `${taken.map((t) => t.port).join(", ")} on ${[...hosts][0]}`
      : taken.map((t) => `${t.port} on ${t.host}`).join(", ");
  throw new AuthctlError(
    "PORT_BUSY",
    `port${taken.length > 1 ? "s" : ""} ${named} ${taken.length > 1 ? "are" : "is"} in use, and the provider only accepts ${taken.length > 1 ? "those" : "that one"}`,
  );
}

function serveOn(hostname: string, port: number, options: LoopbackOptions) {
  return Bun.serve({
    hostname,
    port,
    reusePort: false,
    fetch(request) {
      const url = new URL(request.url);
      if (request.method !== "GET" || url.pathname !== options.path)
        return new Response("Not found", { status: 404 });
      const { status, html } = options.handle(url);
      return new Response(html, {
        status,
        headers: {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-store",
          "referrer-policy": "no-referrer",
        },
      });
    },
  });
}

function isAddrInUse(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e?.code === "EADDRINUSE" || /in use|EADDRINUSE/i.test(String(e?.message));
}
