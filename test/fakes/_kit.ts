/**
 * The machinery the provider fakes in this folder share, so that each fake keeps only what is
 * provider-specific. Private to test/fakes: tests import the fakes, never this file.
 *
 * - serveFake: a Bun server on 127.0.0.1 that reads the body, records each request (the fields a
 *   fake chooses, in order of arrival, answered or not) and dispatches on "METHOD /path";
 *   RecordedRequest is the type of such a record;
 * - bodies: mediaType/isForm/isJson, formBody, jsonObject, stringValues and bodyReader;
 * - PKCE (RFC 7636): s256, pkceChallenge, isS256Challenge, isVerifier, verifierMatches;
 * - random strings: hex, b64url;
 * - answers: oauthError (RFC 6749 §5.2 shape, no-store), requireForm, requireClient,
 *   unsupportedGrant, htmlDocument/htmlPage/bareHtmlPage, redirect;
 * - request details: bearerOf, basicCredentials/formDecode, parseUrl, LOOPBACK_HOSTS;
 * - device flows: DeviceState and deviceDecisions (the approve()/deny() a test calls).
 */
import { createHash, randomBytes } from "node:crypto";

// --------------------------------------------------------------------------- random strings

export const hex = (bytes: number) => randomBytes(bytes).toString("hex");
export const b64url = (bytes = 32) => randomBytes(bytes).toString("base64url");

// --------------------------------------------------------------------------- PKCE (RFC 7636)

export const s256 = (verifier: string) => createHash("sha256").update(verifier).digest("base64url");
/** §4.2: the challenge `verifier` stands for under `method` ("plain": the verifier itself). */
export const pkceChallenge = (verifier: string, method: string) =>
  method === "S256" ? s256(verifier) : verifier;
/** §4.2: an S256 challenge is the unpadded base64url of a SHA-256 digest, 43 characters. */
export const isS256Challenge = (value: string | undefined) => /^[A-Za-z0-9_-]{43}$/.test(value ?? "");
/** §4.1: 43–128 unreserved characters (what a verifier, or a plain challenge, looks like). */
export const isVerifier = (value: string) => /^[A-Za-z0-9._~-]{43,128}$/.test(value);
/** §4.6 as a strict server checks it: a well-formed verifier that derives the challenge. */
export const verifierMatches = (verifier: string, challenge: string, method = "S256") =>
  isVerifier(verifier) && pkceChallenge(verifier, method) === challenge;

// --------------------------------------------------------------------------- bodies

export const FORM = "application/x-www-form-urlencoded";
export const JSON_TYPE = "application/json";

/** The media type of a Content-Type header, lower-cased, without parameters ("" if none). */
export const mediaType = (contentType: string | null) =>
  contentType?.split(";")[0]?.trim().toLowerCase() ?? "";
export const isForm = (contentType: string | null) => mediaType(contentType) === FORM;
export const isJson = (contentType: string | null) => mediaType(contentType) === JSON_TYPE;
/** Any JSON flavour (application/json, text/json, application/vnd.x+json, …): lenient servers. */
export const mentionsJson = (contentType: string | null) =>
  contentType?.toLowerCase().includes("json") ?? false;

export const formBody = (raw: string): Record<string, string> => Object.fromEntries(new URLSearchParams(raw));

/** The body parsed as a JSON object; undefined for anything else (an array, a string, bad JSON). */
export function jsonObject(raw: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // not JSON: the caller records {} and the endpoint treats the parameters as missing
  }
  return undefined;
}

/** A JSON object's values as strings (non-strings JSON-encoded), to read it like a form. */
export const stringValues = (value: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );

type ContentTypeTest = (contentType: string | null) => boolean;
/**
 * How a fake reads bodies: a form when `form` says so, else a JSON object when `json` says so
 * (its values as strings with `strings`), else {}.
 */
