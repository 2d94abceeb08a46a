import { timingSafeEqual } from "node:crypto";
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Readable, type Duplex } from "node:stream";
import type { ProxyCredential } from "./credentials.ts";
import type { ProxyRoute } from "./routes.ts";
import { relayUpgrade } from "./upgrade.ts";

/**
 * The session's reverse proxy. node:http rather than Bun.serve: Bun.serve resolves dot segments
 * and drops an absolute-form request target before the handler sees the request, and a proxy that
 * guards the provider's base URL has to see (and refuse) exactly what the client sent.
 */
export interface ProxyServer {
  port: number;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  stop(): Promise<void>;
}

export interface ProxyServerOptions {
  routes: ProxyRoute[];
  credentials: Map<string, ProxyCredential>;
  fetch: typeof fetch;
  /** Redacted, human output (a refresh that failed). Requests themselves are never logged. */
  warn(message: string): void;
}

/** RFC 9110 §7.6.1: connection-specific fields are not forwarded (a WebSocket handshake puts Upgrade back itself). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
/** Where SDKs put the key: the placeholder is accepted in any of them, and all are replaced. */
const CREDENTIAL_HEADERS = new Set(["authorization", "x-api-key", "x-goog-api-key"]);
/** A new connection must have sent a request's headers within this time. */
const HEADER_TIMEOUT_MS = 10_000;
/** A kept-alive connection with no request in flight is closed after this time. */
const IDLE_TIMEOUT_MS = 15_000;
/** Bodies up to this size are buffered, so a request rejected with 401 can be sent again after a refresh. */
const REPLAY_LIMIT = 1 << 20;

type Target = { route: ProxyRoute; url: string } | { status: number; message: string };
type Admission =
  | { route: ProxyRoute; url: string; credential: ProxyCredential; secret: string }
  | { status: number; message: string };

/**
 * A path segment as model APIs spell them (`v1beta`, `gemini-2.5-flash:generateContent`,
 * `msgbatch_01…`): RFC 3986 pchar without `;` (path parameters: Tomcat reads `..;x` as `..`) and
 * `%` (double encoding), ASCII only (U+FF0E, a full-width dot, becomes `.` under NFKC), and not
 * made of dots alone (`.`, `..`, `...`). Checked after percent-decoding.
 */
const PLAIN_SEGMENT = /^(?!\.+$)[A-Za-z0-9._~:@!$&'()*+,=-]*$/;

/**
 * Only origin-form targets (`/id/path?query`), RFC 9112 §3.2.1. Any segment that is not plain
 * after decoding — a dot segment however spelled, an encoded slash or backslash, whitespace or
 * control characters, `;` parameters, non-ASCII look-alikes — is refused outright rather than
 * normalised: the upstream's idea of normalisation may differ from ours, and no SDK sends such paths.
 */
export function parseTarget(raw: string, routes: Map<string, ProxyRoute>): Target {
  if (!raw.startsWith("/") || raw.startsWith("//"))
    return { status: 400, message: "only origin-form request targets (/provider/path) are accepted" };
  const q = raw.indexOf("?");
  const segments = (q < 0 ? raw : raw.slice(0, q)).split("/").slice(1);
  for (const segment of segments) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return { status: 400, message: "malformed percent-encoding in the path" };
    }
    if (!PLAIN_SEGMENT.test(decoded)) {
      return {
        status: 400,
        message:
          "path segments must be plain (no dot segments, encoded slashes, ';', whitespace or non-ASCII)",
      };
    }
  }
  const route = routes.get(segments[0] ?? "");
  if (!route)
    return {
      status: 404,
      message: `no provider at /${segments[0] ?? ""}; the proxy serves ${[...routes.keys()].map((id) => `/${id}`).join(", ")}`,
    };
  let path = `/${segments.slice(1).join("/")}`;
  const bare = route.unversioned;
  if (
    bare &&
    path.startsWith(`${route.varPath}/`) &&
    bare.segments.has(path.slice(route.varPath.length + 1).split("/")[0]!)
  ) {
    path = route.varPath + bare.version + path.slice(route.varPath.length);
  }
  if (!route.scopes.some((scope) => scope === "" || path === scope || path.startsWith(`${scope}/`))) {
    return {
      status: 403,
      message: `only paths under ${route.scopes.join(", ")} are forwarded for ${route.provider.id}`,
    };
  }
  return { route, url: route.origin + path + (q < 0 ? "" : raw.slice(q)) };
}

