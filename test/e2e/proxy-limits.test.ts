/**
 * What another local user can do to `exec --proxy` by connecting to its port (src/proxy/capacity.ts):
 * a flood of connections, or one connection that never reads its answers, must not take
 * authctl's descriptors or memory, nor the child's own requests. Through the compiled binary,
 * under `ulimit -n 1024` (the common hard limit in containers), against a fake provider API.
 * The header and idle clocks themselves are proxy.test.ts's 'header and idle time are bounded'.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { startUpstream } from "../fakes/upstream.ts";
import {
  createSandbox,
  ensureBinary,
  expectOk,
  type RunResult,
  secret,
  writeScript,
  type Sandbox,
} from "../helpers/binary.ts";

const KEY = secret("sk-or-v1-limits0123456789abcdef0123456789abcdef0123456789abcdef01234567");
/** src/proxy/capacity.ts MAX_CLIENT_CONNECTIONS */
const CAP = 256;
/** authctl's own descriptors besides client and upstream connections (about 10 measured). */
const SLACK = 40;
/** The prefix that lowers authctl's (and the child's) descriptor limit. */
const ULIMIT_1024 = ["sh", "-c", 'ulimit -n 1024 && exec "$@"', "sh"];

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
beforeAll(() => ensureBinary());

function sandbox(apiUrl: string): Sandbox {
  const box = createSandbox();
  cleanups.push(() => box.cleanup());
  box.writeConfig(`[providers.openrouter]\napi_url = "${apiUrl}"\n`);
  return box;
}

async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/**
 * Runs `exec --proxy` under `ulimit -n 1024` with a child that writes authctl's pid (its parent)
 * and the proxy's base URL to info.json, waits for the file `go`, runs `after` (child code with
 * `base`, `key` and `out(result)` in scope), then waits for the file `done` and exits, so the
 * proxy is still up while the test looks at what `after` left.
 */
async function held(box: Sandbox, after: string, env: Record<string, string> = {}) {
  const info = join(box.root, "info.json");
  const go = join(box.root, "go");
  const done = join(box.root, "done");
  const report = join(box.root, "result.json");
  const script = writeScript(
    box.root,
    "child.mjs",
    `
import { existsSync, writeFileSync } from "node:fs";
const base = process.env.OPENROUTER_BASE_URL, key = process.env.OPENROUTER_API_KEY;
writeFileSync(${JSON.stringify(info)}, JSON.stringify({ pid: process.ppid, base }));
while (!existsSync(${JSON.stringify(go)})) await Bun.sleep(50);
const out = (result) => writeFileSync(${JSON.stringify(report)}, JSON.stringify(result));
${after}
while (!existsSync(${JSON.stringify(done)})) await Bun.sleep(50);
`,
  );
  const run: Promise<RunResult> = box.run(
    ["exec", "--proxy", "-p", "openrouter", "--", process.execPath, script],
    { prefix: ULIMIT_1024, env, timeoutMs: 90_000 },
  );
  const { pid, base } = await waitFor(
    "the child to start",
    () =>
      (existsSync(info) ? JSON.parse(readFileSync(info, "utf8")) : undefined) as
        | { pid: number; base: string }
        | undefined,
    30_000,
  );
  const url = new URL(base);
  return {
    pid,
    port: Number(url.port),
    host: url.host,
    path: url.pathname,
    descriptors: () => readdirSync(`/proc/${pid}/fd`).length,
    rssKb: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]),
    go: () => writeFileSync(go, ""),
    /** What the child passed to out(), once it has. */
    result: () =>
      waitFor(
        "the child's report",
        () => (existsSync(report) ? JSON.parse(readFileSync(report, "utf8")) : undefined),
        60_000,
      ),
    /** Lets the child exit; authctl's result. */
    finish: () => {
      writeFileSync(done, "");
      return run;
    },
  };
}

