import type { ProxyCredential } from "./credentials.ts";
import {
  AT_COLON,
  AT_KIND,
  AT_LINE_END,
  AT_VALUE,
  AT_VALUE_END,
  AUTHORIZATION,
  CONTENT_LENGTH,
  fieldLine,
  HOP_BY_HOP,
  lowerName,
  namesOtherFields,
  OTHER,
  type RequestHead,
  type ResponseHead,
  sameName,
  STRIDE,
  X_API_KEY,
  X_GOOG_API_KEY,
} from "./http1.ts";
import type { ProxyRoute } from "./routes.ts";
import { withoutFTL } from "./tier.ts";

/**
 * Everything a request must pass before anything is sent upstream, for plain requests and
 * WebSocket handshakes alike: the Host, the target, the placeholder, a current credential. And the
 * head that goes to the provider in its place.
 */
export type Admission =
  | { route: ProxyRoute; path: string; credential: ProxyCredential; secret: string }
  | { status: number; message: string };

type Target = { route: ProxyRoute; path: string } | { status: number; message: string };

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
  const end = q < 0 ? raw.length : q;
  // Each segment checked where it lies (no split): this runs on every request.
  let idEnd = -1;
  for (let from = 1; from <= end; ) {
    let to = raw.indexOf("/", from);
    if (to < 0 || to > end) to = end;
    if (idEnd < 0) idEnd = to;
    const plain = segmentState(raw, from, to);
    if (plain === MALFORMED) return { status: 400, message: "malformed percent-encoding in the path" };
    if (plain === NOT_PLAIN) {
      return {
        status: 400,
        message:
          "path segments must be plain (no dot segments, encoded slashes, ';', whitespace or non-ASCII)",
      };
    }
    from = to + 1;
  }
  const id = raw.slice(1, idEnd);
  const route = routes.get(id);
  if (!route)
    return {
      status: 404,
      message: `no provider at /${id}; the proxy serves ${[...routes.keys()].map((id) => `/${id}`).join(", ")}`,
    };
  let path = idEnd < end ? raw.slice(idEnd, end) : "/";
  const bare = route.unversioned;
  if (
    bare &&
    path.startsWith(`${route.varPath}/`) &&
    bare.segments.has(path.slice(route.varPath.length + 1).split("/")[0]!)
  ) {
    path = route.varPath + bare.version + path.slice(route.varPath.length);
  }
  let inScope = false;
  for (const scope of route.scopes) if (underScope(path, scope)) inScope = true;
  if (!inScope) {
    return {
      status: 403,
      message: `only paths under ${route.scopes.join(", ")} are forwarded for ${route.provider.id}`,
    };
  }
  return { route, path: q < 0 ? path : path + raw.slice(q) };
}

/** `path` is `scope` or below it ("" is the whole origin). */
function underScope(path: string, scope: string): boolean {
  return path.startsWith(scope) && (path.length === scope.length || path.charCodeAt(scope.length) === 47);
}

const PLAIN = 0;
const NOT_PLAIN = 1;
const MALFORMED = 2;

/** PLAIN_SEGMENT for raw[from, to), by char code unless a '%' has to be decoded first. */
function segmentState(raw: string, from: number, to: number): number {
  let dots = true;
  for (let i = from; i < to; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37) return decodedState(raw.slice(from, to));
    if (c >= 128 || SEGMENT_CHAR[c] !== 1) return NOT_PLAIN;
    if (c !== 46) dots = false;
  }
  return dots && to > from ? NOT_PLAIN : PLAIN;
}

function decodedState(segment: string): number {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    return MALFORMED;
  }
  return PLAIN_SEGMENT.test(decoded) ? PLAIN : NOT_PLAIN;
}

const SEGMENT_CHAR = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~:@!$&'()*+,=-")
  SEGMENT_CHAR[c.charCodeAt(0)] = 1;

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

/**
 * Whether the request presents the placeholder: `Authorization: Bearer <placeholder>`, x-api-key,
 * x-goog-api-key, or the query key. Every candidate is compared (no early exit), each in place in
 * the head's text.
 */
