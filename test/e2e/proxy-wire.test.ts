/**
 * The HTTP/1.1 wire as `exec --proxy` speaks it (src/proxy/http1.ts, issue 17): request shapes
 * that let two parsers disagree about where a message ends are refused with an exact status and
 * never reach the provider; pipelining, HEAD, Expect: 100-continue, chunked bodies with
 * extensions and trailers, and HTTP/1.0 clients work as RFC 9112 says; https upstreams are
 * verified like fetch verified them, and HTTPS_PROXY is still used to reach them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import { startKeyApi, TEST_TLS } from "../fakes/key-api.ts";
import { startUpstream, type Upstream } from "../fakes/upstream.ts";
import {
  createSandbox,
  ensureBinary,
  expectOk,
  secret,
  writeScript,
  type Sandbox,
} from "../helpers/binary.ts";

const KEY = secret("sk-or-v1-wire0123456789abcdef0123456789abcdef0123456789abcdef0123456789");

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
beforeAll(() => ensureBinary());

function upstream(): Upstream {
  const u = startUpstream();
  cleanups.push(() => u.stop());
  return u;
}
function sandbox(): Sandbox {
  const box = createSandbox();
  cleanups.push(() => box.cleanup());
  return box;
}

/**
 * The child: sends each case's bytes on its own connection (`steps`: written one after another,
 * each after the previous answer bytes arrived when `waitFor` says so) and reports everything the
 * proxy sent back until it closed the connection.
 */
const CHILD = `
import { connect } from "node:net";
const base = process.env.OPENROUTER_BASE_URL;
const { hostname, port, host, pathname } = new URL(base);
const vars = { HOST: host, PATH: pathname, KEY: process.env.OPENROUTER_API_KEY };
const fill = (s) => s.replace(/\\{(HOST|PATH|KEY)\\}/g, (_, k) => vars[k]);
function exchange(steps) {
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let text = "";
    let step = 0;
    const next = () => {
      while (step < steps.length) {
        const s = steps[step];
        if (s.waitFor && !text.includes(s.waitFor)) return;
        if (s.end) socket.end(Buffer.from(fill(s.send), "latin1"));
        else socket.write(Buffer.from(fill(s.send), "latin1"));
        step++;
      }
    };
    socket.on("connect", next);
    socket.on("data", (d) => { text += d.toString("latin1"); next(); });
    socket.on("end", () => { socket.end(); resolve(text); });
    socket.on("error", (e) => resolve(text + "<error " + e.code + ">"));
    setTimeout(() => { socket.destroy(); resolve(text + "<timeout>"); }, 15000).unref();
  });
}
const cases = JSON.parse(process.env.CASES);
const out = {};
for (const [name, steps] of Object.entries(cases)) out[name] = await exchange(steps);
console.log(JSON.stringify(out));
`;

/** `end`: half-close after these bytes (FIN), as `nc` or a shell script does. */
type Step = { send: string; waitFor?: string; end?: boolean };

