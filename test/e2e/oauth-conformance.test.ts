import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import {
  FAKE_CLIENT_ID,
  startOAuthFake,
  type OAuthFake,
  type OAuthFakeOptions,
} from "../fakes/oauth-fake.ts";
import {
  startOidcServer,
  TEST_CLIENT_ID,
  type OidcServer,
  type StartOidcServerOptions,
} from "../fakes/oidc-server.ts";
import {
  createSandbox,
  ensureBinary,
  ROOT,
  writeScript,
  type Sandbox,
  writeFollowingBrowser,
} from "../helpers/binary.ts";

/**
 * What the OAuth client does with what servers grant and advertise (issue 14.4, 14.6, 14.10,
 * 11.16), through the binary, against oidc-provider and the configurable fake.
 */
const boxes: Sandbox[] = [];
const stops: Array<() => unknown> = [];
afterEach(() => {
  for (const b of boxes.splice(0)) b.cleanup();
});
afterAll(async () => {
  for (const stop of stops.splice(0)) await stop();
});
beforeAll(() => ensureBinary());

function sandbox(config: string) {
  const box = createSandbox();
  boxes.push(box);
  box.writeConfig(config);
  const browser = writeFollowingBrowser(box.root);
  return { box, env: { BROWSER: browser } };
}

const providerConfig = (issuer: string, clientId: string, scopes: string[], extra = "") =>
  `[providers.mycorp]\nname = "MyCorp"\nissuer = "${issuer}"\nclient_id = "${clientId}"\nscopes = ${JSON.stringify(scopes)}\n${extra}env = { MYCORP_TOKEN = "access_token" }\n`;

async function oidc(options: StartOidcServerOptions = {}): Promise<OidcServer> {
  const server = await startOidcServer(options);
  stops.push(() => server.stop());
  return server;
}

function fake(options: OAuthFakeOptions = {}): OAuthFake {
  const f = startOAuthFake(options);
  stops.push(() => f.stop());
  return f;
}

const stored = (box: Sandbox) =>
  existsSync(join(box.home, "credentials.toml"))
    ? (parse(readFileSync(join(box.home, "credentials.toml"), "utf8")) as Record<
        string,
        Record<string, unknown>
      >)
    : {};

describe("offline_access and what comes back (14.4)", () => {
  test("offline_access asks for consent (OIDC Core §11), so oidc-provider grants it and a refresh token comes back", async () => {
    const server = await oidc({ refreshTokens: "offline_access" });
    const { box, env } = sandbox(providerConfig(server.issuer, TEST_CLIENT_ID, ["openid", "offline_access"]));
    const login = await box.run(["login", "mycorp"], { env });
    expect(login.code).toBe(0);
    expect(login.stderr).toContain("refreshable");
    expect(login.stderr).not.toContain("did not grant");
    expect(typeof stored(box).mycorp!.refresh_token).toBe("string");
  }, 30_000);

  test("a narrowed scope and a missing refresh token are said out loud", async () => {
    const f = fake({ grantedScope: () => "openid", issueRefreshToken: false });
    const { box, env } = sandbox(
      providerConfig(f.url, FAKE_CLIENT_ID, ["openid", "offline_access", "files.read"]),
    );
    const login = await box.run(["login", "mycorp"], { env });
    expect(login.code).toBe(0);
    expect(login.stderr).toContain("MyCorp did not grant these scopes: offline_access files.read");
    expect(login.stderr).toContain(
      "MyCorp sent no refresh token although offline_access was asked for: log in again when the access token expires",
    );
    const authorize = f.requests.find((r) => r.path === "/authorize")!;
    expect(authorize.query.prompt).toBe("consent");
  });
});

describe("an https issuer keeps its endpoints on https (14.6)", () => {
  test("metadata from an https issuer that moves the token endpoint to http on loopback is refused before anything is sent", async () => {
    const f = fake();
    const tls = join(ROOT, "test/fakes/tls");
    let issuer = "";
    const metadata = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: Bun.file(join(tls, "server.pem")), key: Bun.file(join(tls, "server.key")) },
      fetch: () =>
        Response.json({
          issuer,
          authorization_endpoint: `${f.url}/authorize`,
          token_endpoint: `${f.url}/token`,
          response_types_supported: ["code"],
        }),
    });
    stops.push(() => metadata.stop(true));
    issuer = `https://127.0.0.1:${metadata.port}`;
    const { box, env } = sandbox(providerConfig(issuer, FAKE_CLIENT_ID, ["openid"]));
    const login = await box.run(["login", "mycorp"], {
      env: { ...env, NODE_EXTRA_CA_CERTS: join(tls, "ca.pem") },
    });
    expect(login.stderr).toContain(
      `discovery endpoint answered an invalid "authorization_endpoint" (expected an https URL)`,
    );
    expect(login.code).toBe(1);
    expect(f.counts.authorize).toBe(0);
    expect(f.counts.token).toBe(0);
  });
});