function presentsPlaceholder(req: RequestHead, placeholder: string, queryKey?: string): boolean {
  let ok = queryKey !== undefined && sameSecret(queryKey, placeholder);
  const { text, fields } = req;
  for (let at = 0; at < fields.length; at += STRIDE) {
    const kind = fields[at + AT_KIND];
    if (kind !== AUTHORIZATION && kind !== X_API_KEY && kind !== X_GOOG_API_KEY) continue;
    let from = fields[at + AT_VALUE]!;
    let to = fields[at + AT_VALUE_END]!;
    if (kind === AUTHORIZATION) {
      // /^Bearer\s+(\S+)\s*$/i, by hand: the credential is the one run of non-space after the scheme.
      if (to - from < 8 || !sameName(text, from, "bearer") || !isSpace(text.charCodeAt(from + 6))) continue;
      from += 7;
      while (from < to && isSpace(text.charCodeAt(from))) from++;
      let end = from;
      while (end < to && !isSpace(text.charCodeAt(end))) end++;
      let rest = end;
      while (rest < to && isSpace(text.charCodeAt(rest))) rest++;
      if (end === from || rest < to) continue;
      to = end;
    }
    if (sameSecretAt(text, from, to, placeholder)) ok = true;
  }
  return ok;
}

/** `\s` in a latin1 string: what the regex this replaces counted as space. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 160;
}

/** sameSecret for text[from, to), without cutting it out. */
function sameSecretAt(text: string, from: number, to: number, expected: string): boolean {
  if (to - from !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= text.charCodeAt(from + i) ^ expected.charCodeAt(i);
  return diff === 0;
}

/** RFC 9110 §9.3 methods a provider API is called with (OPTIONS for a CORS preflight). */
export const FORWARDED_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
]);

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
      // TRACE (and IIS's TRACK) answers with the request it received: sent on with the real
      // credential in it, it would hand that credential to the child (Apache answers TRACE unless
      // told not to). Only the methods model APIs use go upstream.
      if (!FORWARDED_METHODS.has(req.method))
        return { status: 405, message: `${req.method} requests are not forwarded` };
      // A browser page on another origin can reach 127.0.0.1 through DNS rebinding: it cannot set
      // Host to 127.0.0.1, so anything else is refused.
      const host = req.host;
      if (!allowedHosts.has(host.toLowerCase())) return { status: 403, message: "unexpected Host header" };
      const target = parseTarget(req.target, routes);
      if (!("route" in target)) return target;
      const { route } = target;
      let path = target.path;
      let queryKey: string | undefined;
      if (route.auth.kind === "header" && route.auth.query)
        ({ url: path, key: queryKey } = takeQueryKey(path, route));
      if (!presentsPlaceholder(req, route.placeholder, queryKey)) {
        return {
          status: 401,
          message: `send the session's placeholder from ${route.provider.keyVars[0] ?? "the key variable"} (Authorization: Bearer, x-api-key or x-goog-api-key)`,
        };
      }
      const credential = credentials.get(route.provider.id)!;
      const ready = credential.ready();
      if (ready !== undefined) return { route, path, credential, secret: ready };
      return admitAfterRefresh(route, path, credential, warn);
    },
  };
}

/** Apart from admit, which runs on every request: its closures would cost a scope each time. */
function admitAfterRefresh(
  route: ProxyRoute,
  path: string,
  credential: ProxyCredential,
  warn: (message: string) => void,
): Promise<Admission> {
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
}

/** What upstreamFields needs of a route, worked out once. */
interface RouteWire {
  /** The route's own credential header in lower case, when it is not one the proxy always drops. */
  own?: string;
  /** Fields the provider needs when the client did not send them: [lower-case name, line]. */
  extra: Array<[string, string]>;
  secret?: string;
  /** The credential's header line for `secret`. */
  line: string;
}
const wires = new WeakMap<ProxyRoute, RouteWire>();

