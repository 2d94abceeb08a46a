import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import { refusedPort } from "../fakes/key-api.ts";
import {
  startOAuthFake,
  FAKE_CLIENT_ID,
  type OAuthFake,
  type OAuthFakeOptions,
} from "../fakes/oauth-fake.ts";
import {
  BINARY,
  createSandbox,
  ensureBinary,
  expectOk,
  readUntil,
  ROOT,
  writeScript,
  type Sandbox,
  writeFollowingBrowser,
} from "../helpers/binary.ts";

/**
 * Every way a login or a refresh can go wrong, against a fake that misbehaves on request: each
 * must end with a clear one-line message, a non-zero exit and the store as it was.
 */
const boxes: Sandbox[] = [];
const fakes: OAuthFake[] = [];
beforeAll(() => ensureBinary());
afterEach(() => {
  for (const b of boxes.splice(0)) b.cleanup();
  for (const f of fakes.splice(0)) f.stop();
});
afterAll(() => {});

function setup(options: OAuthFakeOptions = {}, extraConfig = "") {
  const fake = startOAuthFake(options);
  fakes.push(fake);
  const box = createSandbox();
  boxes.push(box);
  box.writeConfig(
    `[providers.fake]\nname = "Fake"\nissuer = "${fake.url}"\nclient_id = "${FAKE_CLIENT_ID}"\nscopes = ["openid"]\n${extraConfig}`,
  );
  const browser = writeFollowingBrowser(box.root);
  const storePath = join(box.home, "credentials.toml");
  return { fake, box, env: { BROWSER: browser }, storePath };
}

