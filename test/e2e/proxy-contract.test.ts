/**
 * What the README promises of `exec --proxy` that proxy.test.ts does not pin down (issue 12):
 * several providers in one run, each placeholder opening only its own route; a request without a
 * Host header refused; dot segments and encoded slashes refused with exactly 400; a body over
 * 1 MB not replayed after a 401; the child never started when the proxy cannot listen.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { FAKE_CLIENT_ID, startOAuthFake } from "../fakes/oauth-fake.ts";
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

const OPENROUTER_KEY = secret("sk-or-v1-contract0123456789abcdef0123456789abcdef0123456789abcdef0123");
// No recognisable shape: only the harness's known-secret check stands between it and stderr.
const ACME_KEY = secret("acmeContractKey7Qm2Lp9Xw4Rt8Zb3Nc6V");

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

/** A raw HTTP/1.1 request to the proxy, so that Host and the request line are exactly ours. */
const RAW = `
import { connect } from "node:net";
export function raw(base, requestLine, headers) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => socket.write(requestLine + "\\r\\n" + headers.map((h) => h + "\\r\\n").join("") + "Connection: close\\r\\n\\r\\n"));
    let text = "";
    socket.on("data", (d) => (text += d));
    socket.on("end", () => resolve(Number(/^HTTP\\/1\\.[01] (\\d+)/.exec(text)?.[1] ?? 0)));
    socket.on("error", () => resolve(-1));
  });
}
`;

describe("exec --proxy: routes and refusals", () => {
  test("two providers in one run: each placeholder opens its own route only, and each upstream sees its own key", async () => {
    const openrouter = upstream();
    const acme = upstream();
    const box = sandbox();
    box.writeConfig(
      `[providers.openrouter]\napi_url = "${openrouter.url}/api/v1"\n[providers.acme]\nname = "Acme"\napi_url = "${acme.url}/v1"\nenv = { ACME_API_KEY = "key" }\n`,
    );
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: OPENROUTER_KEY }));
    expectOk(await box.run(["login", "acme", "--with-key", "--no-verify"], { stdin: ACME_KEY }));
    const script = writeScript(
      box.root,
      "child.mjs",
      `const e = process.env;
const call = async (base, key) => (await fetch(base + "/echo", { headers: { authorization: "Bearer " + key } })).status;
console.log(JSON.stringify({
  env: e,
  own: [await call(e.OPENROUTER_BASE_URL, e.OPENROUTER_API_KEY), await call(e.ACME_BASE_URL, e.ACME_API_KEY)],
  crossed: [await call(e.OPENROUTER_BASE_URL, e.ACME_API_KEY), await call(e.ACME_BASE_URL, e.OPENROUTER_API_KEY)],
}));
`,
    );
    const result = await box.run(
      ["exec", "--proxy", "-p", "openrouter", "-p", "acme", "--", process.execPath, script],
      { timeoutMs: 30_000 },
    );
    expectOk(result);
    const report = JSON.parse(result.stdout);
    expect(report.own).toEqual([200, 200]);
    expect(report.crossed).toEqual([401, 401]);
    expect(report.env.ACME_API_KEY).not.toBe(report.env.OPENROUTER_API_KEY);
    expect(JSON.stringify(report.env)).not.toContain(OPENROUTER_KEY);
    expect(JSON.stringify(report.env)).not.toContain(ACME_KEY);
    expect(openrouter.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${OPENROUTER_KEY}`]);
    expect(acme.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${ACME_KEY}`]);
  }, 40_000);

  test("no Host header is refused (400 in HTTP/1.1, 403 in HTTP/1.0); dot segments and encoded slashes are exactly 400; nothing reaches the upstream", async () => {
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: OPENROUTER_KEY }));
    writeScript(box.root, "raw.mjs", RAW);
    const script = writeScript(
      box.root,
      "child.mjs",
      `import { raw } from "./raw.mjs";
const base = process.env.OPENROUTER_BASE_URL;
const { host, pathname } = new URL(base);
const auth = "Authorization: Bearer " + process.env.OPENROUTER_API_KEY;
console.log(JSON.stringify({
  // HTTP/1.1 requires Host: the parser refuses it (400). HTTP/1.0 may omit it, and then the
  // proxy's own check must refuse it (403), or a DNS-rebinding page would get through.
  noHost11: await raw(base, "GET " + pathname + "/echo HTTP/1.1", [auth]),
  noHost10: await raw(base, "GET " + pathname + "/echo HTTP/1.0", [auth]),
  dotdot: await raw(base, "GET " + pathname + "/../../../evil HTTP/1.1", ["Host: " + host, auth]),
  encodedDots: await raw(base, "GET " + pathname + "/%2e%2e/%2E%2E/evil HTTP/1.1", ["Host: " + host, auth]),
  encodedSlash: await raw(base, "GET " + pathname + "/..%2f..%2fevil HTTP/1.1", ["Host: " + host, auth]),
  ok: await raw(base, "GET " + pathname + "/echo HTTP/1.1", ["Host: " + host, auth]),
}));
`,
    );
    const result = await box.run(["exec", "--proxy", "-p", "openrouter", "--", process.execPath, script], {
      timeoutMs: 30_000,
    });
    expectOk(result);
    expect(JSON.parse(result.stdout)).toEqual({
      noHost11: 400,
      noHost10: 403,
      dotdot: 400,
      encodedDots: 400,
      encodedSlash: 400,
      ok: 200,
    });
    expect(up.requests).toHaveLength(1);
  }, 40_000);

  test("after a 401, a body over 1 MB is not replayed: the child gets the 401, the upstream saw it once", async () => {
    const fake = startOAuthFake({ accessTokenTtl: 3600 });
    cleanups.push(() => fake.stop());
    const up = upstream();
    const box = sandbox();
    box.writeConfig(
      `[providers.fake]\nname = "Fake"\nissuer = "${fake.url}"\nclient_id = "${FAKE_CLIENT_ID}"\nscopes = ["openid"]\napi_url = "${up.url}/api/v1"\nenv = { FAKE_TOKEN = "access_token" }\n`,
    );
    const browser = writeFollowingBrowser(box.root);
    expectOk(await box.run(["login", "fake"], { env: { BROWSER: browser } }));
    up.rejectNext = 1;
    const script = writeScript(
      box.root,
      "child.mjs",
      `const base = process.env.FAKE_BASE_URL;
const headers = { authorization: "Bearer " + process.env.FAKE_TOKEN };
const big = await fetch(base + "/me", { method: "POST", headers, body: "x".repeat((1 << 20) + 1) });
const small = await fetch(base + "/me", { method: "POST", headers, body: "ping" });
console.log(JSON.stringify({ big: big.status, small: small.status, smallBody: (await small.json()).body }));
`,
    );
    const result = await box.run(["exec", "--proxy", "-p", "fake", "--", process.execPath, script], {
      timeoutMs: 30_000,
    });
    expectOk(result);
    // The big body went once and its 401 came back to the child as it was: no refresh, no replay.
    // Had it been replayed, the upstream would have seen it twice and the child a 200.
    expect(JSON.parse(result.stdout)).toEqual({ big: 401, small: 200, smallBody: "ping" });
    expect(up.requests).toHaveLength(2);
    expect(fake.counts.refresh).toBe(0);
  }, 40_000);
});

