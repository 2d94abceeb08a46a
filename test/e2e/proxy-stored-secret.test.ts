/**
 * The secret `exec --proxy` writes into the head of every request it forwards comes from the
 * store. A value no HTTP field can carry (CR, LF, another control character: RFC 9110 §5.5) would
 * add header lines, or a whole request, to what the provider receives: whatever wrote it (an
 * earlier authctl that did not check server answers, a teammate's tool on the team store, a hand
 * edit), the proxy refuses to start with it.
 */
import { afterEach, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "smol-toml";
import { startUpstream, type Upstream } from "../fakes/upstream.ts";
import { createSandbox, ensureBinary, writeScript, type Sandbox } from "../helpers/binary.ts";

let up: Upstream;
let box: Sandbox;
beforeAll(() => ensureBinary());
afterEach(() => {
  up?.stop();
  box?.cleanup();
});

// CR LF adds header lines; another control character is no field value either (RFC 9110 §5.5).
// (A NUL is refused before this, as no environment variable can carry one.)
test.each([
  ["CR LF", "sk-or-v1-stored\r\nx-injected: yes"],
  ["an escape sequence", "sk-or-v1-stored\u001b]0;owned\u0007"],
])(
  "a stored key holding %s is refused before the child starts; nothing reaches the provider",
  async (_name, key) => {
    up = startUpstream();
    box = createSandbox();
    box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
    const now = Date.now();
    mkdirSync(box.home, { recursive: true, mode: 0o700 });
    writeFileSync(
      join(box.home, "credentials.toml"),
      stringify({
        version: 1,
        openrouter: {
          method: "key",
          type: "api_key",
          key,
          created_at: now,
          updated_at: now,
        },
      }),
      { mode: 0o600 },
    );
    const ran = join(box.root, "child-ran");
    const child = writeScript(
      box.root,
      "child.mjs",
      `require("node:fs").writeFileSync(${JSON.stringify(ran)}, "");\nconst res = await fetch(process.env.OPENROUTER_BASE_URL + "/echo", { headers: { authorization: "Bearer " + process.env.OPENROUTER_API_KEY } });\nconsole.log(res.status);\n`,
    );
    const result = await box.run(["exec", "--proxy", "-p", "openrouter", "--", process.execPath, child]);
    expect(up.requests.map((r) => r.headers["x-injected"])).not.toContain("yes");
    expect(up.requests).toEqual([]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "the stored OpenRouter credential holds a control character (a line break?), which no HTTP header can carry; nothing was run",
    );
    expect(result.stderr).toContain("authctl login openrouter");
    expect(existsSync(ran)).toBe(false);
  },
  30_000,
);

test("a token the proxy adopts after a 401 (another process's, from the store) is checked too: nothing with it reaches the provider", async () => {
  const now = Date.now();
  const stored = (accessToken: string) =>
    stringify({
      version: 1,
      fake: {
        method: "oauth",
        type: "oauth",
        access_token: accessToken,
        refresh_token: "refresh-0123456789abcdef",
        created_at: now,
        updated_at: now,
        obtained_at: now,
        expires_at: now + 3600_000,
      },
    });
  const storePath = () => join(box.home, "credentials.toml");
  let rejected = false;
  // The first request is answered 401, and meanwhile "another process" (an authctl before a7197a5,
  // a teammate's tool on the team store) stored a token holding CR LF: the proxy finds it newer
  // than the one rejected and takes it without a token request (src/proxy/credentials.ts renew).
  up = startUpstream({
    authorize: () => {
      if (rejected) return true;
      rejected = true;
      writeFileSync(`${storePath()}.next`, stored("adopted-access\r\nx-injected: yes"), { mode: 0o600 });
      renameSync(`${storePath()}.next`, storePath());
      return false;
    },
  });
  box = createSandbox();
  box.writeConfig(
    `[providers.fake]\nname = "Fake"\nauthorize_url = "${up.url}/authorize"\ntoken_url = "${up.url}/token"\n` +
      `client_id = "fake-client"\napi_url = "${up.url}/api/v1"\nenv = { FAKE_TOKEN = "access_token" }\n`,
  );
  mkdirSync(box.home, { recursive: true, mode: 0o700 });
  writeFileSync(storePath(), stored("first-access-0123456789abcdef"), { mode: 0o600 });
  const child = writeScript(
    box.root,
    "child.mjs",
    `const res = await fetch(process.env.FAKE_BASE_URL + "/me", { headers: { authorization: "Bearer " + process.env.FAKE_TOKEN } });\nconsole.log(res.status);\n`,
  );
  const result = await box.run(["exec", "--proxy", "-p", "fake", "--", process.execPath, child]);
  expect(rejected).toBe(true);
  expect(up.requests.map((r) => r.headers["x-injected"])).not.toContain("yes");
  // The rejected request only: no replay with the adopted token, and no token request either.
  expect(up.requests.map((r) => [r.path, r.headers.authorization])).toEqual([
    ["/api/v1/me", "Bearer first-access-0123456789abcdef"],
  ]);
  expect(result.stderr).not.toContain("adopted-access");
  // …and the child gets the provider's 401, as with any 401 that brings no usable token.
  expect(result.stdout).toBe("401\n");
}, 30_000);
