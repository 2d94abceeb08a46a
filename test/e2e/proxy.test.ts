import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { FAKE_CLIENT_ID, startOAuthFake, type OAuthFake } from "../fakes/oauth-fake.ts";
import { startUpstream, type Upstream } from "../fakes/upstream.ts";
import {
  createSandbox,
  ensureBinary,
  expectOk,
  ROOT,
  secret,
  writeScript,
  type Sandbox,
  writeFollowingBrowser,
} from "../helpers/binary.ts";

/**
 * `authctl exec --proxy` through the compiled binary: a fake provider API on 127.0.0.1 (declared
 * as the provider's api_url), a child script that reports what it saw as JSON on stdout.
 */
const KEY = secret("sk-or-v1-proxy0123456789abcdef0123456789abcdef0123456789abcdef01234567");

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
beforeAll(() => ensureBinary());

function upstream(options: Parameters<typeof startUpstream>[0] = {}): Upstream {
  const u = startUpstream(options);
  cleanups.push(() => u.stop());
  return u;
}
function sandbox(): Sandbox {
  const box = createSandbox();
  cleanups.push(() => box.cleanup());
  return box;
}

/** The child: runs `CHILD_MODE` against the proxy and prints a JSON report. */
const CHILD = `
import { connect } from "node:net";
const env = { ...process.env };
const report = { env };
const base = process.env[process.env.BASE_VAR];
const key = process.env[process.env.KEY_VAR];
const auth = { authorization: "Bearer " + key };
const at = (u) => new URL(u);

function raw(requestLine, host, extra = "") {
  const { hostname, port } = at(base);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () =>
      socket.write(requestLine + "\\r\\nHost: " + host + "\\r\\nAuthorization: Bearer " + key + "\\r\\n" + extra + "Connection: close\\r\\n\\r\\n"));
    let text = "";
    socket.on("data", (d) => (text += d));
    socket.on("end", () => resolve(Number(/^HTTP\\/1\\.1 (\\d+)/.exec(text)?.[1] ?? 0)));
    socket.on("error", () => resolve(-1));
  });
}

if (process.env.CHILD_MODE === "key") {
  const res = await fetch(base + "/stream?events=5&delay=300", { headers: auth });
  report.streamStatus = res.status;
  report.streamType = res.headers.get("content-type");
  const chunks = [];
  for await (const chunk of res.body) chunks.push({ at: Date.now(), text: new TextDecoder().decode(chunk) });
  report.firstChunkAt = chunks[0].at;
  report.streamText = chunks.map((c) => c.text).join("");
  const post = await fetch(base + "/echo", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: '{"hello":1}' });
  report.post = { status: post.status, json: await post.json() };
  report.noKey = (await fetch(base + "/echo")).status;
  report.wrongKey = (await fetch(base + "/echo", { headers: { authorization: "Bearer " + key.slice(0, -1) + "x" } })).status;
  report.xApiKey = (await fetch(base + "/echo", { headers: { "x-api-key": key } })).status;
  const { host, pathname } = at(base);
  report.refusals = {
    dotdot: await raw("GET " + pathname + "/../../../evil HTTP/1.1", host),
    dotdotInside: await raw("GET " + pathname + "/../v2/echo HTTP/1.1", host),
    encoded: await raw("GET " + pathname + "/%2e%2e/%2E%2E/evil HTTP/1.1", host),
    encodedSlash: await raw("GET " + pathname + "/..%2f..%2fevil HTTP/1.1", host),
    absolute: await raw("GET http://evil.example" + pathname + "/echo HTTP/1.1", host),
    absoluteSelf: await raw("GET " + base + "/echo HTTP/1.1", host),
    otherHost: await raw("GET " + pathname + "/echo HTTP/1.1", "evil.example"),
    outsideBase: await raw("GET /openrouter/api/v2/echo HTTP/1.1", host),
    siblingPrefix: await raw("GET /openrouter/api/v1x/echo HTTP/1.1", host),
    unknownProvider: await raw("GET /openai/v1/echo HTTP/1.1", host),
  };
  // Segments that are not plain after decoding: each a way some server reads as a dot segment.
  report.notPlain = {
    dotdotSemicolon: await raw("GET " + pathname + "/..;/evil HTTP/1.1", host),
    encodedSemicolon: await raw("GET " + pathname + "/%2e%2e%3b/evil HTTP/1.1", host),
    tabDots: await raw("GET " + pathname + "/%09../evil HTTP/1.1", host),
    threeDots: await raw("GET " + pathname + "/.../evil HTTP/1.1", host),
    fullWidthDots: await raw("GET " + pathname + "/%EF%BC%8E%EF%BC%8E/evil HTTP/1.1", host),
    doubleEncoded: await raw("GET " + pathname + "/%252e%252e/evil HTTP/1.1", host),
  };
  report.rawOk = await raw("GET " + pathname + "/echo HTTP/1.1", host);
}

if (process.env.CHILD_MODE === "slowloris") {
  // 200 connections that never finish their headers (half send a partial request, half nothing),
  // 20 refused requests whose body never comes, one kept alive and idle after a request, and one
  // legitimate stream quiet for 12 s.
  const { hostname, port, pathname } = at(base);
  const started = Date.now();
  const open = (first) => new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => first && socket.write(first));
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.on("close", () => resolve(Date.now() - started));
    // Never held past 30 s: a connection the proxy keeps open is reported, not waited for.
    setTimeout(() => socket.destroy(), 30_000).unref();
  });
  const slow = [];
  for (let i = 0; i < 200; i++) slow.push(open(i % 2 ? "GET " + pathname + "/echo HTTP/1.1\\r\\nHost: " + at(base).host + "\\r\\n" : ""));
  // Refused (no placeholder: anyone on the machine can send these), announcing a body that never comes.
  const refused = [];
  for (let i = 0; i < 20; i++) refused.push(open("POST " + pathname + "/echo HTTP/1.1\\r\\nHost: " + at(base).host + "\\r\\n" + (i % 2 ? "Content-Length: 1000000" : "Transfer-Encoding: chunked") + "\\r\\n\\r\\n"));
  const idle = open("GET " + pathname + "/echo HTTP/1.1\\r\\nHost: " + at(base).host + "\\r\\nAuthorization: Bearer " + key + "\\r\\n\\r\\n");
  const stream = fetch(base + "/stream?events=2&delay=12000", { headers: auth }).then((r) => r.text());
  const closed = await Promise.all(slow);
  report.slowClosedWithinMs = Math.max(...closed);
  report.refusedBodyClosedWithinMs = Math.max(...(await Promise.all(refused)));
  report.idleClosedAtMs = await idle;
  report.stream = await stream;
}

if (process.env.CHILD_MODE === "calls") {
  const until = Date.now() + Number(process.env.CALL_MS);
  report.statuses = {};
  // At least one call, however short CALL_MS is: a slow start must not turn into zero calls.
  do {
    const res = await fetch(base + "/me", { method: "POST", headers: auth, body: "ping" });
    report.statuses[res.status] = (report.statuses[res.status] ?? 0) + 1;
    report.lastBody = await res.text();
    await Bun.sleep(Number(process.env.CALL_GAP_MS ?? 100));
  } while (Date.now() < until);
}
if (process.env.CHILD_MODE === "passthrough") {
  const gz = await fetch(base + "/gz", { headers: auth, decompress: false });
  report.gz = { status: gz.status, encoding: gz.headers.get("content-encoding"), bytes: [...new Uint8Array(await gz.arrayBuffer())] };
  const redir = await fetch(base + "/redir", { headers: auth, redirect: "manual" });
  report.redir = { status: redir.status, location: redir.headers.get("location") };
  const big = await fetch(base + "/big", { headers: auth });
  let n = 0, sum = 0;
  for await (const chunk of big.body) for (const b of chunk) { n += 1; sum = (sum + b * n) % 1000000007; }
  report.big = { n, sum };
  // A child that walks away mid-stream must not take the proxy down.
  const cut = await fetch(base + "/big", { headers: auth });
  const reader = cut.body.getReader();
  await reader.read();
  await reader.cancel();
  report.afterCut = (await fetch(base + "/gz", { headers: auth })).status;
}
console.log(JSON.stringify(report));
`;