describe("loopback login errors", () => {
  test("a callback with the wrong state gets a 400 page and the login keeps waiting (until --timeout)", async () => {
    const { fake, box, env, storePath } = setup({ authorize: "wrong_state" });
    const result = await box.run(["login", "fake", "--timeout", "2s"], {
      env: { ...env, BROWSER_LOG: join(box.root, "browser.log") },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("no answer from the browser within 2 seconds");
    expect(readFileSync(join(box.root, "browser.log"), "utf8")).toMatch(/callback.*400|400.*callback/i);
    expect(fake.counts.token).toBe(0);
    expect(existsSync(storePath)).toBe(false);
  });

  test("a callback without a code gets a 400 page and the login keeps waiting", async () => {
    const { fake, box, env, storePath } = setup({ authorize: "missing_code" });
    const result = await box.run(["login", "fake", "--timeout", "2s"], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("no answer from the browser");
    expect(fake.counts.token).toBe(0);
    expect(existsSync(storePath)).toBe(false);
  });

  test("error=access_denied ends the login with the provider's words and exit 4", async () => {
    const { box, env, storePath } = setup({ authorize: "deny" });
    const result = await box.run(["login", "fake"], { env });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("access_denied (The user denied the request)");
    expect(existsSync(storePath)).toBe(false);
  });

  test("a provider's error text reaches the terminal without control characters: C0, C1, escapes, bidi overrides", async () => {
    // No discovery (no issuer): the test is the provider, answering the callback itself.
    const box = createSandbox();
    boxes.push(box);
    box.writeConfig(
      `[providers.plain]\nname = "Plain"\nauthorize_url = "http://127.0.0.1:9/authorize"\ntoken_url = "http://127.0.0.1:9/token"\nclient_id = "plain-client"\n`,
    );
    const proc = Bun.spawn([BINARY, "login", "plain", "--timeout", "30s"], {
      env: { ...box.env, BROWSER: join(box.root, "no-such-browser") },
      stdout: "pipe",
      stderr: "pipe",
    });
    const { match: url, text } = await readUntil(
      proc.stderr,
      /^\s+(http:\/\/127\.0\.0\.1:9\/authorize\S+)$/m,
    );
    expect(url, text).toBeDefined();
    const authorize = new URL(url!);
    const callback = new URL(authorize.searchParams.get("redirect_uri")!);
    callback.searchParams.set("state", authorize.searchParams.get("state")!);
    callback.searchParams.set("error", "access_denied");
    // A right-to-left override (reorders what follows), a C1 CSI (ESC [ in one byte), an OSC title.
    callback.searchParams.set(
      "error_description",
      "denied \u202etxt.exe\u202c \u009b2J\x1b]0;owned\x07 by policy",
    );
    await fetch(callback);
    const stderr = text + (await readUntil(proc.stderr, /(?!)/)).text; // the rest, to the end
    expect(await proc.exited).toBe(4);
    expect(stderr).toContain("access_denied (denied txt.exe 2J by policy)");
    expect(stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
  });

  const tokenCases: Array<[OAuthFakeOptions["token"], number, string]> = [
    ["invalid_grant", 4, "invalid_grant (grant request is invalid)"],
    // The status decides first (issue 14.10): server trouble is not an authentication failure.
    ["server_error_500", 1, "server_error (internal failure)"],
    ["unavailable_503", 1, "temporarily_unavailable (down for maintenance)"],
    ["invalid_grant_500", 1, "invalid_grant (database timeout)"],
    ["invalid_json", 1, "token endpoint"],
    ["html_500", 1, "HTTP 500"],
    ["missing_access_token", 1, "access_token"],
    ["error_with_200", 4, "invalid_grant"],
  ];
  for (const [behaviour, code, message] of tokenCases) {
    test(`a token endpoint answering ${behaviour} fails with exit ${code} and stores nothing`, async () => {
      const { box, env, storePath } = setup({ token: behaviour });
      const result = await box.run(["login", "fake"], { env });
      expect(result.code).toBe(code);
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toContain("<html");
      expect(
        result.stderr
          .trim()
          .split("\n")
          .filter((l) => l.startsWith("authctl:")),
      ).toHaveLength(1);
      expect(existsSync(storePath)).toBe(false);
    });
  }

  test("a token endpoint on a refused port is a network error naming the address and what to check", async () => {
    const port = refusedPort();
    const { box, env, storePath } = setup({}, `token_url = "http://127.0.0.1:${port}/token"\n`);
    const result = await box.run(["login", "fake"], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `authctl: could not reach the token endpoint at 127.0.0.1:${port} (connection refused)\n` +
        "  → check the network (and HTTPS_PROXY or NO_PROXY, if a proxy is needed), then try again\n",
    );
    expect(existsSync(storePath)).toBe(false);
  });

  test("a busy fixed redirect port without a terminal fails at once, naming the port and --device", async () => {
    const squatter = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    try {
      const { box, env } = setup({}, `redirect_port = ${squatter.port}\n`);
      const started = Date.now();
      const result = await box.run(["login", "fake"], { env });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`port ${squatter.port} on 127.0.0.1 is in use`);
      expect(result.stderr).toContain("--device");
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      squatter.stop(true);
    }
  });

  test("a non-HTTPS endpoint off loopback is refused before anything is sent", async () => {
    const { box, env } = setup({}, `authorize_url = "http://example.com/authorize"\n`);
    const result = await box.run(["login", "fake"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("example.com");
  });
});

describe("device login errors", () => {
  test("a device code that expires before approval ends with a clear message, exit 4 as a denial", async () => {
    const { fake, box, storePath } = setup({ device: "expire", deviceExpiresIn: 2, deviceInterval: 1 });
    const result = await box.run(["login", "fake", "--device"]);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/expired|run the login again/);
    expect(result.stderr).toContain("ABCD-EFGH");
    expect(fake.counts.poll).toBeGreaterThanOrEqual(1);
    expect(existsSync(storePath)).toBe(false);
  });

  test("--timeout ends a device login that nobody approves, saying the code was not approved (no browser involved)", async () => {
    const { fake, box, storePath } = setup({ device: "expire", deviceInterval: 1 });
    const result = await box.run(["login", "fake", "--device", "--timeout", "2s"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "authctl: the code was not approved within 2 seconds\n  → run the login again (--timeout gives more time)\n",
    );
    expect(result.stderr).not.toContain("browser");
    expect(fake.counts.poll).toBeGreaterThanOrEqual(1);
    expect(existsSync(storePath)).toBe(false);
  });

  // A slow_down storm (+5 s per answer until the code expires) is test/actions/oauth-clock.test.ts,
  // on the fake clock: through the binary it waited 8 real seconds.

  test("access_denied on the device ends the login with exit 4", async () => {
    const { box, storePath } = setup({ device: "deny", deviceInterval: 1 });
    const result = await box.run(["login", "fake", "--device"]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("denied");
    expect(existsSync(storePath)).toBe(false);
  });

  test("the device flow succeeds after pending polls and waits the interval between them", async () => {
    const { fake, box } = setup({ device: "approve_after", pendingPolls: 2, deviceInterval: 1 });
    expectOk(await box.run(["login", "fake", "--device"]));
    const polls = fake.requests
      .filter((r) => r.body.grant_type === "urn:ietf:params:oauth:grant-type:device_code")
      .map((r) => r.at);
    expect(polls).toHaveLength(3);
    for (let i = 1; i < polls.length; i++) expect(polls[i]! - polls[i - 1]!).toBeGreaterThanOrEqual(950);
  });
});

describe("refresh errors", () => {
  /** Logged in, with the stored access token made expired (rather than waiting for it to expire). */
  async function loggedIn(options: OAuthFakeOptions) {
    const s = setup(options);
    expectOk(await s.box.run(["login", "fake"], { env: s.env }));
    const doc = parse(readFileSync(s.storePath, "utf8")) as Record<string, Record<string, unknown>>;
    doc.fake!.expires_at = Date.now() - 1000;
    writeFileSync(s.storePath, stringify(doc), { mode: 0o600 });
    return s;
  }

  test("a 500 during refresh leaves the stored credential byte for byte untouched", async () => {
    const { fake, box, storePath } = await loggedIn({ refresh: "server_error_500" });
    const before = readFileSync(storePath);
    const result = await box.run(["token", "fake"]);
    // Server trouble, not a dead grant: 1, not 4 (README "Exit codes").
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(fake.counts.refresh).toBe(1);
    expect(readFileSync(storePath).equals(before)).toBe(true);
  });

  test("a refused token endpoint during refresh changes nothing (no request arrives; refresh.test.ts counts that a lost answer is not retried)", async () => {
    const { fake, box, storePath } = await loggedIn({});
    const config = readFileSync(join(box.home, "config.toml"), "utf8");
    box.writeConfig(`${config}token_url = "http://127.0.0.1:${refusedPort()}/token"\n`);
    const before = readFileSync(storePath);
    const result = await box.run(["env", "fake"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(fake.counts.refresh).toBe(0);
    expect(readFileSync(storePath).equals(before)).toBe(true);
  });

  test("an HTML error page during refresh is reported without the page, and nothing is lost", async () => {
    const { box, storePath } = await loggedIn({ refresh: "html_500" });
    const before = readFileSync(storePath);
    const result = await box.run(["exec", "--", "true"]);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain("<html");
    expect(readFileSync(storePath).equals(before)).toBe(true);
  });
});
