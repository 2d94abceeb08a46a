import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { startOidcServer, TEST_CLIENT_ID, type OidcServer } from "../fakes/oidc-server.ts";
import { chromiumAvailable } from "../fakes/chromium.ts";
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
import { missingSecretServicePrograms, startSecretService } from "../helpers/secret-service.ts";
import { hasTmux, openTerminal } from "../helpers/tmux.ts";

/**
 * The OAuth engine against a real OpenID Connect server nobody here wrote (oidc-provider), through
 * the compiled binary: a custom provider from config.toml, discovered from its issuer.
 */
const boxes: Sandbox[] = [];
const servers: OidcServer[] = [];
afterEach(() => {
  for (const b of boxes.splice(0)) b.cleanup();
});
afterAll(async () => {
  for (const s of servers.splice(0)) await s.stop();
});
beforeAll(() => ensureBinary());

async function setup(options: Parameters<typeof startOidcServer>[0] = {}) {
  const server = await startOidcServer(options);
  servers.push(server);
  const box = createSandbox();
  boxes.push(box);
  box.writeConfig(
    `[providers.mycorp]\nname = "MyCorp"\nissuer = "${server.issuer}"\nclient_id = "${TEST_CLIENT_ID}"\nscopes = ["openid", "offline_access"]\nenv = { MYCORP_TOKEN = "access_token" }\n`,
  );
  const browser = writeFollowingBrowser(box.root);
  return { server, box, browserEnv: { BROWSER: browser } };
}

const store = (box: Sandbox) =>
  parse(readFileSync(join(box.home, "credentials.toml"), "utf8")) as Record<string, Record<string, unknown>>;