function child(
  box: Sandbox,
  mode: string,
  keyVar: string,
  baseVar: string,
  extraEnv: Record<string, string> = {},
) {
  const script = writeScript(box.root, "child.mjs", CHILD);
  return box.run(
    [
      "exec",
      "--proxy",
      "-p",
      baseVar === "OPENROUTER_BASE_URL" ? "openrouter" : "fake",
      "--",
      process.execPath,
      script,
    ],
    {
      env: { CHILD_MODE: mode, KEY_VAR: keyVar, BASE_VAR: baseVar, ...extraEnv },
      timeoutMs: 40_000,
    },
  );
}

describe("exec --proxy with an API key", () => {
  test("streams SSE as it comes, swaps the placeholder for the key, refuses everything else", async () => {
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));

    // An ambient key must not reach the child either.
    const result = await child(box, "key", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", {
      OPENROUTER_API_KEY: "sk-or-v1-ambient-should-vanish",
    });
    expectOk(result);
    const report = JSON.parse(result.stdout);

    // The child's environment: a placeholder and a base URL, never the key.
    expect(JSON.stringify(report.env)).not.toContain(KEY);
    expect(JSON.stringify(report.env)).not.toContain("ambient-should-vanish");
    expect(report.env.OPENROUTER_API_KEY).toMatch(/^sk-or-authctl-proxy-[A-Za-z0-9_-]{43}$/);
    expect(report.env.OPENROUTER_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/openrouter\/api\/v1$/);

    // Streaming: the first event reached the child while the upstream was still sending.
    expect(report.streamStatus).toBe(200);
    expect(report.streamType).toBe("text/event-stream");
    expect(report.streamText).toContain("data: [DONE]");
    expect(up.streamFinishedAt).toBeDefined();
    expect(report.firstChunkAt).toBeLessThan(up.streamFinishedAt! - 600);

    // The upstream saw the real key, its own Host, and the body unchanged.
    expect(report.post).toEqual({
      status: 200,
      json: { method: "POST", path: "/api/v1/echo", body: '{"hello":1}' },
    });
    const seen = up.requests;
    expect(seen.length).toBe(4); // stream, post, x-api-key, rawOk
    for (const r of seen) {
      expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
      expect(r.headers.host).toBe(`127.0.0.1:${up.port}`);
      expect(r.headers["x-api-key"]).toBeUndefined();
      expect(r.path.startsWith("/api/v1/")).toBe(true);
    }

    // Without the placeholder: 401 from the proxy, nothing forwarded.
    expect(report.noKey).toBe(401);
    expect(report.wrongKey).toBe(401);
    expect(report.xApiKey).toBe(200);
    expect(report.rawOk).toBe(200);
    for (const [name, status] of Object.entries(report.refusals)) {
      expect([name, status]).toEqual([name, expect.any(Number)]);
      expect([name, (status as number) >= 400 && (status as number) < 500]).toEqual([name, true]);
    }
    expect(report.refusals.otherHost).toBe(403);
    expect(report.refusals.absolute).toBe(400);
    expect(report.refusals.outsideBase).toBe(403);
    expect(report.notPlain).toEqual({
      dotdotSemicolon: 400,
      encodedSemicolon: 400,
      tabDots: 400,
      threeDots: 400,
      fullWidthDots: 400,
      doubleEncoded: 400,
    });

    // The proxy lives exactly as long as the child.
    await expect(fetch(report.env.OPENROUTER_BASE_URL + "/echo")).rejects.toThrow();
  });

  test("Gemini's ?key= works like its header: the placeholder is taken out of the query, the key goes in x-goog-api-key", async () => {
    const GEMINI = secret("AIzaSyProxyTest0123456789abcdefghijklmnop");
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.gemini]\napi_url = "${up.url}/v1beta"\n`);
    expectOk(await box.run(["login", "gemini", "--with-key", "--no-verify"], { stdin: GEMINI }));
    const script = writeScript(
      box.root,
      "gemini-child.mjs",
      `
      const base = process.env.GOOGLE_GEMINI_BASE_URL, key = process.env.GEMINI_API_KEY;
      const path = "/v1beta/models/gemini-pro:streamGenerateContent";
      const q = (await fetch(base + path + "/echo?alt=sse&key=" + encodeURIComponent(key) + "&x=a%2Bb+c", { method: "POST", body: "{}" })).status;
      const h = (await fetch(base + path + "/echo?alt=sse", { method: "POST", body: "{}", headers: { "x-goog-api-key": key } })).status;
      const wrong = (await fetch(base + path + "/echo?key=AIzaWrong", { method: "POST", body: "{}" })).status;
      console.log(JSON.stringify({ q, h, wrong, env: process.env }));
    `,
    );
    const result = await box.run(["exec", "--proxy", "-p", "gemini", "--", process.execPath, script], {
      timeoutMs: 40_000,
    });
    expectOk(result);
    const report = JSON.parse(result.stdout);
    expect(JSON.stringify(report.env)).not.toContain(GEMINI);
    expect([report.q, report.h, report.wrong]).toEqual([200, 200, 401]);
    expect(up.requests.map((r) => [r.path, r.headers["x-goog-api-key"]])).toEqual([
      ["/v1beta/models/gemini-pro:streamGenerateContent/echo?alt=sse&x=a%2Bb+c", GEMINI],
      ["/v1beta/models/gemini-pro:streamGenerateContent/echo?alt=sse", GEMINI],
    ]);
  });

  test("the Gemini route forwards each API version (/v1: @google/genai ≥ 3.1; /v1beta; /v1alpha), nothing else", async () => {
    const GEMINI = secret("AIzaSyProxyVersions0123456789abcdefghijk");
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.gemini]\napi_url = "${up.url}/v1beta"\n`);
    expectOk(await box.run(["login", "gemini", "--with-key", "--no-verify"], { stdin: GEMINI }));
    const script = writeScript(
      box.root,
      "versions.mjs",
      `
      const base = process.env.GOOGLE_GEMINI_BASE_URL, key = process.env.GEMINI_API_KEY;
      const out = {};
      for (const v of ["v1", "v1beta", "v1alpha", "v2", "v1betax"]) {
        out[v] = (await fetch(base + "/" + v + "/models/gemini-pro:generateContent/echo", { method: "POST", body: "{}", headers: { "x-goog-api-key": key } })).status;
      }
      console.log(JSON.stringify(out));
    `,
    );
    const result = await box.run(["exec", "--proxy", "-p", "gemini", "--", process.execPath, script], {
      timeoutMs: 40_000,
    });
    expectOk(result);
    expect(JSON.parse(result.stdout)).toEqual({ v1: 200, v1beta: 200, v1alpha: 200, v2: 403, v1betax: 403 });
    expect(up.requests.map((r) => [r.path, r.headers["x-goog-api-key"]])).toEqual(
      ["v1", "v1beta", "v1alpha"].map((v) => [`/${v}/models/gemini-pro:generateContent/echo`, GEMINI]),
    );
  });

  test("the Anthropic route serves both base-URL shapes: the SDK's /v1/messages and @ai-sdk/anthropic's /messages", async () => {
    const ANTHROPIC = secret("sk-ant-api03-proxyshapes0123456789abcdef0123456789");
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.anthropic]\napi_url = "${up.url}"\n`);
    expectOk(await box.run(["login", "anthropic", "--with-key", "--no-verify"], { stdin: ANTHROPIC }));
    const script = writeScript(
      box.root,
      "shapes.mjs",
      `
      const base = process.env.ANTHROPIC_BASE_URL, key = process.env.ANTHROPIC_API_KEY;
      const out = {};
      for (const p of ["/v1/messages/echo", "/messages/echo", "/messages/count_tokens/echo", "/models/echo", "/v1/models/echo", "/other/echo"]) {
        out[p] = (await fetch(base + p, { method: "POST", body: "{}", headers: { "x-api-key": key } })).status;
      }
      console.log(JSON.stringify(out));
    `,
    );
    const result = await box.run(["exec", "--proxy", "-p", "anthropic", "--", process.execPath, script], {
      timeoutMs: 40_000,
    });
    expectOk(result);
    const statuses = JSON.parse(result.stdout);
    expect(statuses["/other/echo"]).toBe(200); // the api_url has no path: the whole origin is the base
    expect(up.requests.map((r) => [r.path, r.headers["x-api-key"]])).toEqual(
      [
        "/v1/messages/echo",
        "/v1/messages/echo",
        "/v1/messages/count_tokens/echo",
        "/v1/models/echo",
        "/v1/models/echo",
        "/other/echo",
      ].map((p) => [p, ANTHROPIC]),
    );
  });

  test("a WebSocket handshake passes with the placeholder, reaches the provider with the key, and frames flow both ways", async () => {
    const seen: Array<{ path: string; authorization: string | null }> = [];
    const server = Bun.serve<undefined>({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, srv) {
        seen.push({ path: new URL(req.url).pathname, authorization: req.headers.get("authorization") });
        if (req.headers.get("authorization") !== `Bearer ${KEY}`) return new Response("no", { status: 401 });
        return srv.upgrade(req) ? undefined : new Response("not a websocket", { status: 400 });
      },
      websocket: { message: (ws, message) => void ws.send(`echo:${message}`) },
    });
    cleanups.push(() => void server.stop(true));
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "http://127.0.0.1:${server.port}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const script = writeScript(
      box.root,
      "ws.mjs",
      `
      const base = process.env.OPENROUTER_BASE_URL.replace(/^http/, "ws"), key = process.env.OPENROUTER_API_KEY;
      function talk(headers) {
        return new Promise((resolve) => {
          const ws = new WebSocket(base + "/responses", { headers });
          const out = [];
          ws.onopen = () => ws.send("hello");
          ws.onmessage = (e) => { out.push(String(e.data)); ws.close(); };
          ws.onclose = () => resolve(out);
          ws.onerror = () => out.push("error");
        });
      }
      console.log(JSON.stringify({ good: await talk({ authorization: "Bearer " + key }), wrong: await talk({ authorization: "Bearer nope" }) }));
    `,
    );
    const result = await box.run(["exec", "--proxy", "-p", "openrouter", "--", process.execPath, script], {
      timeoutMs: 40_000,
    });
    expectOk(result);
    const report = JSON.parse(result.stdout);
    expect(report.good).toEqual(["echo:hello"]);
    expect(report.wrong).toEqual(["error"]);
    // Only the admitted handshake reached the provider, with the real key and the route's path.
    expect(seen).toEqual([{ path: "/api/v1/responses", authorization: `Bearer ${KEY}` }]);
  });

  test("bodies pass through byte for byte: no decompression, no redirects followed, large bodies intact", async () => {
    const gzipped = Bun.gzipSync(new TextEncoder().encode('{"compressed":true}'));
    const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 31 + (i >> 13)) & 0xff);
    const seen: string[] = [];
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const path = new URL(req.url).pathname;
        seen.push(`${path} ${req.headers.get("authorization")}`);
        if (path.endsWith("/gz"))
          return new Response(gzipped, {
            headers: { "content-encoding": "gzip", "content-type": "application/json" },
          });
        if (path.endsWith("/redir"))
          return new Response(null, {
            status: 302,
            headers: { location: "https://elsewhere.example/steal" },
          });
        if (path.endsWith("/big"))
          return new Response(big, { headers: { "content-type": "application/octet-stream" } });
        return new Response("not found", { status: 404 });
      },
    });
    cleanups.push(() => void server.stop(true));
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "http://127.0.0.1:${server.port}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const result = await child(box, "passthrough", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL");
    expectOk(result);
    const report = JSON.parse(result.stdout);
    expect(report.gz).toEqual({ status: 200, encoding: "gzip", bytes: [...gzipped] });
    expect(report.redir).toEqual({ status: 302, location: "https://elsewhere.example/steal" });
    let sum = 0;
    for (let i = 0; i < big.length; i++) sum = (sum + big[i]! * (i + 1)) % 1000000007;
    expect(report.big).toEqual({ n: big.length, sum });
    expect(report.afterCut).toBe(200);
    expect(seen.some((line) => line.includes("elsewhere"))).toBe(false);
    for (const line of seen) expect(line.endsWith(`Bearer ${KEY}`)).toBe(true);
  });

  test("an upstream that would need plain http to a remote host is refused, and the child never runs", async () => {
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "http://example.invalid/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const marker = join(box.root, "ran");
    const result = await box.run(["exec", "--proxy", "-p", "openrouter", "--", "touch", marker]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("must use https");
    expect(existsSync(marker)).toBe(false);
  });

  test("header and idle time are bounded: 200 slowloris connections, 20 refused requests whose body never comes and an idle kept-alive one are closed, a quiet stream is not", async () => {
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const result = await child(box, "slowloris", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL");
    expectOk(result);
    const report = JSON.parse(result.stdout);
    // Headers within 10 s of connecting; 15 s idle after an answer (generous slack for a loaded machine).
    expect(report.slowClosedWithinMs).toBeLessThan(20_000);
    expect(report.refusedBodyClosedWithinMs).toBeLessThan(20_000);
    expect(report.idleClosedAtMs).toBeLessThan(25_000);
    expect(report.stream).toContain("data: [DONE]");
  }, 60_000);

  test("the child's exit code is authctl's", async () => {
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    expect((await box.run(["exec", "--proxy", "-p", "openrouter", "--", "sh", "-c", "exit 7"])).code).toBe(7);
  });
});

describe("exec --proxy with an OAuth login", () => {
  async function oauthSetup(accessTokenTtl: number) {
    const fake: OAuthFake = startOAuthFake({ accessTokenTtl });
    cleanups.push(() => fake.stop());
    // The API accepts exactly the tokens the authorization server considers live.
    const up = upstream({
      authorize: async (authorization) =>
        authorization !== null &&
        (await fetch(`${fake.url}/userinfo`, { headers: { authorization } })).status === 200,
    });
    const box = sandbox();
    box.writeConfig(
      `[providers.fake]\nname = "Fake"\nissuer = "${fake.url}"\nclient_id = "${FAKE_CLIENT_ID}"\nscopes = ["openid"]\napi_url = "${up.url}/api/v1"\nenv = { FAKE_TOKEN = "access_token" }\n`,
    );
    const browser = writeFollowingBrowser(box.root);
    expectOk(await box.run(["login", "fake"], { env: { BROWSER: browser } }));
    return { fake, up, box };
  }

  test("a child calling the API for 10 s with 2-second tokens never sees a 401; about five refreshes", async () => {
    const { fake, up, box } = await oauthSetup(2);
    const result = await child(box, "calls", "FAKE_TOKEN", "FAKE_BASE_URL", { CALL_MS: "10000" });
    expectOk(result);
    const report = JSON.parse(result.stdout);
    expect(Object.keys(report.statuses)).toEqual(["200"]);
    expect(report.statuses["200"]).toBeGreaterThan(40);
    expect(report.env.FAKE_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fake\/api\/v1$/);
    for (const token of [...fake.issued.accessTokens, ...fake.issued.refreshTokens]) {
      expect(JSON.stringify(report.env)).not.toContain(token);
      expect(result.stderr).not.toContain(token);
    }
    // Every token the API saw was a real one; the refresh cadence follows the 2-second lifetime.
    const used = new Set(up.requests.map((r) => r.headers.authorization?.replace(/^Bearer /, "")));
    for (const token of used) expect(fake.issued.accessTokens).toContain(token!);
    expect(fake.counts.refresh).toBeGreaterThanOrEqual(4);
    expect(fake.counts.refresh).toBeLessThanOrEqual(8);
  }, 60_000);

  test("an upstream 401 triggers one refresh and the request is replayed with its body", async () => {
    const { fake, up, box } = await oauthSetup(3600);
    up.rejectNext = 1;
    const result = await child(box, "calls", "FAKE_TOKEN", "FAKE_BASE_URL", {
      CALL_MS: "1",
      CALL_GAP_MS: "0",
    });
    expectOk(result);
    const report = JSON.parse(result.stdout);
    expect(report.statuses).toEqual({ "200": 1 });
    expect(JSON.parse(report.lastBody).body).toBe("ping");
    expect(fake.counts.refresh).toBe(1);
    const [first, second] = up.requests.map((r) => r.headers.authorization);
    expect(up.requests).toHaveLength(2);
    expect(first).not.toBe(second);
    expect(second).toBe(`Bearer ${fake.issued.accessTokens.at(-1)}`);
  });
});