function sameSecret(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  // The placeholder's length is public (it is in the child's environment); its bytes are not.
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Where the provider also takes the key as a URL parameter (Gemini's `?key=`, in Google's REST
 * examples and older SDKs), that parameter counts as a way to present the placeholder and is
 * taken out of the forwarded query (the placeholder never travels on; the key goes in the header).
 * Other parameters keep their bytes.
 */
export function takeQueryKey(url: string, route: ProxyRoute): { url: string; key?: string } {
  const param = route.auth.kind === "header" ? route.auth.query : undefined;
  if (!param) return { url };
  const q = url.indexOf("?");
  if (q < 0) return { url };
  let key: string | undefined;
  const kept = url
    .slice(q + 1)
    .split("&")
    .filter((pair) => {
      const [name, value = ""] = pair.split("=", 2) as [string, string?];
      if (name !== param) return true;
      try {
        key = decodeURIComponent(value.replace(/\+/g, " "));
      } catch {
        key = value;
      }
      return false;
    });
  return { url: url.slice(0, q) + (kept.length ? `?${kept.join("&")}` : ""), key };
}

function presentsPlaceholder(req: IncomingMessage, placeholder: string, queryKey?: string): boolean {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
  const candidates = [bearer, req.headers["x-api-key"], req.headers["x-goog-api-key"], queryKey];
  let ok = false;
  for (const value of candidates) if (typeof value === "string" && sameSecret(value, placeholder)) ok = true;
  return ok;
}

function upstreamHeaders(req: IncomingMessage, route: ProxyRoute, secret: string): Headers {
  const named = new Set(
    String(req.headers.connection ?? "")
      .toLowerCase()
      .split(",")
      .map((s) => s.trim()),
  );
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name) || CREDENTIAL_HEADERS.has(name) || name === "host") continue;
    // A buffered body gets its length from fetch; a streamed one goes chunked.
    if (name === "content-length") continue;
    headers.append(name, raw[i + 1]!);
  }
  if (route.auth.kind === "bearer") headers.set("authorization", `Bearer ${secret}`);
  else {
    headers.set(route.auth.name, secret);
    for (const [name, value] of Object.entries(route.auth.extra ?? {}))
      if (!headers.has(name)) headers.set(name, value);
  }
  return headers;
}

function refusalBody(message: string): string {
  return JSON.stringify({ error: { type: "authctl_proxy", message: `authctl proxy: ${message}` } });
}