async function userinfo(server: OidcServer, token: string): Promise<number> {
  return (await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${token}` } })).status;
}

describe("custom OIDC provider", () => {
  test("logs in by loopback with the browser following the authorize URL, then hands out a working token", async () => {
    const { server, box, browserEnv } = await setup();
    const login = await box.run(["login", "mycorp"], { env: browserEnv });
    expectOk(login);
    expect(login.stderr).toContain("logged in to MyCorp as test-user");
    const cred = store(box).mycorp!;
    expect(cred).toMatchObject({ method: "oauth", type: "oauth", account: "test-user" });
    for (const secretField of ["access_token", "refresh_token", "id_token"]) {
      expect(login.stderr).not.toContain(String(cred[secretField]));
    }
    expect(typeof cred.refresh_token).toBe("string");
    expect(cred.access_token).not.toBe(cred.refresh_token);

    const token = await box.run(["token", "mycorp"]);
    expectOk(token);
    expect(token.stdout.trim()).toBe(String(cred.access_token));
    expect(await userinfo(server, token.stdout.trim())).toBe(200);
    expect((await box.run(["env", "mycorp"])).stdout).toBe(`export MYCORP_TOKEN='${cred.access_token}'\n`);
    const child = await box.run(["exec", "-p", "mycorp", "--", "sh", "-c", 'printf %s "$MYCORP_TOKEN"']);
    expect(child.stdout).toBe(String(cred.access_token));
    const status = JSON.parse((await box.run(["status", "--json"])).stdout).providers[0];
    expect(status).toMatchObject({ id: "mycorp", type: "oauth", method: "oauth", logged_in: true });
    expect(server.counts.token).toBe(1);
    expect(server.counts.refresh).toBe(0);
  });

  test("a redirect URI on `localhost` is served on both 127.0.0.1 and ::1", async () => {
    const { box, browserEnv } = await setup();
    const config = readFileSync(join(box.home, "config.toml"), "utf8");
    box.writeConfig(config.replace("env = {", 'redirect_host = "localhost"\nenv = {'));
    const proc = Bun.spawn([BINARY, "login", "mycorp", "--timeout", "20s"], {
      env: { ...box.env, BROWSER: join(box.root, "none") },
      stdout: "pipe",
      stderr: "pipe",
    });
    const port =
      Number((await readUntil(proc.stderr, /redirect_uri=http%3A%2F%2Flocalhost%3A(\d+)/)).match) ||
      undefined;
    expect(port).toBeDefined();
    // Both listeners answer (a request without the right state gets the 400 page, not a refused connection).
    expect((await fetch(`http://127.0.0.1:${port}/callback?code=x&state=wrong`)).status).toBe(400);
    if (hasIpv6Loopback()) {
      expect((await fetch(`http://[::1]:${port}/callback?code=x&state=wrong`)).status).toBe(400);
    }
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(2);
    void browserEnv;
  });

  test("logs in by device code: the code goes to stderr, the test approves it, polling finishes", async () => {
    // interval 1 s: without one, the first poll waits the 5 s default (oauth-clock.test.ts).
    const { server, box } = await setup({ deviceInterval: 1 });
    const proc = Bun.spawn([BINARY, "login", "mycorp", "--device"], {
      env: box.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    const { match: code, text: stderr } = await readUntil(proc.stderr, /^\s+([A-Z0-9-]{6,})\s*$/m);
    expect(stderr).toContain(`${server.issuer}/device`);
    await server.approveDevice(code!);
    expect(await proc.exited).toBe(0);
    expect(store(box).mycorp?.type).toBe("oauth");
    expect(server.counts.device).toBeGreaterThanOrEqual(1);
  }, 40_000);

  test("an expired access token is refreshed on `token`, and the rotated refresh token is stored", async () => {
    const { server, box, browserEnv } = await setup({ accessTokenTtl: 2 });
    expectOk(await box.run(["login", "mycorp"], { env: browserEnv }));
    const before = store(box).mycorp!;
    await Bun.sleep(2200);
    // The refreshed token must still be live when /me is asked below: a 2-second one had expired
    // by then on two loaded cores.
    server.setAccessTokenTtl(3600);
    const token = await box.run(["token", "mycorp"]);
    expectOk(token);
    const after = store(box).mycorp!;
    expect(token.stdout.trim()).toBe(String(after.access_token));
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(server.counts.refresh).toBe(1);
    expect(await userinfo(server, token.stdout.trim())).toBe(200);
  });

  test("20 parallel `token` calls that all need a refresh: one refresh, every caller gets the same valid token", async () => {
    const { server, box, browserEnv } = await setup({ accessTokenTtl: 3600 });
    expectOk(await box.run(["login", "mycorp"], { env: browserEnv }));
    // Every caller finds its 1-hour token due (--min-ttl 2h) at once, without waiting for a short
    // token to expire; the first refresh brings a 3-hour token, which satisfies all the others.
    server.setAccessTokenTtl(3 * 3600);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => box.run(["token", "mycorp", "--min-ttl", "2h"])),
    );
    for (const r of results) expectOk(r);
    const tokens = new Set(results.map((r) => r.stdout.trim()));
    expect(tokens.size).toBe(1);
    expect(server.counts.refresh).toBe(1);
    const [only] = [...tokens];
    expect(await userinfo(server, only!)).toBe(200);
    expect(store(box).mycorp!.access_token).toBe(only);
    // The stored refresh token is the latest: oidc-provider revokes the whole grant on replay, so
    // a second refresh (forced by --min-ttl) only succeeds if the stored one is current.
    server.setAccessTokenTtl(5 * 3600);
    expectOk(await box.run(["token", "mycorp", "--min-ttl", "4h"]));
    expect(server.counts.refresh).toBe(2);
  }, 60_000);

  test.skipIf(missingSecretServicePrograms.length > 0)(
    "with the tokens in a real keyring: parallel `token` calls that all need a refresh still make one, and the rotated token is the one kept",
    async () => {
      const service = await startSecretService();
      try {
        const { server, box, browserEnv } = await setup({ accessTokenTtl: 3600 });
        const env = { ...service.env, AUTHCTL_STORE: "keyring" };
        expectOk(await box.run(["login", "mycorp"], { env: { ...browserEnv, ...env } }));
        const text = () => readFileSync(join(box.home, "credentials.toml"), "utf8");
        expect(text()).toContain('secret_store = "keyring"');
        expect(text()).not.toContain("refresh_token");
        // Due for every caller at once (see the test above).
        server.setAccessTokenTtl(3 * 3600);
        const results = await Promise.all(
          Array.from({ length: 10 }, () => box.run(["token", "mycorp", "--min-ttl", "2h"], { env })),
        );
        for (const r of results) expectOk(r);
        expect(new Set(results.map((r) => r.stdout.trim())).size).toBe(1);
        expect(server.counts.refresh).toBe(1);
        expect(await userinfo(server, results[0]!.stdout.trim())).toBe(200);
        // oidc-provider revokes the grant when a refresh token is replayed: a second refresh
        // (forced by --min-ttl) works only if the keyring holds the rotated one.
        server.setAccessTokenTtl(5 * 3600);
        expectOk(await box.run(["token", "mycorp", "--min-ttl", "4h"], { env }));
        expect(server.counts.refresh).toBe(2);
        expect(text()).not.toContain("refresh_token");
      } finally {
        service.stop();
      }
    },
    60_000,
  );

  test("--min-ttl forces a refresh when the token would not live that long", async () => {
    const { server, box, browserEnv } = await setup({ accessTokenTtl: 3600 });
    expectOk(await box.run(["login", "mycorp"], { env: browserEnv }));
    expectOk(await box.run(["token", "mycorp", "--min-ttl", "30m"]));
    expect(server.counts.refresh).toBe(0);
    const tooLong = await box.run(["token", "mycorp", "--min-ttl", "2h"]);
    expect(tooLong.code).toBe(4);
    expect(server.counts.refresh).toBe(1);
  });

  test("a refresh the server rejects marks the login as needing renewal and keeps the credential", async () => {
    const { server, box, browserEnv } = await setup({ accessTokenTtl: 3600 });
    expectOk(await box.run(["login", "mycorp"], { env: browserEnv }));
    const before = store(box).mycorp!;
    // Replay detection: using the refresh token behind authctl's back rotates it away.
    const replay = await fetch(`${server.issuer}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: String(before.refresh_token),
        client_id: TEST_CLIENT_ID,
      }),
    });
    expect(replay.status).toBe(200);
    // --min-ttl makes the refresh due now, instead of waiting for a short token to expire (the
    // margin rules themselves are test/actions/refresh.test.ts, on a fake clock).
    const result = await box.run(["token", "mycorp", "--min-ttl", "2h"]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("invalid_grant");
    expect(result.stderr).toContain("authctl login mycorp");
    const after = store(box).mycorp!;
    expect(after.needs_login).toBe(true);
    expect(after.refresh_token).toBe(before.refresh_token);
    expect(after.access_token).toBe(before.access_token);
  });

  test("logout revokes the grant at the provider (RFC 7009) and removes it here", async () => {
    const { server, box, browserEnv } = await setup();
    expectOk(await box.run(["login", "mycorp"], { env: browserEnv }));
    const refreshToken = String(store(box).mycorp!.refresh_token);
    const logout = await box.run(["logout", "mycorp"]);
    expectOk(logout);
    expect(logout.stderr).toContain("revoked the MyCorp grant");
    expect(server.counts.revocation).toBe(1);
    expect(store(box).mycorp).toBeUndefined();
    const reuse = await fetch(`${server.issuer}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        client_id: TEST_CLIENT_ID,
      }),
    });
    expect(reuse.status).toBe(400);
  });

  test("Ctrl-C while waiting for the browser exits 2, stores nothing, and frees the port", async () => {
    const { box } = await setup();
    const idle = writeScript(box.root, "idle-browser.sh", "#!/bin/sh\nexit 0\n");
    const proc = Bun.spawn([BINARY, "login", "mycorp"], {
      env: { ...box.env, BROWSER: idle },
      stdout: "pipe",
      stderr: "pipe",
    });
    const port =
      Number((await readUntil(proc.stderr, /redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A(\d+)/)).match) ||
      undefined;
    expect(port).toBeDefined();
    await Bun.sleep(200);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(2);
    const rebind = Bun.serve({ hostname: "127.0.0.1", port: port!, fetch: () => new Response("") });
    rebind.stop(true);
    expect(require("node:fs").existsSync(join(box.home, "credentials.toml"))).toBe(false);
  });

  test.skipIf(!chromiumAvailable())(
    "logs in through the server's real login and consent pages in headless Chromium",
    async () => {
      const { box } = await setup({ autoApprove: false });
      const browser = writeScript(
        box.root,
        "chromium.sh",
        `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, "test/fakes/chromium-browser.ts")}" "$1"\n`,
      );
      const login = await box.run(["login", "mycorp"], { env: { BROWSER: browser }, timeoutMs: 60_000 });
      expectOk(login);
      expect(store(box).mycorp).toMatchObject({ type: "oauth", account: "test-user" });
    },
    90_000,
  );

  test.skipIf(!hasTmux)(
    "when the registered port is busy, it says so at once and takes the pasted redirect URL",
    async () => {
      const { server, box } = await setup();
      const seen: string[] = [];
      const squatter = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: (req) => (seen.push(req.url), new Response("someone else")),
      });
      const config = readFileSync(join(box.home, "config.toml"), "utf8");
      box.writeConfig(
        `${config}redirect_port = ${squatter.port}\n`
          .replace("env = {", `redirect_port = ${squatter.port}\nenv = {`)
          .replace(/\nredirect_port = \d+\n$/, "\n"),
      );
      // No display in the pane: --no-browser keeps the paste flow (without it, a device code is used).
      const term = openTerminal(`${BINARY} login mycorp --no-browser`, box.env, box.root);
      try {
        const screen = await term.waitFor("Paste the redirect URL");
        expect(screen).toContain(`port ${squatter.port} on 127.0.0.1 is in use`);
        const url = /https?:\/\/127\.0\.0\.1:\d+\/auth\?[^\s│]+/.exec(joinedScreen(screen))?.[0];
        expect(url).toBeDefined();
        const { UserAgent } = await import("../fakes/browser-follow.ts");
        await new UserAgent().follow(url!);
        expect(seen).toHaveLength(1);
        term.type("-l", seen[0]!);
        term.type("Enter");
        const code = await term.exitCode(20_000);
        if (code !== 0) throw new Error(`exit ${code}; screen:\n${term.screen()}`);
        expect(store(box).mycorp?.type).toBe("oauth");
        expect(server.counts.token).toBe(1);
      } finally {
        term.kill();
        squatter.stop(true);
      }
    },
  );
});

function hasIpv6Loopback(): boolean {
  try {
    Bun.serve({ hostname: "::1", port: 0, fetch: () => new Response("") }).stop(true);
    return true;
  } catch {
    return false;
  }
}

/** tmux wraps long lines at the pane width; the URL is the only thing printed that long. */
function joinedScreen(screen: string): string {
  return screen
    .split("\n")
    .map((l) => l.replace(/\s+$/, ""))
    .join("");
}