describe("exec --proxy against connections from other local users", () => {
  test("a flood of 1100 held connections (nothing sent, a partial head, idle after a refused request): at most 256 stay open, the oldest are closed at once, authctl's descriptors stay bounded under ulimit -n 1024, and the child's request succeeds while the flood is held", async () => {
    const up = startUpstream();
    cleanups.push(() => up.stop());
    const box = sandbox(`${up.url}/api/v1`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const proxy = await held(
      box,
      `
const started = Date.now();
try {
  const res = await fetch(base + "/echo", { headers: { authorization: "Bearer " + key }, signal: AbortSignal.timeout(8000) });
  out({ status: res.status, ms: Date.now() - started });
} catch (error) {
  out({ error: String(error), ms: Date.now() - started });
}
`,
    );

    const FLOOD = 1100;
    const sockets: Socket[] = [];
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
    });
    let connected = 0;
    let closed = 0;
    const started = Date.now();
    const kinds = [
      "",
      `GET ${proxy.path}/echo HTTP/1.1\r\nHost: ${proxy.host}\r\n`,
      `GET ${proxy.path}/echo HTTP/1.1\r\nHost: ${proxy.host}\r\n\r\n`, // 401, then kept alive
    ];
    for (let i = 0; i < FLOOD; i++) {
      const first = kinds[i % kinds.length]!;
      const socket = connect(proxy.port, "127.0.0.1", () => {
        connected++;
        if (first) socket.write(first);
      });
      socket.on("data", () => {});
      socket.on("error", () => {});
      socket.on("close", () => closed++);
      sockets.push(socket);
      // A breath now and then so the connects are not refused by the listen backlog.
      if (i % 100 === 99) await Bun.sleep(20);
    }
    // The header clock (10 s after connecting) would close them all; the cap closes all but 256
    // as they come. Generous for a loaded machine, and still before the header clock.
    await waitFor(
      "the flood beyond the cap to be closed",
      () => (connected === FLOOD && closed >= FLOOD - CAP) || Date.now() - started > 9_000 || undefined,
      15_000,
    );
    expect({ connected, closed: closed >= FLOOD - CAP }).toEqual({ connected: FLOOD, closed: true });
    expect(Date.now() - started).toBeLessThan(9_500);
    expect(proxy.descriptors()).toBeLessThanOrEqual(CAP + SLACK);

    // The flood is still held; the child's new connection takes an idle one's place.
    proxy.go();
    expect(await proxy.result()).toEqual({ status: 200, ms: expect.any(Number) });
    expect(FLOOD - closed).toBeGreaterThanOrEqual(CAP - 2);
    expect(proxy.descriptors()).toBeLessThanOrEqual(CAP + SLACK);
    expect(up.requests.map((r) => r.path)).toEqual(["/api/v1/echo"]);
    expectOk(await proxy.finish());
  }, 90_000);

  test("with 256 of the child's requests in flight, the next connection is answered 503 and closed at once; those requests finish and the next one succeeds", async () => {
    // A provider that answers /hold with a first chunk and finishes only when /release is called.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const api = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (path.endsWith("/release")) {
          release();
          return new Response("released");
        }
        if (!path.endsWith("/hold")) return new Response("ok");
        return new Response(
          new ReadableStream({
            async start(controller) {
              controller.enqueue(new TextEncoder().encode("first\n"));
              await released;
              controller.enqueue(new TextEncoder().encode("last\n"));
              controller.close();
            },
          }),
        );
      },
    });
    cleanups.push(() => void api.stop(true));
    const box = sandbox(`http://127.0.0.1:${api.port}/api/v1`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const proxy = await held(
      box,
      `
import { connect } from "node:net";
const { hostname, port, host, pathname } = new URL(base);
// One raw request on its own connection: calls onData with everything received, resolves with it on close.
function request(path, onData = () => {}) {
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () =>
      socket.write("GET " + pathname + path + " HTTP/1.1\\r\\nHost: " + host + "\\r\\nAuthorization: Bearer " + key + "\\r\\nConnection: close\\r\\n\\r\\n"));
    let text = "";
    socket.on("data", (d) => { text += d; onData(text); });
    socket.on("error", () => {});
    socket.on("close", () => resolve(text));
    setTimeout(() => socket.destroy(), 60_000).unref();
  });
}
let firstChunks = 0;
let all;
const inFlight = new Promise((resolve) => {
  all = [];
  for (let i = 0; i < ${CAP}; i++) {
    let seen = false;
    all.push(request("/hold", (text) => {
      if (!seen && text.includes("first")) { seen = true; if (++firstChunks === ${CAP}) resolve(); }
    }));
  }
});
await inFlight;
const descriptors = (await import("node:fs")).readdirSync("/proc/" + process.ppid + "/fd").length;
const t = Date.now();
const extra = await Promise.race([request("/echo"), Bun.sleep(5000).then(() => "still open after 5 s")]);
const extraMs = Date.now() - t;
await fetch(process.env.API + "/release");
const finished = await Promise.all(all);
const after = await fetch(base + "/echo", { headers: { authorization: "Bearer " + key } });
out({
  descriptors,
  extra: extra.split("\\r\\n")[0],
  extraBody: extra.slice(extra.indexOf("\\r\\n\\r\\n") + 4),
  extraMs,
  finished: finished.filter((t) => t.startsWith("HTTP/1.1 200") && t.includes("last")).length,
  after: after.status,
});
`,
      // The child calls the provider's /release directly, not through the proxy.
      { API: `http://127.0.0.1:${api.port}` },
    );
    proxy.go();
    const report = await proxy.result();
    expectOk(await proxy.finish());
    expect(report.extra).toBe("HTTP/1.1 503 Service Unavailable");
    expect(JSON.parse(report.extraBody).error.message).toContain("too many connections");
    expect(report.extraMs).toBeLessThan(4_000);
    expect(report.finished).toBe(CAP);
    expect(report.after).toBe(200);
    // 256 client connections and 256 to the provider, and authctl's own few.
    expect(report.descriptors).toBeLessThanOrEqual(2 * CAP + SLACK);
  }, 90_000);

  test("a connection that pipelines refused requests and never reads the answers is not read further: authctl's memory stays bounded", async () => {
    const up = startUpstream();
    cleanups.push(() => up.stop());
    const box = sandbox(`${up.url}/api/v1`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    const proxy = await held(box, "out({ done: true });");
    const rssBefore = proxy.rssKb();

    const socket = connect(proxy.port, "127.0.0.1");
    cleanups.push(() => socket.destroy());
    socket.pause(); // never reads what the proxy answers
    socket.on("error", () => {});
    await new Promise((resolve) => socket.once("connect", resolve));
    // 1000 requests refused with 401 (no placeholder), kept alive: about 180 KB of answers.
    const batch = Buffer.from(`GET ${proxy.path}/echo HTTP/1.1\r\nHost: ${proxy.host}\r\n\r\n`.repeat(1000));
    const LIMIT = 48 * 1024 * 1024;
    let written = 0;
    let stalled = false;
    const started = Date.now();
    // Writes until the proxy stops reading (no drain for 3 s) or LIMIT bytes went.
    while (written < LIMIT && Date.now() - started < 40_000) {
      written += batch.length;
      if (socket.write(batch)) continue;
      const drained = await Promise.race([
        new Promise<boolean>((resolve) => socket.once("drain", () => resolve(true))),
        Bun.sleep(3_000).then(() => false),
      ]);
      if (!drained) {
        stalled = true;
        break;
      }
    }
    const grownMb = (proxy.rssKb() - rssBefore) / 1024;
    // The kernel's buffers on both sides take a few MB before the writes stall.
    expect({ stalled, writtenMb: Math.round(written / 2 ** 20) }).toEqual({
      stalled: true,
      writtenMb: expect.any(Number),
    });
    expect(written).toBeLessThan(32 * 1024 * 1024);
    expect(grownMb).toBeLessThan(64);
    proxy.go();
    expectOk(await proxy.finish());
  }, 90_000);
});