describe("logout when the provider cannot revoke (14.9)", () => {
  for (const [behaviour, said] of [
    [
      "unavailable_503",
      "MyCorp could not revoke the grant right now (it asks to retry after 120 s); it is kept here",
    ],
    [
      "server_error_500",
      "could not revoke the MyCorp grant (revocation endpoint refused: server_error (internal failure)); it is kept here",
    ],
    // An endpoint that never answers (the 10 s timeout) is test/actions/oauth-clock.test.ts, on the
    // fake clock: here it waited 10 real seconds.
  ] as const) {
    test(`${behaviour}: the login is kept, exit 1 names the command that retries, and the retry revokes it`, async () => {
      const f = fake();
      const { box, env } = sandbox(providerConfig(f.url, FAKE_CLIENT_ID, ["openid"]));
      expect((await box.run(["login", "mycorp"], { env })).code).toBe(0);
      const refreshToken = stored(box).mycorp!.refresh_token;
      f.options.revoke = behaviour;
      const failed = await box.run(["logout", "mycorp"], { timeoutMs: 30_000 });
      expect(failed.stderr).toContain(said);
      expect(failed.stderr).toContain(
        "mycorp could not be revoked at the provider right now, so it is still stored here",
      );
      expect(failed.stderr).toContain("run 'authctl logout mycorp' again to retry");
      expect(failed.code).toBe(1);
      expect(stored(box).mycorp!.refresh_token).toBe(refreshToken);

      f.options.revoke = "ok";
      const retried = await box.run(["logout", "mycorp"]);
      expect(retried.code).toBe(0);
      expect(retried.stderr).toContain("revoked the MyCorp grant at the provider");
      expect(stored(box).mycorp).toBeUndefined();
    }, 40_000);
  }
});

describe("client authentication (14.10)", () => {
  test("a server that lists only client_secret_basic gets the secret in Basic auth, on the code exchange, the device requests, the refresh and the revocation", async () => {
    const clientSecret = "basic-only-secret-0123456789";
    const f = fake({ clientSecret, clientAuth: "client_secret_basic", pendingPolls: 0 });
    const { box, env } = sandbox(
      providerConfig(f.url, FAKE_CLIENT_ID, ["openid"], `client_secret = "${clientSecret}"\n`),
    );
    const login = await box.run(["login", "mycorp"], { env });
    expect(login.stderr).not.toContain("invalid_client");
    expect(login.code).toBe(0);
    const device = await box.run(["login", "mycorp", "--device"], { env: { BROWSER: "true" } });
    expect(device.stderr).not.toContain("invalid_client");
    expect(device.code).toBe(0);
    f.options.accessTokenTtl = 7200;
    const refreshed = await box.run(["token", "mycorp", "--min-ttl", "90m"]);
    expect(refreshed.stderr).not.toContain("invalid_client");
    expect(refreshed.code).toBe(0);
    expect(f.counts.refresh).toBe(1);
    const logout = await box.run(["logout", "mycorp"]);
    expect(logout.stderr).toContain("revoked the MyCorp grant at the provider");
    expect(logout.code).toBe(0);
    expect(
      f.requests.filter((r) => r.method === "POST").every((r) => r.body.client_secret === undefined),
    ).toBe(true);
  }, 30_000);
});

describe("secrets a server echoes back are masked (13.9)", () => {
  test("a revocation endpoint that quotes the refresh token in its error does not get it printed", async () => {
    const f = fake();
    const { box, env } = sandbox(providerConfig(f.url, FAKE_CLIENT_ID, ["openid"]));
    expect((await box.run(["login", "mycorp"], { env })).code).toBe(0);
    const refreshToken = String(stored(box).mycorp!.refresh_token);
    f.options.echoSecrets = true;
    const logout = await box.run(["logout", "mycorp"]);
    expect(logout.stderr).toContain("could not process token=");
    expect(logout.stderr).not.toContain(refreshToken);
    expect(logout.stderr).toContain(`…${refreshToken.slice(-4)}`);
  });

  test("a token endpoint that quotes the device code in its error does not get it printed", async () => {
    const f = fake({ pendingPolls: 0 });
    const { box } = sandbox(providerConfig(f.url, FAKE_CLIENT_ID, ["openid"]));
    const started = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (f.counts.device > 0) {
          f.options.echoSecrets = true;
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    const login = box.run(["login", "mycorp", "--device"], { env: { BROWSER: "true" } });
    await started;
    const result = await login;
    const deviceCode = /device_code=([^&\s)]+)/.exec(
      f.requests.find((r) => r.path === "/token")?.body
        ? new URLSearchParams(f.requests.find((r) => r.path === "/token")!.body).toString()
        : "",
    )?.[1];
    expect(deviceCode).toBeDefined();
    expect(result.stderr).toContain("could not process grant_type=");
    expect(result.stderr).not.toContain(decodeURIComponent(deviceCode!));
  }, 20_000);
});

describe("logging in over SSH (15.8)", () => {
  test("with no display and SSH_CONNECTION set, a provider with a device flow logs in by device code", async () => {
    const f = fake({ pendingPolls: 0 });
    const { box } = sandbox(providerConfig(f.url, FAKE_CLIENT_ID, ["openid"]));
    const login = await box.run(["login", "mycorp"], {
      env: {
        SSH_CONNECTION: "10.0.0.2 50000 10.0.0.1 22",
        BROWSER: undefined,
        DISPLAY: undefined,
        WAYLAND_DISPLAY: undefined,
      },
    });
    expect(login.stderr).toContain("no browser here (SSH or no display): logging in with a device code");
    expect(login.code).toBe(0);
    expect(f.counts.device).toBe(1);
    expect(f.counts.authorize).toBe(0);
  }, 20_000);
});

describe("endpoints come from the configuration each time (11.16)", () => {
  test("a token endpoint the issuer moved after login is the one the refresh uses", async () => {
    const f = fake();
    const { box, env } = sandbox(providerConfig(f.url, FAKE_CLIENT_ID, ["openid"]));
    expect((await box.run(["login", "mycorp"], { env })).code).toBe(0);
    f.options.tokenPath = "/v2/token";
    f.options.accessTokenTtl = 7200;
    const token = await box.run(["token", "mycorp", "--min-ttl", "90m"]);
    expect(token.code).toBe(0);
    const refreshes = f.requests.filter((r) => r.body.grant_type === "refresh_token");
    expect(refreshes.map((r) => r.path)).toEqual(["/v2/token"]);
  });
});