function refuse(res: ServerResponse, status: number, message: string): void {
  const body = refusalBody(message);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** A refusal written straight to a socket that never became an HTTP response (an upgrade request). */
function refuseRaw(socket: Duplex, status: number, message: string): void {
  const body = refusalBody(message);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Copies the provider's body to the child chunk by chunk, straight from the fetch reader to
 * res.write: each chunk is written the moment it arrives (SSE events are never held back), the next
 * one is read only once the child's socket has room (backpressure), and nothing is decoded. A
 * hand-written loop rather than pipeline(Readable.fromWeb(body), res): the Readable in between
 * re-buffers every chunk; dropping it took a 50 MB stream from ~45% to ~60% of direct throughput
 * on a 2-core machine (scripts/bench-proxy.ts), where a kernel splice() relay reaches ~65–70%.
 */
async function relay(body: ReadableStream<Uint8Array>, res: ServerResponse): Promise<void> {
  const reader = body.getReader();
  // Headers and the first chunk leave together when the chunk is already there (a small answer:
  // one write instead of two); otherwise the headers go at once, so an SSE client sees the
  // response start while the model thinks.
  let first: ReturnType<typeof reader.read> | undefined = reader.read();
  const ready = await Promise.race([
    first.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
  ]);
  if (!ready) res.flushHeaders();
  let gone = false;
  let wake: (() => void) | undefined;
  const onGone = () => {
    gone = true;
    wake?.();
  };
  const onDrain = () => wake?.();
  res.on("close", onGone);
  res.on("drain", onDrain);
  try {
    for (;;) {
      const next = first ?? reader.read();
      first = undefined;
      const { done, value } = await next;
      if (done) break;
      if (gone) throw new Error("the child went away");
      if (!res.write(value) && !gone) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    }
    if (!gone) res.end();
  } catch {
    // The provider or the child went away mid-stream: end both sides, nothing to report.
    reader.cancel().catch(() => undefined);
    res.destroy();
  } finally {
    res.off("close", onGone);
    res.off("drain", onDrain);
  }
}

export async function startProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
  const routes = new Map(options.routes.map((r) => [r.provider.id, r]));
  let allowedHosts = new Set<string>();

  /**
   * Everything a request must pass before anything is sent upstream, for plain requests and
   * WebSocket handshakes alike: the Host, the target, the placeholder, a current credential.
   */
  async function admit(req: IncomingMessage): Promise<Admission> {
    // A browser page on another origin can reach 127.0.0.1 through DNS rebinding: it cannot set
    // Host to 127.0.0.1, so anything else is refused.
    if (!allowedHosts.has(String(req.headers.host ?? "").toLowerCase()))
      return { status: 403, message: "unexpected Host header" };
    const target = parseTarget(req.url ?? "", routes);
    if (!("route" in target)) return target;
    const { route } = target;
    const { url, key: queryKey } = takeQueryKey(target.url, route);
    if (!presentsPlaceholder(req, route.placeholder, queryKey)) {
      return {
        status: 401,
        message: `send the session's placeholder from ${route.provider.keyVars[0] ?? "the key variable"} (Authorization: Bearer, x-api-key or x-goog-api-key)`,
      };
    }
    const credential = options.credentials.get(route.provider.id)!;
    try {
      return { route, url, credential, secret: await credential.current() };
    } catch (error) {
      options.warn(`proxy: could not refresh ${route.provider.name}: ${(error as Error).message}`);
      return {
        status: 401,
        message: `could not refresh the ${route.provider.name} login; run 'authctl login ${route.provider.id}'`,
      };
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const admitted = await admit(req);
    if ("status" in admitted) return refuse(res, admitted.status, admitted.message);
    const { route, url, credential, secret } = admitted;
    const method = req.method ?? "GET";
    const length = Number(req.headers["content-length"] ?? Number.NaN);
    const hasBody =
      method !== "GET" && method !== "HEAD" && (length > 0 || req.headers["transfer-encoding"] !== undefined);
    const buffered = !hasBody || length <= REPLAY_LIMIT;
    const body = !hasBody
      ? undefined
      : buffered
        ? await readBody(req)
        : (Readable.toWeb(req) as ReadableStream<Uint8Array>);

    const abort = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    const send = (key: string) =>
      options.fetch(url, {
        method,
        headers: upstreamHeaders(req, route, key),
        body,
        // Redirects go back to the child unfollowed: the real key never travels to another host.
        redirect: "manual",
        // Bytes pass through as the provider encoded them; Content-Encoding and Content-Length stay true.
        decompress: false,
        signal: abort.signal,
        duplex: "half",
      } as RequestInit);
    let upstream: Response;
    try {
      upstream = await send(secret);
      if (upstream.status === 401 && credential.renewable && buffered) {
        const renewed = await credential.renew(secret);
        if (renewed) {
          await upstream.body?.cancel().catch(() => undefined);
          upstream = await send(renewed);
        }
      }
    } catch (error) {
      if (abort.signal.aborted) return;
      return refuse(res, 502, `${route.provider.name} could not be reached (${(error as Error).message})`);
    }
    const headers: Record<string, string | string[]> = {};
    upstream.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name) && name !== "set-cookie") headers[name] = value;
    });
    const cookies = upstream.headers.getSetCookie();
    if (cookies.length) headers["set-cookie"] = cookies;
    res.writeHead(upstream.status, upstream.statusText, headers);
    if (!upstream.body || method === "HEAD") {
      res.end();
      return;
    }
    await relay(upstream.body, res);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) refuse(res, 500, (error as Error).message);
      else res.destroy();
    });
  });
  // Streams may stay quiet for minutes while a model thinks: no limit while a request is being
  // answered. Before a request's headers have arrived (after connecting, or after the previous
  // answer on a kept-alive connection) the proxy keeps its own clock, because Bun's node:http
  // ignores headersTimeout and keepAliveTimeout: a connection that is slow to send its headers, or
  // idle, is reset. resetAndDestroy, because destroy() leaves a kept-alive socket open in Bun.
  server.requestTimeout = 0;
  server.timeout = 0;
  const clocks = new WeakMap<Socket, ReturnType<typeof setTimeout>>();
  const busy = new WeakMap<Socket, number>();
  const arm = (socket: Socket, ms: number) => {
    clearTimeout(clocks.get(socket));
    clocks.set(socket, setTimeout(() => socket.resetAndDestroy?.() ?? socket.destroy(), ms).unref());
  };
  server.on("connection", (socket: Socket) => {
    arm(socket, HEADER_TIMEOUT_MS);
    socket.once("close", () => clearTimeout(clocks.get(socket)));
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    clearTimeout(clocks.get(socket));
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    res.once("close", () => {
      const left = (busy.get(socket) ?? 1) - 1;
      busy.set(socket, left);
      if (left === 0 && !socket.destroyed) arm(socket, IDLE_TIMEOUT_MS);
    });
  });
  // WebSocket handshakes get the same admission, then src/proxy/upgrade.ts splices the sockets.
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // The handshake has arrived: from here the connection belongs to the WebSocket.
    clearTimeout(clocks.get(socket as Socket));
    admit(req)
      .then((admitted) => {
        if ("status" in admitted) return refuseRaw(socket, admitted.status, admitted.message);
        // The one upgrade a provider API offers; another protocol switch (h2c) would leave the
        // proxy relaying bytes it cannot check.
        if (String(req.headers.upgrade ?? "").toLowerCase() !== "websocket")
          return refuseRaw(socket, 400, "only WebSocket upgrades are forwarded");
        const headers = upstreamHeaders(req, admitted.route, admitted.secret);
        relayUpgrade(
          socket,
          head,
          { url: admitted.url, headers, providerName: admitted.route.provider.name },
          refuseRaw,
        );
      })
      .catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