export function bodyReader(how: {
  form?: ContentTypeTest;
  json?: ContentTypeTest;
  strings: true;
}): BodyParser<Record<string, string>>;
export function bodyReader(how: {
  form?: ContentTypeTest;
  json?: ContentTypeTest;
  strings?: false;
}): BodyParser<Record<string, unknown>>;
export function bodyReader(how: {
  form?: ContentTypeTest;
  json?: ContentTypeTest;
  strings?: boolean;
}): BodyParser<Record<string, unknown>> {
  return (raw, contentType) => {
    if (how.form?.(contentType)) return formBody(raw);
    const value = how.json?.(contentType) ? jsonObject(raw) : undefined;
    if (value) return how.strings ? stringValues(value) : value;
    return {};
  };
}

// --------------------------------------------------------------------------- answers

export const NO_STORE = { "cache-control": "no-store" };

/** RFC 6749 §5.2: {error, error_description}; token answers are never cached (§5.1). */
export function oauthError(
  status: number,
  error: string,
  description?: string,
  headers: Record<string, string> = NO_STORE,
): Response {
  return Response.json(description === undefined ? { error } : { error, error_description: description }, {
    status,
    headers,
  });
}

/** How a fake words an error; oauthError unless the provider has its own shape. */
export type ErrorReply = (status: number, error: string, description: string) => Response;

/** RFC 6749 §4.1.3, RFC 8628 §3.1: parameters are form-encoded, else 400 invalid_request. */
export const requireForm = (contentType: string | null, reply: ErrorReply = oauthError) =>
  isForm(contentType)
    ? undefined
    : reply(400, "invalid_request", "the body must be application/x-www-form-urlencoded");

/** A public client names itself with client_id; any other (or none) gets 401 invalid_client. */
export const requireClient = (clientId: unknown, expected: string, reply: ErrorReply = oauthError) =>
  clientId === expected ? undefined : reply(401, "invalid_client", "unknown client_id");

export const unsupportedGrant = (grant: string | undefined, reply: ErrorReply = oauthError) =>
  reply(400, "unsupported_grant_type", `unsupported grant_type: ${grant ?? "(none)"}`);

export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const html = (status: number, markup: string) =>
  new Response(markup, { status, headers: { "content-type": "text/html; charset=utf-8" } });

/** A page with `title` as its <title> and <h1>, then `bodyHtml` (markup, not escaped). */
export function htmlDocument(status: number, title: string, bodyHtml: string): Response {
  return html(
    status,
    [
      `<!DOCTYPE html>`,
      `<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>`,
      `<body><h1>${esc(title)}</h1>${bodyHtml}</body></html>`,
    ].join("\n"),
  );
}

/** htmlDocument with one paragraph of text. */
export const htmlPage = (status: number, title: string, text: string) =>
  htmlDocument(status, title, `<p>${esc(text)}</p>`);

/** A one-line page with a heading and, if given, a paragraph of text (a device page, an error). */
export const bareHtmlPage = (title: string, text?: string, status = 200) =>
  html(
    status,
    `<!DOCTYPE html><html><body><h1>${esc(title)}</h1>${text === undefined ? "" : `<p>${esc(text)}</p>`}</body></html>`,
  );

export const redirect = (to: URL) => new Response(null, { status: 302, headers: { location: to.href } });

// --------------------------------------------------------------------------- request details

/** The token of `Authorization: <scheme> <token>`; `scheme` is a regex alternative ("Bearer|token"). */
export const bearerOf = (req: Request, scheme = "Bearer") =>
  new RegExp(`^(?:${scheme})\\s+(\\S+)$`, "i").exec(req.headers.get("authorization") ?? "")?.[1];

/** The two halves of HTTP Basic credentials, still form-encoded (RFC 6749 §2.3.1). */
export function basicCredentials(req: Request): [user: string, password: string] | undefined {
  const basic = /^Basic\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
  if (!basic) return undefined;
  const [user = "", password = ""] = Buffer.from(basic, "base64").toString("utf8").split(":");
  return [user, password];
}
export const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));

export const LOOPBACK_HOSTS = ["127.0.0.1", "[::1]", "localhost"];

