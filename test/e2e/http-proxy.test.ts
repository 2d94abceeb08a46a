/**
 * HTTP_PROXY, HTTPS_PROXY and NO_PROXY as a company network sets them. Loopback is never proxied
 * (Go's http.ProxyFromEnvironment rule): a key for a local http api_url would otherwise cross the
 * proxy in clear (issue 13.5). The proxy here is a small recorder on 127.0.0.1; it refuses every
 * CONNECT, so nothing leaves the machine and no name is looked up.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import { startKeyApi, type KeyApi } from "../fakes/key-api.ts";
import { createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

const KEY = secret("sk-or-v1-proxyenv0123456789abcdef0123456789abcdef0123456789abcdef01");

interface Recorded {
  requestLine: string;
  authorization: string | undefined;
}

let api: KeyApi;
let proxy: Server;
let proxyUrl: string;
const recorded: Recorded[] = [];
let box: Sandbox;

beforeAll(async () => {
  await ensureBinary();
  api = startKeyApi();
  proxy = createServer((req, res) => {
    recorded.push({ requestLine: `${req.method} ${req.url}`, authorization: req.headers.authorization });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ data: { label: "via-proxy", usage: 0, limit: null } }));
  });
  proxy.on("connect", (req, socket) => {
    recorded.push({ requestLine: `CONNECT ${req.url}`, authorization: undefined });
    socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
});
afterAll(() => {
  api.stop();
  proxy.close();
});
beforeEach(() => {
  box = createSandbox();
  recorded.length = 0;
  api.requests.length = 0;
});
afterEach(() => box.cleanup());

describe("a proxy set in the environment", () => {
  test.each([["HTTP_PROXY"], ["http_proxy"]])(
    "%s is not used for a loopback api_url: the key check goes direct, the proxy sees nothing",
    async (variable) => {
      box.writeConfig(`[providers.openrouter]\napi_url = "${api.url}/api/v1"\n`);
      const result = await box.run(["login", "openrouter", "--with-key"], {
        stdin: KEY,
        env: { [variable]: proxyUrl },
      });
      expectOk(result);
      expect(result.stderr).toContain("OpenRouter accepted the key");
      expect(recorded).toEqual([]);
      expect(api.requests).toHaveLength(1);
    },
  );

  test("localhost is loopback too, whatever NO_PROXY the user set", async () => {
    const port = new URL(api.url).port;
    box.writeConfig(`[providers.openrouter]\napi_url = "http://localhost:${port}/api/v1"\n`);
    expectOk(
      await box.run(["login", "openrouter", "--with-key"], {
        stdin: KEY,
        env: { HTTP_PROXY: proxyUrl, NO_PROXY: "internal.example,.corp.example" },
      }),
    );
    expect(recorded).toEqual([]);
    expect(api.requests).toHaveLength(1);
  });

  test("HTTPS_PROXY is used for any other host: the CONNECT reaches the proxy (which refuses it)", async () => {
    box.writeConfig(`[providers.openrouter]\napi_url = "https://api.example.test/api/v1"\n`);
    await box.run(["login", "openrouter", "--with-key"], { stdin: KEY, env: { HTTPS_PROXY: proxyUrl } });
    expect(recorded.map((r) => r.requestLine)).toEqual(["CONNECT api.example.test:443"]);
  });
});