async function runCases(box: Sandbox, cases: Record<string, Step[]>, env: Record<string, string> = {}) {
  const script = writeScript(box.root, "wire.mjs", CHILD);
  const result = await box.run(["exec", "--proxy", "-p", "openrouter", "--", process.execPath, script], {
    env: { CASES: JSON.stringify(cases), ...env },
    timeoutMs: 50_000,
  });
  expectOk(result);
  return JSON.parse(result.stdout) as Record<string, string>;
}

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Responses one after another as they came on one connection (`bodyless[i]`: the i-th answers a HEAD). */
function parseResponses(text: string, bodyless: boolean[] = []): Parsed[] {
  const out: Parsed[] = [];
  let rest = text;
  while (rest.startsWith("HTTP/1.1 ")) {
    const end = rest.indexOf("\r\n\r\n");
    const lines = rest.slice(0, end).split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    rest = rest.slice(end + 4);
    const status = Number(lines[0]!.split(" ")[1]);
    let body = "";
    if (status === 100 || bodyless[out.length]) {
      // no body
    } else if (headers["transfer-encoding"] === "chunked") {
      for (;;) {
        const eol = rest.indexOf("\r\n");
        const size = Number.parseInt(rest.slice(0, eol), 16);
        rest = rest.slice(eol + 2);
        if (size === 0) {
          rest = rest.slice(rest.indexOf("\r\n") + 2);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else if (headers["content-length"] !== undefined) {
      const n = Number(headers["content-length"]);
      body = rest.slice(0, n);
      rest = rest.slice(n);
    } else {
      body = rest;
      rest = "";
    }
    out.push({ status, headers, body });
  }
  return out;
}

const status = (text: string) => Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);

describe("exec --proxy on the wire", () => {
  test("request smuggling shapes and malformed heads are refused with an exact status, and none reaches the provider", async () => {
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const post = (fields: string, body = "ping") => [
      {
        send: `POST {PATH}/echo HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {KEY}\r\n${fields}\r\n${body}`,
      },
    ];
    const report = await runCases(box, {
      clAndTe: post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
      teAndCl: post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", "0\r\n\r\n"),
      duplicateCl: post("Content-Length: 4\r\nContent-Length: 4\r\n"),
      clList: post("Content-Length: 4, 4\r\n"),
      clSigned: post("Content-Length: +4\r\n"),
      spaceBeforeColon: post("Content-Length : 4\r\n"),
      obsFold: post("Content-Length: 4\r\nX-Note: a\r\n  folded\r\n"),
      teNotChunked: post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"),
      teChunkedTwice: post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"),
      teUnknownCoding: post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"),
      teInHttp10: [
        {
          send: "POST {PATH}/echo HTTP/1.0\r\nHost: {HOST}\r\nAuthorization: Bearer {KEY}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        },
      ],
      bareLf: [{ send: "GET {PATH}/echo HTTP/1.1\nHost: {HOST}\nAuthorization: Bearer {KEY}\n\n" }],
      bareCrInValue: [
        {
          send: "GET {PATH}/echo HTTP/1.1\r\nHost: {HOST}\r\nX-A: a\rb\r\nAuthorization: Bearer {KEY}\r\n\r\n",
        },
      ],
      twoHosts: [
        {
          send: "GET {PATH}/echo HTTP/1.1\r\nHost: {HOST}\r\nHost: {HOST}\r\nAuthorization: Bearer {KEY}\r\n\r\n",
        },
      ],
      http2: [{ send: "GET {PATH}/echo HTTP/2.0\r\nHost: {HOST}\r\nAuthorization: Bearer {KEY}\r\n\r\n" }],
      hugeHead: [
        {
          send: `GET {PATH}/echo HTTP/1.1\r\nHost: {HOST}\r\nX-Big: ${"a".repeat(70_000)}\r\nAuthorization: Bearer {KEY}\r\n\r\n`,
        },
      ],
      // The one well-formed request, so that "nothing reached the provider" means something.
      ok: [
        {
          send: "GET {PATH}/echo HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n",
        },
      ],
    });
    const statuses = Object.fromEntries(Object.entries(report).map(([name, text]) => [name, status(text)]));
    expect(statuses).toEqual({
      clAndTe: 400,
      teAndCl: 400,
      duplicateCl: 400,
      clList: 400,
      clSigned: 400,
      spaceBeforeColon: 400,
      obsFold: 400,
      teNotChunked: 400,
      teChunkedTwice: 400,
      teUnknownCoding: 501,
      teInHttp10: 400,
      bareLf: 400,
      bareCrInValue: 400,
      twoHosts: 400,
      http2: 505,
      hugeHead: 431,
      ok: 200,
    });
    // A request whose framing is in doubt ends its connection: what follows cannot be trusted.
    for (const [name, text] of Object.entries(report))
      if (name !== "ok") expect([name, text.includes("connection: close")]).toEqual([name, true]);
    expect(up.requests.map((r) => r.path)).toEqual(["/api/v1/echo"]);
  }, 60_000);

  test("a malformed chunked body is refused with 400 and the connection closed", async () => {
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const chunked = (body: string) => [
      {
        send: `POST {PATH}/echo HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {KEY}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
      },
    ];
    const report = await runCases(box, {
      notHex: chunked("zz\r\nping\r\n0\r\n\r\n"),
      sizeTooSmall: chunked("2\r\nping\r\n0\r\n\r\n"),
      bareLfAfterSize: chunked("4\nping\r\n0\r\n\r\n"),
      hugeSize: chunked("ffffffffffffffffff\r\nping\r\n0\r\n\r\n"),
    });
    for (const [name, text] of Object.entries(report)) {
      expect([name, status(text)]).toEqual([name, 400]);
      expect([name, text.includes("connection: close")]).toEqual([name, true]);
    }
  }, 60_000);

  test("pipelined requests are answered in order on one connection: HEAD without a body, a chunked body with extensions and trailers intact; a half-closed client still gets its answer", async () => {
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const auth = "Host: {HOST}\r\nAuthorization: Bearer {KEY}\r\n";
    const report = await runCases(box, {
      pipelined: [
        {
          send:
            `GET {PATH}/echo?n=1 HTTP/1.1\r\n${auth}\r\n` +
            `HEAD {PATH}/echo?n=2 HTTP/1.1\r\n${auth}\r\n` +
            `POST {PATH}/echo?n=3 HTTP/1.1\r\n${auth}Transfer-Encoding: chunked\r\n\r\n` +
            "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n" +
            `POST {PATH}/echo?n=4 HTTP/1.1\r\n${auth}Content-Length: 4\r\nConnection: close\r\n\r\nping`,
        },
      ],
      halfClosed: [{ send: `GET {PATH}/echo?n=5 HTTP/1.1\r\n${auth}\r\n`, end: true }],
    });
    // A client that half-closes after its request still gets the answer, then the connection ends.
    expect(parseResponses(report.halfClosed!).map((r) => r.status)).toEqual([200]);
    const responses = parseResponses(report.pipelined!, [false, true, false, false]);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(JSON.parse(responses[0]!.body)).toEqual({ method: "GET", path: "/api/v1/echo", body: "" });
    expect(responses[1]!.body).toBe("");
    expect(JSON.parse(responses[2]!.body)).toEqual({
      method: "POST",
      path: "/api/v1/echo",
      body: "hello world",
    });
    expect(JSON.parse(responses[3]!.body)).toEqual({ method: "POST", path: "/api/v1/echo", body: "ping" });
    expect(responses[3]!.headers.connection).toBe("close");
    expect(up.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /api/v1/echo?n=1",
      "HEAD /api/v1/echo?n=2",
      "POST /api/v1/echo?n=3",
      "POST /api/v1/echo?n=4",
      "GET /api/v1/echo?n=5",
    ]);
    for (const r of up.requests) {
      expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
      expect(r.headers["x-trailer"]).toBeUndefined();
    }
  }, 60_000);

  test("Expect: 100-continue gets 100 Continue once admitted, and a refusal instead (connection closed) when not", async () => {
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const head = (key: string) =>
      `POST {PATH}/echo HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer ${key}\r\nExpect: 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\n`;
    const report = await runCases(box, {
      admitted: [{ send: head("{KEY}") }, { send: "ping", waitFor: "100 Continue\r\n\r\n" }],
      refused: [{ send: head("wrong") }],
    });
    const admitted = parseResponses(report.admitted!);
    expect(admitted.map((r) => r.status)).toEqual([100, 200]);
    expect(JSON.parse(admitted[1]!.body).body).toBe("ping");
    expect(status(report.refused!)).toBe(401);
    expect(report.refused).toContain("connection: close");
    expect(up.requests.map((r) => r.headers.expect)).toEqual([undefined]);
  }, 60_000);

  test("TRACE and other methods no API uses are refused with 405: a provider that answers TRACE (Apache does by default) would echo the real key to the child", async () => {
    // A provider that answers TRACE as RFC 9110 §9.3.8 says: with the request it received.
    const received: string[] = [];
    const api: Server = createServer((req, res) => {
      received.push(`${req.method} ${req.url}`);
      const head = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        head.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      res.writeHead(200, { "content-type": req.method === "TRACE" ? "message/http" : "text/plain" });
      res.end(req.method === "TRACE" ? head.join("\r\n") : "ok");
    });
    await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => api.close());
    const box = sandbox();
    box.writeConfig(
      `[providers.openrouter]\napi_url = "http://127.0.0.1:${(api.address() as { port: number }).port}/api/v1"\n`,
    );
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const request = (method: string) => [
      {
        send: `${method} {PATH}/models HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n`,
      },
    ];
    const report = await runCases(box, {
      trace: request("TRACE"),
      traceLower: request("trace"),
      track: request("TRACK"),
      propfind: request("PROPFIND"),
      get: request("GET"),
    });
    for (const [name, text] of Object.entries(report))
      expect([name, text.includes(KEY)]).toEqual([name, false]);
    const statuses = Object.fromEntries(Object.entries(report).map(([name, text]) => [name, status(text)]));
    expect(statuses).toEqual({ trace: 405, traceLower: 405, track: 405, propfind: 405, get: 200 });
    expect(parseResponses(report.trace!)[0]!.headers.allow).toBe(
      "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
    );
    expect(received).toEqual(["GET /api/v1/models"]);
  }, 60_000);

  test("a WebSocket handshake the provider declines (it answers 200, not 101) relays nothing the client sends after it; a handshake with a body is refused", async () => {
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const handshake = (extra = "") =>
      `GET {PATH}/echo HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {KEY}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;
    // Requests no check would let through: another Host, a path outside the base URL, no placeholder.
    const smuggled = (n: number) =>
      `GET /admin/${n} HTTP/1.1\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n`;
    const report = await runCases(box, {
      sameWrite: [{ send: handshake() + smuggled(1) }],
      afterAnswer: [{ send: handshake() }, { send: smuggled(2), waitFor: "HTTP/1.1 200" }],
      withBody: [{ send: handshake("Content-Length: 69\r\n") + smuggled(3) }],
    });
    // The declined handshakes reached the provider (with the key); nothing after them did.
    expect(up.requests.map((r) => [r.path, r.headers.authorization])).toEqual([
      ["/api/v1/echo", `Bearer ${KEY}`],
      ["/api/v1/echo", `Bearer ${KEY}`],
    ]);
    expect(status(report.sameWrite!)).toBe(200);
    expect(status(report.afterAnswer!)).toBe(200);
    expect(status(report.withBody!)).toBe(400);
    expect(report.withBody).toContain("connection: close");
  }, 60_000);

  test("an HTTP/1.0 client gets a chunked stream as a body that ends with the connection", async () => {
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const report = await runCases(box, {
      stream: [
        {
          send: "GET {PATH}/stream?events=3&delay=10 HTTP/1.0\r\nHost: {HOST}\r\nAuthorization: Bearer {KEY}\r\n\r\n",
        },
      ],
    });
    const [response] = parseResponses(report.stream!);
    expect(response!.status).toBe(200);
    expect(response!.headers["transfer-encoding"]).toBeUndefined();
    expect(response!.headers.connection).toBe("close");
    expect(response!.body).toContain('data: {"n":2');
    expect(response!.body.endsWith("data: [DONE]\n\n")).toBe(true);
  }, 60_000);
});

describe("exec --proxy to an https provider", () => {
  test("the certificate is verified: trusted through NODE_EXTRA_CA_CERTS, otherwise 502 naming the certificate", async () => {
    const api = startKeyApi({ tls: true });
    cleanups.push(() => api.stop());
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${api.url}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const cases = {
      key: [
        {
          send: "GET {PATH}/key HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n",
        },
      ],
    };
    const trusted = await runCases(box, cases, { NODE_EXTRA_CA_CERTS: TEST_TLS.caPath });
    expect(status(trusted.key!)).toBe(200);
    expect(api.requests.map((r) => [r.path, r.authorization])).toEqual([["/api/v1/key", `Bearer ${KEY}`]]);
    const untrusted = await runCases(box, cases);
    expect(status(untrusted.key!)).toBe(502);
    expect(untrusted.key).toContain("TLS certificate not trusted");
    expect(api.requests).toHaveLength(1);
  }, 60_000);
});

describe("exec --proxy behind HTTPS_PROXY", () => {
  let proxy: Server;
  let proxyUrl: string;
  const connects: string[] = [];
  beforeAll(async () => {
    proxy = createServer((_req, res) => res.end());
    // Refuses every tunnel: nothing leaves the machine and no name is looked up.
    proxy.on("connect", (req, socket) => {
      connects.push(`CONNECT ${req.url} ${req.headers["proxy-authorization"] ?? ""}`);
      socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    proxyUrl = `http://user:pw@127.0.0.1:${(proxy.address() as { port: number }).port}`;
  });
  afterAll(() => proxy.close());

  test("an https provider is reached through a CONNECT tunnel, with the proxy's credentials", async () => {
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "https://api.example.test/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const report = await runCases(
      box,
      {
        key: [
          {
            send: "GET {PATH}/key HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n",
          },
        ],
      },
      { HTTPS_PROXY: proxyUrl },
    );
    expect(status(report.key!)).toBe(502);
    expect(report.key).toContain("the proxy in HTTPS_PROXY refused the tunnel (403)");
    expect(connects).toEqual([
      `CONNECT api.example.test:443 Basic ${Buffer.from("user:pw").toString("base64")}`,
    ]);
  }, 60_000);
});
