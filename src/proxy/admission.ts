import type { ProxyCredential } from "./credentials.ts";
import type { Header, RequestHead } from "./http1.ts";
import type { ProxyRoute } from "./routes.ts";

/**
 * Everything a request must pass before anything is sent upstream, for plain requests and
 * WebSocket handshakes alike: the Host, the target, the placeholder, a current credential. And the
 * head that goes to the provider in its place.
 */
export type Admission =
  | { route: ProxyRoute; path: string; credential: ProxyCredential; secret: string }
  | { status: number; message: string };

type Target = { route: ProxyRoute; path: string } | { status: number; message: string };

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
/** Framing is the proxy's own on each leg; Expect is answered by the proxy itself. */
const FRAMING = new Set(["host", "content-length", "expect"]);

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
 * The path returned is the provider's: without `/id`, with the query as sent.
 */
export function parseTarget(raw: string, routes: Map<string, ProxyRoute>): Target {
  if (!raw.startsWith("/") || raw.startsWith("//"))
    return { status: 400, message: "only origin-form request targets (/provider/path) are accepted" };
  const q = raw.indexOf("?");
  const segments = (q < 0 ? raw : raw.slice(0, q)).split("/").slice(1);
  for (const segment of segments) {
    let decoded = segment;
    if (segment.includes("%")) {
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        return { status: 400, message: "malformed percent-encoding in the path" };
      }
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
  return { route, path: path + (q < 0 ? "" : raw.slice(q)) };
}

/**
 * Constant time in the bytes of an equally long candidate (the placeholder's length is public:
 * it is in the child's environment). A loop over char codes rather than Buffer + timingSafeEqual:
 * this runs on every request, and the placeholder is ASCII.
 */
function sameSecret(presented: string, expected: string): boolean {
  if (presented.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= presented.charCodeAt(i) ^ expected.charCodeAt(i);
  return diff === 0;
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

function presentsPlaceholder(headers: Header[], placeholder: string, queryKey?: string): boolean {
  const candidates: Array<string | undefined> = [queryKey];
  for (const [, value, lower] of headers) {
    if (lower === "authorization") candidates.push(/^Bearer\s+(\S+)\s*$/i.exec(value)?.[1]);
    else if (lower === "x-api-key" || lower === "x-goog-api-key") candidates.push(value);
  }
  let ok = false;
  for (const value of candidates) if (typeof value === "string" && sameSecret(value, placeholder)) ok = true;
  return ok;
}

export function createAdmission(
  routes: Map<string, ProxyRoute>,
  credentials: Map<string, ProxyCredential>,
  warn: (message: string) => void,
) {
  let allowedHosts = new Set<string>();
  return {
    setPort(port: number) {
      allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
    },
    /** Synchronous when the credential is ready (the usual case): no promise hop on the hot path. */
    admit(req: RequestHead): Admission | Promise<Admission> {
      // A browser page on another origin can reach 127.0.0.1 through DNS rebinding: it cannot set
      // Host to 127.0.0.1, so anything else is refused.
      const host = req.headers.find((header) => header[2] === "host")?.[1] ?? "";
      if (!allowedHosts.has(host.toLowerCase())) return { status: 403, message: "unexpected Host header" };
      const target = parseTarget(req.target, routes);
      if (!("route" in target)) return target;
      const { route } = target;
      const { url: path, key: queryKey } = takeQueryKey(target.path, route);
      if (!presentsPlaceholder(req.headers, route.placeholder, queryKey)) {
        return {
          status: 401,
          message: `send the session's placeholder from ${route.provider.keyVars[0] ?? "the key variable"} (Authorization: Bearer, x-api-key or x-goog-api-key)`,
        };
      }
      const credential = credentials.get(route.provider.id)!;
      const ready = credential.ready();
      if (ready !== undefined) return { route, path, credential, secret: ready };
      return credential.current().then(
        (secret): Admission => ({ route, path, credential, secret }),
        (error: Error): Admission => {
          warn(`proxy: could not refresh ${route.provider.name}: ${error.message}`);
          return {
            status: 401,
            message: `could not refresh the ${route.provider.name} login; run 'authctl login ${route.provider.id}'`,
          };
        },
      );
    },
  };
}

/**
 * The header lines that go to the provider, in the client's order and spelling: without
 * hop-by-hop fields (and those the client's Connection names), without the placeholder's headers,
 * with the real credential where the provider expects it. Host and framing are added by the caller.
 */
export function upstreamFields(req: RequestHead, route: ProxyRoute, secret: string): string {
  let out = "";
  const extra = route.auth.kind === "header" ? route.auth.extra : undefined;
  const present = extra ? new Set<string>() : undefined;
  const own = route.auth.kind === "header" ? route.auth.name.toLowerCase() : "authorization";
  for (const [name, value, lower] of req.headers) {
    if (
      HOP_BY_HOP.has(lower) ||
      req.connection.has(lower) ||
      CREDENTIAL_HEADERS.has(lower) ||
      FRAMING.has(lower) ||
      lower === own
    )
      continue;
    present?.add(lower);
    out += `${name}: ${value}\r\n`;
  }
  if (route.auth.kind === "bearer") out += `authorization: Bearer ${secret}\r\n`;
  else {
    out += `${route.auth.name}: ${secret}\r\n`;
    for (const [name, value] of Object.entries(extra ?? {}))
      if (!present?.has(name.toLowerCase())) out += `${name}: ${value}\r\n`;
  }
  return out;
}

/** The response fields that go back to the child: all but hop-by-hop ones and those the provider's Connection names. */
export function downstreamFields(headers: Header[], connection: Set<string>): string {
  let out = "";
  for (const [name, value, lower] of headers) {
    if (HOP_BY_HOP.has(lower) || connection.has(lower) || lower === "content-length") continue;
    out += `${name}: ${value}\r\n`;
  }
  return out;
}

export function refusalBody(message: string): string {
  return JSON.stringify({ error: { type: "authctl_proxy", message: `authctl proxy: ${message}` } });
}