// A new network namespace whose loopback has lost 127.0.0.1: the proxy cannot bind it. Needs root
// (CI runs as root), util-linux's unshare and iproute2's ip.
const canUnshare =
  process.getuid?.() === 0 &&
  Bun.which("unshare") !== null &&
  Bun.which("ip") !== null &&
  Bun.spawnSync(["unshare", "-n", "true"]).exitCode === 0;
test.skipIf(!canUnshare)(
  "when the proxy cannot listen, the child is never started and the exit is non-zero",
  async () => {
    const up = upstream();
    const box = sandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: OPENROUTER_KEY }));
    const marker = join(box.root, "child-ran");
    const { BINARY } = await import("../helpers/binary.ts");
    const inner = `ip link set lo up && ip addr del 127.0.0.1/8 dev lo && exec "$0" exec --proxy -p openrouter -- touch "$1"`;
    const proc = Bun.spawn(["unshare", "-n", "sh", "-c", inner, BINARY, marker], {
      env: box.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    const code = await proc.exited;
    const stderr = await new Response(proc.stderr).text();
    expect(code).toBe(1);
    expect(stderr).toContain("the proxy could not start on 127.0.0.1");
    expect(stderr).toContain("the command was not run");
    expect(existsSync(marker)).toBe(false);
  },
  30_000,
);

describe("exec --proxy with a regional key", () => {
  test("a China key goes to the region that accepted it at login, not to the default region", async () => {
    const { startKeyApi } = await import("../fakes/key-api.ts");
    const global = startKeyApi({ region: "global" });
    const cn = startKeyApi({ region: "cn" });
    cleanups.push(() => (global.stop(), cn.stop()));
    const box = sandbox();
    box.writeConfig(
      `[providers.moonshot]\napi_urls = { global = "${global.url}/v1", cn = "${cn.url}/v1" }\n`,
    );
    // "region-cn" makes the global fake answer 401 (a China key), so the login stores cn's URL.
    const key = secret("sk-region-cn-proxy0123456789abcdef0123456789abcdef0123");
    expectOk(await box.run(["login", "moonshot", "--with-key"], { stdin: key }));
    global.requests.length = 0;
    cn.requests.length = 0;
    const script = writeScript(
      box.root,
      "child.mjs",
      `const res = await fetch(process.env.MOONSHOT_BASE_URL + "/models", { headers: { authorization: "Bearer " + process.env.MOONSHOT_API_KEY } });
console.log(JSON.stringify({ status: res.status }));
`,
    );
    const result = await box.run(["exec", "--proxy", "-p", "moonshot", "--", process.execPath, script], {
      timeoutMs: 30_000,
    });
    expectOk(result);
    expect(JSON.parse(result.stdout)).toEqual({ status: 200 });
    expect(global.requests).toHaveLength(0);
    expect(cn.requests.map((r) => [r.path, r.authorization])).toEqual([["/v1/models", `Bearer ${key}`]]);
  }, 40_000);
});
