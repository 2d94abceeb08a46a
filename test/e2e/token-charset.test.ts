/**
 * What a token endpoint may hand back as a token. RFC 6749 Appendix A.12 and A.17: an access or
 * refresh token is 1*VSCHAR (printable ASCII, %x20-7E). authctl puts tokens into HTTP header
 * lines (the exec --proxy swap, refreshes), prints them for `$(authctl token …)`, and exports
 * them: a token carrying CR, LF or an escape sequence would add header lines to the requests the
 * proxy sends, split what a shell captures, or drive the terminal.
 */
import { afterEach, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import { startUpstream } from "../fakes/upstream.ts";
import { createSandbox, ensureBinary, secret, writeScript } from "../helpers/binary.ts";

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});
beforeAll(() => ensureBinary());

const OLD_ACCESS = secret("old-access-0123456789abcdef0123456789abcdef");
const REFRESH = secret("refresh-0123456789abcdef0123456789abcdef");

/** A token endpoint that refreshes to `accessToken`, as a hostile or broken server might. */
function startTokenServer(accessToken: string) {
  let refreshes = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      if (new URL(req.url).pathname !== "/token") return new Response("not found", { status: 404 });
      await req.text();
      refreshes++;
      return Response.json(
        { access_token: accessToken, token_type: "Bearer", expires_in: 3600, refresh_token: REFRESH },
        { headers: { "cache-control": "no-store" } },
      );
    },
  });
  cleanups.push(() => server.stop(true));
  return {
    url: `http://127.0.0.1:${server.port}`,
    get refreshes() {
      return refreshes;
    },
  };
}

const CHILD = `
const res = await fetch(process.env.FAKE_BASE_URL + "/echo", { headers: { authorization: "Bearer " + process.env.FAKE_TOKEN } });
console.log(res.status);
`;

for (const [name, token] of [
  ["CR LF and a header line", "new-access-token\r\nx-injected: yes"],
  ["an escape sequence", "new-access-\u001b]0;owned\u0007token"],
] as const) {
  test(`a refreshed access token holding ${name} is refused: nothing reaches the API, nothing is stored or printed`, async () => {
    const idp = startTokenServer(token);
    const up = startUpstream();
    cleanups.push(() => up.stop());
    const box = createSandbox();
    cleanups.push(() => box.cleanup());
    box.writeConfig(
      `[providers.fake]\nname = "Fake"\nauthorize_url = "${idp.url}/authorize"\ntoken_url = "${idp.url}/token"\n` +
        `client_id = "fake-client"\napi_url = "${up.url}/api/v1"\nenv = { FAKE_TOKEN = "access_token" }\n`,
    );
    const now = Date.now();
    const storePath = join(box.home, "credentials.toml");
    mkdirSync(box.home, { recursive: true, mode: 0o700 });
    const credential = {
      method: "oauth",
      type: "oauth",
      access_token: OLD_ACCESS,
      refresh_token: REFRESH,
      created_at: now - 7200_000,
      updated_at: now - 3600_000,
      obtained_at: now - 3600_000,
      expires_at: now - 1000,
    };
    writeFileSync(storePath, stringify({ version: 1, fake: credential }), { mode: 0o600 });
    const child = writeScript(box.root, "child.mjs", CHILD);
    const proxied = await box.run(["exec", "--proxy", "-p", "fake", "--", process.execPath, child], {
      timeoutMs: 30_000,
    });
    expect(idp.refreshes).toBe(1);
    expect(up.requests.map((r) => r.headers["x-injected"])).not.toContain("yes");
    expect(up.requests).toEqual([]);
    expect(proxied.code).not.toBe(0);
    expect(proxied.stderr).toContain(
      `token endpoint answered an invalid "access_token" (expected printable ASCII, RFC 6749 Appendix A.12)`,
    );
    const printed = await box.run(["token", "fake"]);
    expect(printed.stdout).not.toContain("new-access");
    expect(printed.code).not.toBe(0);
    const stored = (parse(readFileSync(storePath, "utf8")) as Record<string, Record<string, unknown>>).fake!;
    expect(stored.access_token).toBe(OLD_ACCESS);
  }, 40_000);
}