/** The URL, or undefined when `value` is missing or not a URL. */
export function parseUrl(value: string | undefined): URL | undefined {
  if (!value) return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

// --------------------------------------------------------------------------- device flows

export type DeviceState = "pending" | "approved" | "denied" | "used";

/**
 * approve() and deny(), what a test calls for the user who entered a code: the first pending
 * device record with that user code (each of them with `every`) becomes approved or denied.
 * With none, they throw `missing(userCode)`.
 */
export function deviceDecisions(
  devices: Map<string, { userCode: string; state: DeviceState }>,
  missing: (userCode: string) => string,
  every = false,
): { approve(userCode: string): void; deny(userCode: string): void } {
  const decide = (userCode: string, state: "approved" | "denied") => {
    let found = false;
    for (const device of devices.values()) {
      if (device.userCode !== userCode || device.state !== "pending") continue;
      device.state = state;
      found = true;
      if (!every) break;
    }
    if (!found) throw new Error(missing(userCode));
  };
  return {
    approve: (userCode) => decide(userCode, "approved"),
    deny: (userCode) => decide(userCode, "denied"),
  };
}

// --------------------------------------------------------------------------- the server

export type BodyParser<B> = (raw: string, contentType: string | null) => B;

/** One request as a handler sees it; a fake records some of these fields. */
export interface Incoming<B> {
  req: Request;
  server: Bun.Server<undefined>;
  method: string;
  path: string;
  contentType: string | null;
  /** the body text ("" for GET and HEAD) */
  raw: string;
  body: B;
  query: Record<string, string>;
  /** lower-cased header names */
  headers: Record<string, string>;
  /** Date.now() when the request arrived (once its body was read) */
  at: number;
}

/** What a fake records of each request: method, path, body and at, plus the fields `K` it chose. */
export type RecordedRequest<B, K extends "contentType" | "query" | "headers" = never> = Pick<
  Incoming<B>,
  "method" | "path" | "body" | "at" | K
>;

export type Handler<B> = (x: Incoming<B>) => Response | Promise<Response>;
type Recorded = "method" | "path" | "contentType" | "body" | "query" | "headers" | "at";

export interface FakeServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port> */
  host: string;
  stop(): void;
}

export function serveFake<B, K extends Recorded>(spec: {
  body: BodyParser<B>;
  /** every request is pushed onto `into`, answered or not, with these fields in this order */
  record: { into: Array<Pick<Incoming<B>, K>>; fields: readonly K[] };
  /** by "METHOD /path"; "* /path" takes every method */
  routes: Record<string, Handler<B>>;
  notFound: Handler<B>;
  /** Serve HTTPS with this certificate and key (files), e.g. the test CA's 127.0.0.1 certificate. */
  tls?: { cert: string; key: string };
}): FakeServer {
  const routes = new Map(Object.entries(spec.routes));
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: spec.tls ? { cert: Bun.file(spec.tls.cert), key: Bun.file(spec.tls.key) } : undefined,
    async fetch(req, srv) {
      const { pathname, searchParams } = new URL(req.url);
      const contentType = req.headers.get("content-type");
      const raw = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
      const x: Incoming<B> = {
        req,
        server: srv,
        method: req.method,
        path: pathname,
        contentType,
        raw,
        body: spec.body(raw, contentType),
        query: Object.fromEntries(searchParams),
        headers: Object.fromEntries(req.headers),
        at: Date.now(),
      };
      spec.record.into.push(
        Object.fromEntries(spec.record.fields.map((k) => [k, x[k]])) as Pick<Incoming<B>, K>,
      );
      const handler = routes.get(`${req.method} ${pathname}`) ?? routes.get(`* ${pathname}`) ?? spec.notFound;
      return handler(x);
    },
  });
  const host = `127.0.0.1:${server.port}`;
  return {
    url: `${spec.tls ? "https" : "http"}://${host}`,
    host,
    stop() {
      void server.stop(true);
    },
  };
}
