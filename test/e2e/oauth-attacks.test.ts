import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { startMixUpAttacker, type MixUpAttacker } from "../fakes/oauth-fake.ts";
import { startOidcServer, TEST_CLIENT_ID, type OidcServer } from "../fakes/oidc-server.ts";
import {
  BINARY,
  createSandbox,
  ensureBinary,
  readUntil,
  ROOT,
  writeScript,
  type Sandbox,
  writeFollowingBrowser,
} from "../helpers/binary.ts";
import { hasTmux, openTerminal } from "../helpers/tmux.ts";

/**
 * Attacks on the OAuth client (issue 14), through the compiled binary, with oidc-provider as the
 * honest server and small malicious servers on 127.0.0.1 beside it.
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

let honest: OidcServer | undefined;
async function honestServer(): Promise<OidcServer> {
  if (!honest) {
    honest = await startOidcServer();
    const server = honest;
    stops.push(() => server.stop());
  }
  return honest;
}

function sandbox(config: string) {
  const box = createSandbox();
  boxes.push(box);
  box.writeConfig(config);
  const browser = writeFollowingBrowser(box.root);
  return { box, browser };
}

const providerConfig = (id: string, issuer: string, extra = "") =>
  `[providers.${id}]\nname = "${id}"\nissuer = "${issuer}"\nclient_id = "${TEST_CLIENT_ID}"\nscopes = ["openid", "offline_access"]\n${extra}env = { ${id.toUpperCase()}_TOKEN = "access_token" }\n`;

function startAttacker(server: OidcServer, options: { advertiseIss?: boolean } = {}): MixUpAttacker {
  const attacker = startMixUpAttacker(
    { authorizeUrl: `${server.issuer}/auth`, tokenUrl: `${server.issuer}/token` },
    options,
  );
  stops.push(() => attacker.stop());
  return attacker;
}

const stored = (box: Sandbox) =>
  existsSync(join(box.home, "credentials.toml"))
    ? (parse(readFileSync(join(box.home, "credentials.toml"), "utf8")) as Record<string, unknown>)
    : {};

describe("mix-up (RFC 9207, RFC 9700 §4.4)", () => {
  test("an attacker's server that sends the browser on to an honest one gets no code: the foreign `iss` ends the login", async () => {
    const server = await honestServer();
    const attacker = startAttacker(server);
    const { box, browser } = sandbox(providerConfig("evil", attacker.url));
    const login = await box.run(["login", "evil"], { env: { BROWSER: browser } });
    expect(login.stderr).toContain(
      `comes from issuer "${server.issuer}", but this login went to ${attacker.url}`,
    );
    expect(login.code).toBe(4);
    expect(attacker.counts.authorize).toBe(1);
    // The code and verifier never reached the attacker's token endpoint, so nothing was stolen.
    expect(attacker.counts.token).toBe(0);
    expect(attacker.stolen).toHaveLength(0);
    expect(stored(box).evil).toBeUndefined();
  }, 30_000);

  test("the honest server's own login still works (its `iss` matches)", async () => {
    const server = await honestServer();
    const { box, browser } = sandbox(providerConfig("mycorp", server.issuer));
    const login = await box.run(["login", "mycorp"], { env: { BROWSER: browser } });
    expect(login.stderr).toContain("logged in to mycorp");
    expect(login.code).toBe(0);
  }, 30_000);

  for (const [name, suffix, expected] of [
    [
      "a callback with this attempt's state but another `iss` is refused",
      "&iss=http%3A%2F%2F127.0.0.1%3A9%2F",
      'comes from issuer "http://127.0.0.1:9/"',
    ],
    [
      "a callback without `iss` is refused when the metadata says the server sends one",
      "",
      "names no issuer",
    ],
  ] as const) {
    test(name, async () => {
      const server = await honestServer();
      const { box } = sandbox(providerConfig("mycorp", server.issuer));
      const tokenCalls = server.counts.token;
      const proc = Bun.spawn([BINARY, "login", "mycorp", "--timeout", "20s"], {
        env: { ...box.env, BROWSER: join(box.root, "none") },
        stdout: "pipe",
        stderr: "pipe",
      });
      const { text } = await readUntil(
        proc.stderr,
        /redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A\d+[^\s]*state=[A-Za-z0-9_-]+/,
      );
      const port = /redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A(\d+)/.exec(text)![1];
      const state = /[?&]state=([A-Za-z0-9_-]+)/.exec(text)![1];
      const answer = await fetch(
        `http://127.0.0.1:${port}/callback?code=stolen-code&state=${state}${suffix}`,
      );
      expect(answer.status).toBe(400);
      const rest = (await readUntil(proc.stderr, /(?!)/)).text;
      expect(rest).toContain(expected);
      expect(await proc.exited).toBe(4);
      expect(server.counts.token).toBe(tokenCalls);
      expect(stored(box).mycorp).toBeUndefined();
    }, 30_000);
  }

  test.skipIf(!hasTmux)(
    "a pasted redirect URL with a foreign `iss` is refused at the paste prompt too",
    async () => {
      const server = await honestServer();
      const attacker = startAttacker(server);
      const seen: string[] = [];
      const squatter = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: (req) => (seen.push(req.url), new Response("someone else")),
      });
      stops.push(() => squatter.stop(true));
      const { box } = sandbox(providerConfig("evil", attacker.url, `redirect_port = ${squatter.port}\n`));
      const term = openTerminal(`${BINARY} login evil`, box.env, box.root);
      try {
        await term.waitFor("Paste the redirect URL");
        const url = /https?:\/\/127\.0\.0\.1:\d+\/authorize\?[^\s│]+/.exec(joinedScreen(term.screen()))?.[0];
        expect(url).toBeDefined();
        const { UserAgent } = await import("../fakes/browser-follow.ts");
        await new UserAgent().follow(url!);
        expect(seen).toHaveLength(1);
        expect(seen[0]).toContain("iss=");
        term.type("-l", seen[0]!);
        term.type("Enter");
        const code = await term.exitCode(20_000);
        expect(term.screen()).toContain("possible mix-up attack");
        expect(code).toBe(4);
        expect(attacker.counts.token).toBe(0);
      } finally {
        term.kill();
      }
    },
    40_000,
  );
});

describe("answers that do not carry this attempt's state (RFC 9700 §4.7, issue 13.7 / 14.7)", () => {
  test("an error callback without state, or with another state, is ignored: the login goes on and its text is never printed", async () => {
    const server = await honestServer();
    const { box } = sandbox(providerConfig("mycorp", server.issuer));
    const proc = Bun.spawn([BINARY, "login", "mycorp", "--timeout", "20s"], {
      env: { ...box.env, BROWSER: join(box.root, "none") },
      stdout: "pipe",
      stderr: "pipe",
    });
    const { text } = await readUntil(proc.stderr, /(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)/);
    const authorizeUrl = /(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)/.exec(text)![1]!;
    const port = /redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A(\d+)/.exec(text)![1];
    for (const query of [
      "error=access_denied&error_description=PWNED%20call%20%2B1-555-0100",
      "error=access_denied&error_description=PWNED%20again&state=someone-elses",
      "error=server_error&error_description=PWNED&state=",
    ]) {
      const answer = await fetch(`http://127.0.0.1:${port}/callback?${query}`);
      expect(answer.status).toBe(400);
      expect(await answer.text()).not.toContain("PWNED");
    }
    // Still waiting: the real browser round trip completes the login.
    const { UserAgent } = await import("../fakes/browser-follow.ts");
    const followed = await new UserAgent().follow(authorizeUrl);
    expect(followed.reachedCallback).toBe(true);
    const rest = (await readUntil(proc.stderr, /(?!)/)).text;
    expect(await proc.exited).toBe(0);
    expect(rest).toContain("logged in to mycorp");
    expect(text + rest).not.toContain("PWNED");
  }, 30_000);
});

describe("a `localhost` redirect and another local user on ::1 (issue 13.4)", () => {
  test.skipIf(!hasIpv6Loopback())(
    "a port someone holds on ::1 is a busy port: the login does not start, nobody gets the callback",
    async () => {
      const server = await honestServer();
      const seen: string[] = [];
      const squatter = Bun.serve({
        hostname: "::1",
        port: 0,
        fetch: (req) => (seen.push(req.url), new Response("phishing page")),
      });
      stops.push(() => squatter.stop(true));
      const { box, browser } = sandbox(
        providerConfig(
          "mycorp",
          server.issuer,
          `redirect_host = "localhost"\nredirect_port = ${squatter.port}\n`,
        ),
      );
      const login = await box.run(["login", "mycorp"], { env: { BROWSER: browser } });
      expect(login.stderr).toContain(`port ${squatter.port} on ::1 is in use`);
      expect(login.code).toBe(1);
      expect(seen).toEqual([]);
      expect(stored(box).mycorp).toBeUndefined();
    },
    30_000,
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
