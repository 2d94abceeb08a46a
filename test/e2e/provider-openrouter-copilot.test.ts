import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { startGitHubFake, GITHUB_USER_CODE, type GitHubFake } from "../fakes/github.ts";
import { TEST_TLS } from "../fakes/key-api.ts";
import { startOpenRouterFake, type OpenRouterFake } from "../fakes/openrouter.ts";
import { hasTmux, openTerminal } from "../helpers/tmux.ts";
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

const cleanups: Array<() => void> = [];
beforeAll(() => ensureBinary());
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function sandbox(config: string): { box: Sandbox; browser: Record<string, string> } {
  const box = createSandbox();
  cleanups.push(() => box.cleanup());
  box.writeConfig(config);
  const script = writeFollowingBrowser(box.root);
  return { box, browser: { BROWSER: script } };
}
const store = (box: Sandbox) =>
  parse(readFileSync(join(box.home, "credentials.toml"), "utf8")) as Record<string, Record<string, unknown>>;

describe("openrouter --method oauth (the default)", () => {
  function setup(): { fake: OpenRouterFake; box: Sandbox; browser: Record<string, string> } {
    const fake = startOpenRouterFake();
    cleanups.push(() => fake.stop());
    const { box, browser } = sandbox(
      `[providers.openrouter]\nauthorize_url = "${fake.url}/auth"\ntoken_url = "${fake.url}/api/v1/auth/keys"\napi_url = "${fake.url}/api/v1"\n`,
    );
    return { fake, box, browser };
  }

  test("PKCE login yields a permanent key handed out like any key; the exchange sends only the documented fields", async () => {
    const { fake, box, browser } = setup();
    const login = await box.run(["login", "openrouter"], { env: browser });
    expectOk(login);
    const issued = fake.issuedKeys[0]!;
    expect(login.stderr).not.toContain(issued.key);
    const authRequest = fake.requests.find((r) => r.path === "/auth")!;
    expect(authRequest.query).toMatchObject({ code_challenge_method: "S256" });
    // The state rides in the callback path: the callback URL has no query for OpenRouter to append to.
    const callbackUrl = new URL(String(authRequest.query.callback_url));
    expect(callbackUrl.search).toBe("");
    expect(callbackUrl.pathname).toMatch(/^\/callback\/[A-Za-z0-9_-]{43}$/);
    expect(authRequest.query).not.toHaveProperty("state");
    const exchangeBody = fake.requests.find((r) => r.path === "/api/v1/auth/keys")!.body;
    expect(Object.keys(exchangeBody).sort()).toEqual(["code", "code_challenge_method", "code_verifier"]);
    expect(store(box).openrouter).toMatchObject({ method: "oauth", type: "api_key", key: issued.key });
    expect((await box.run(["token", "openrouter"])).stdout).toBe(`${issued.key}\n`);
    expect((await box.run(["env", "openrouter"])).stdout).toBe(`export OPENROUTER_API_KEY='${issued.key}'\n`);
    // The key really works against the provider's authenticated endpoint.
    const check = await fetch(`${fake.url}/api/v1/key`, {
      headers: { authorization: `Bearer ${issued.key}` },
    });
    expect(check.status).toBe(200);
    expectOk(await box.run(["logout", "openrouter"]));
  });

  test("the callback carries the state in its path: a forged callback to another path is refused", async () => {
    const { fake, box } = setup();
    const proc = Bun.spawn([BINARY, "login", "openrouter", "--timeout", "20s"], {
      env: { ...box.env, BROWSER: "/bin/true" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const { match } = await readUntil(proc.stderr, /callback_url=([^&\s]+)/);
    const callback = new URL(decodeURIComponent(match!));
    expect(callback.pathname).toMatch(/^\/callback\/[A-Za-z0-9_-]{43}$/);
    const forged = new URL(callback);
    forged.pathname = "/callback/forged";
    forged.searchParams.set("code", "attacker-code");
    expect((await fetch(forged)).status).toBe(404);
    const bare = new URL(callback);
    bare.pathname = "/callback";
    bare.searchParams.set("code", "attacker-code");
    expect((await fetch(bare)).status).toBe(404);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(2);
    expect(fake.counts.exchange).toBe(0);
  });

  test.skipIf(!hasTmux)(
    "over SSH it shows the URL and a paste prompt at once, and takes the pasted redirect URL",
    async () => {
      const { fake, box } = setup();
      const term = openTerminal(
        `${BINARY} login openrouter --method oauth`,
        { ...box.env, SSH_TTY: "/dev/pts/9", SSH_CONNECTION: "10.0.0.2 5000 10.0.0.1 22" },
        box.root,
      );
      try {
        const screen = await term.waitFor("Paste the redirect URL");
        expect(screen).toContain("no browser here (SSH or no display)");
        const url = /https?:\/\/127\.0\.0\.1:\d+\/auth\?[\w%.~:/?#@!$&'()*+,;=-]+/.exec(
          screen
            .split("\n")
            .map((l) => l.trimEnd())
            .join(""),
        )?.[0];
        expect(url).toBeDefined();
        // The browser on the user's laptop lands on a localhost URL it cannot reach: what it shows
        // in the address bar is what the user pastes.
        const answer = await fetch(url!, { redirect: "manual" });
        const landing = answer.headers.get("location");
        if (!landing) throw new Error(`no redirect (${answer.status}) for ${url}; screen:\n${screen}`);
        expect(landing).toContain("code=");
        term.type("-l", landing!);
        term.type("Enter");
        const code = await term.exitCode(20_000);
        if (code !== 0) throw new Error(`exit ${code}; screen:\n${term.screen()}`);
        expect(store(box).openrouter).toMatchObject({ type: "api_key", key: fake.issuedKeys[0]!.key });
      } finally {
        term.kill();
      }
    },
  );

  test("a denied login ends with the provider's error and stores nothing", async () => {
    const { fake, box, browser } = setup();
    fake.options.authorize = "deny";
    const result = await box.run(["login", "openrouter"], { env: browser });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("access_denied");
    expect(() => store(box)).toThrow();
  });

  test("--method key still takes a pasted key", async () => {
    const { box } = setup();
    expectOk(
      await box.run(["login", "openrouter", "--method", "key", "--with-key", "--no-verify"], {
        stdin: "sk-or-v1-0123456789abcdef0123456789",
      }),
    );
    expect(store(box).openrouter).toMatchObject({ method: "key", type: "api_key" });
  });
});

describe("github-copilot", () => {
  function setup(): { fake: GitHubFake; box: Sandbox } {
    const fake = startGitHubFake({ interval: 1 });
    cleanups.push(() => fake.stop());
    const { box } = sandbox(
      `[providers.github-copilot]\ndevice_authorization_url = "${fake.url}/login/device/code"\ntoken_url = "${fake.url}/login/oauth/access_token"\napi_url = "${fake.apiUrl}"\n`,
    );
    return { fake, box };
  }

  async function deviceLogin(fake: GitHubFake, box: Sandbox, approveAfterMs = 0): Promise<void> {
    const proc = Bun.spawn([BINARY, "login", "github-copilot"], {
      env: box.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    const { match } = await readUntil(proc.stderr, new RegExp(`(${GITHUB_USER_CODE})`));
    expect(match).toBe(GITHUB_USER_CODE);
    await Bun.sleep(approveAfterMs);
    fake.approve(GITHUB_USER_CODE);
    expect(await proc.exited).toBe(0);
  }

  test("device login (errors arrive with HTTP 200) stores the GitHub token, exported as COPILOT_GITHUB_TOKEN", async () => {
    const { fake, box } = setup();
    await deviceLogin(fake, box, 1500);
    const token = fake.issued.githubTokens[0]!;
    expect(store(box)["github-copilot"]).toMatchObject({
      method: "github",
      type: "oauth",
      access_token: token,
    });
    expect((await box.run(["env", "github-copilot"])).stdout).toBe(
      `export COPILOT_GITHUB_TOKEN='${token}'\n`,
    );
    expect(fake.counts.poll).toBeGreaterThanOrEqual(2);
  });

  test("token --copilot exchanges once and caches the short-lived token until it nears expiry", async () => {
    const { fake, box } = setup();
    await deviceLogin(fake, box);
    const first = await box.run(["token", "github-copilot", "--copilot"]);
    expectOk(first);
    expect(first.stdout.trim()).toBe(fake.issued.copilotTokens[0]!);
    const second = await box.run(["token", "github-copilot", "--copilot"]);
    expect(second.stdout).toBe(first.stdout);
    expect(fake.counts.copilot).toBe(1);
    // As VS Code's Copilot Chat sends the exchange (microsoft/vscode-copilot-chat@31acd00a
    // copilotTokenManager.ts; nodeFetcher.ts for the User-Agent of extension 0.42.0).
    const exchange = fake.requests.find((r) => r.path.endsWith("copilot_internal/v2/token"))!;
    expect(exchange.headers).toMatchObject({
      authorization: `token ${fake.issued.githubTokens[0]}`,
      "x-github-api-version": "2025-04-01",
      "user-agent": "GitHubCopilotChat/0.42.0",
    });
  });

  test("--copilot with another provider is a usage error naming the provider it goes with", async () => {
    const { box } = setup();
    expectOk(
      await box.run(["login", "openrouter", "--method", "key", "--with-key", "--no-verify"], {
        stdin: "sk-or-v1-0123456789abcdef0123456789",
      }),
    );
    // Both parsers: the hot path's plain form, and the full CLI (an option before the provider).
    for (const argv of [
      ["token", "openrouter", "--copilot"],
      ["token", "--copilot", "--min-ttl=1m", "openrouter"],
    ]) {
      const result = await box.run(argv);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("--copilot goes with github-copilot");
      expect(result.stdout).toBe("");
    }
  });

  test("an account without a Copilot seat gets a readable refusal", async () => {
    const { fake, box } = setup();
    await deviceLogin(fake, box);
    fake.options.seat = false;
    const result = await box.run(["token", "github-copilot", "--copilot"]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("no Copilot access");
  });

  test("--host names a GitHub Enterprise Server: the device flow on the host, the Copilot exchange at https://<host>/api/v3", async () => {
    // The fake serves HTTPS with the test CA's 127.0.0.1 certificate; nothing in config.toml moves an endpoint.
    const fake = startGitHubFake({ interval: 1, tls: true });
    cleanups.push(() => fake.stop());
    const box = createSandbox();
    cleanups.push(() => box.cleanup());
    const host = new URL(fake.url).host;
    const env = { ...box.env, NODE_EXTRA_CA_CERTS: TEST_TLS.caPath };
    const proc = Bun.spawn([BINARY, "login", "github-copilot", "--host", host], {
      env,
      stdout: "pipe",
      stderr: "pipe",
    });
    const { match } = await readUntil(proc.stderr, new RegExp(`(${GITHUB_USER_CODE})`));
    expect(match).toBe(GITHUB_USER_CODE);
    fake.approve(GITHUB_USER_CODE);
    expect(await proc.exited).toBe(0);
    expect(fake.requests.filter((r) => r.path === "/login/device/code")).toHaveLength(1);
    const exchanged = await box.run(["token", "github-copilot", "--copilot"], {
      env: { NODE_EXTRA_CA_CERTS: TEST_TLS.caPath },
    });
    expectOk(exchanged);
    expect(exchanged.stdout.trim()).toBe(fake.issued.copilotTokens[0]!);
    expect(
      fake.requests.filter((r) => r.path.endsWith("copilot_internal/v2/token")).map((r) => r.path),
    ).toEqual(["/api/v3/copilot_internal/v2/token"]);
  }, 30_000);

  test("--device is implied: without a terminal the code still goes to stderr", async () => {
    const { fake, box } = setup();
    await deviceLogin(fake, box);
    expect(fake.counts.device).toBe(1);
  });
});