function wireOf(route: ProxyRoute, secret: string): RouteWire {
  let wire = wires.get(route);
  if (!wire) {
    const auth = route.auth;
    const own = auth.kind === "header" ? auth.name.toLowerCase() : undefined;
    wire = {
      own: own === "authorization" || own === "x-api-key" || own === "x-goog-api-key" ? undefined : own,
      extra: Object.entries(auth.kind === "header" ? (auth.extra ?? {}) : {}).map(([name, value]) => [
        name.toLowerCase(),
        `${name}: ${value}\r\n`,
      ]),
      line: "",
    };
    wires.set(route, wire);
  }
  // The credential changes only when a token is refreshed: its line is built then, not per request.
  if (wire.secret !== secret) {
    wire.secret = secret;
    wire.line =
      route.auth.kind === "bearer"
        ? `authorization: Bearer ${secret}\r\n`
        : `${route.auth.name}: ${secret}\r\n`;
  }
  return wire;
}

/**
 * Appends the fields at `at` to `out`: runs of lines already in the form `name: value` are cut
 * from the head in one piece, others are rewritten (fieldLine).
 */
class FieldCopier {
  out = "";
  private from = 0;
  private to = 0;
  constructor(private text: string) {}

  add(fields: number[], at: number): void {
    const start = fields[at]!;
    const colon = fields[at + AT_COLON]!;
    const lineEnd = fields[at + AT_LINE_END]!;
    const asSent =
      fields[at + AT_VALUE] === colon + 2 &&
      this.text.charCodeAt(colon + 1) === 32 &&
      fields[at + AT_VALUE_END] === lineEnd - 2;
    if (asSent && start === this.to) {
      this.to = lineEnd;
      return;
    }
    this.flush();
    if (asSent) {
      this.from = start;
      this.to = lineEnd;
    } else this.out += fieldLine(this.text, fields, at);
  }

  flush(): string {
    if (this.to > this.from) this.out += this.text.slice(this.from, this.to);
    this.from = this.to = 0;
    return this.out;
  }
}

/**
 * The header lines that go to the provider, in the client's order and spelling: without
 * hop-by-hop fields (and those the client's Connection names), without the placeholder's headers,
 * without Host, Content-Length and Expect (framing is the proxy's own on each leg; Expect is
 * answered by the proxy itself), with the real credential where the provider expects it. Host and
 * framing are added by the caller.
 */
export function upstreamFields(req: RequestHead, route: ProxyRoute, secret: string): string {
  const { text, fields } = req;
  const wire = wireOf(route, secret);
  const own = wire.own;
  const named = namesOtherFields(req.connection);
  const copier = new FieldCopier(text);
  let present: boolean[] | undefined;
  for (let at = 0; at < fields.length; at += STRIDE) {
    // Every name http1.ts knows is one of those dropped here.
    if (fields[at + AT_KIND] !== OTHER) continue;
    const start = fields[at]!;
    const length = fields[at + AT_COLON]! - start;
    if (own !== undefined && length === own.length && sameName(text, start, own)) continue;
    if (named && req.connection.has(lowerName(text, fields, at))) continue;
    for (let e = 0; e < wire.extra.length; e++) {
      const name = wire.extra[e]![0];
      if (length === name.length && sameName(text, start, name)) (present ??= [])[e] = true;
    }
    copier.add(fields, at);
  }
  let out = copier.flush() + wire.line;
  for (let e = 0; e < wire.extra.length; e++) if (!present?.[e]) out += wire.extra[e]![1];
  return out;
}

/**
 * The response fields that go back to the child: all but hop-by-hop ones, Content-Length (the
 * proxy frames the answer itself) and those the provider's Connection names.
 */
export function downstreamFields(head: ResponseHead): string {
  const { text, fields } = head;
  const named = namesOtherFields(head.connection);
  const copier = new FieldCopier(text);
  for (let at = 0; at < fields.length; at += STRIDE) {
    const kind = fields[at + AT_KIND]!;
    if (HOP_BY_HOP[kind] === 1 || kind === CONTENT_LENGTH) continue;
    if (named && head.connection.has(lowerName(text, fields, at))) continue;
    copier.add(fields, at);
  }
  return copier.flush();
}

export function refusalBody(message: string): string {
  return JSON.stringify({ error: { type: "authctl_proxy", message: `authctl proxy: ${message}` } });
}

// Per-request code: see tier.ts.
withoutFTL(
  parseTarget,
  underScope,
  segmentState,
  sameSecret,
  takeQueryKey,
  presentsPlaceholder,
  isSpace,
  sameSecretAt,
  wireOf,
  FieldCopier,
  upstreamFields,
  downstreamFields,
);
