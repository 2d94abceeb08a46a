import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { machine, release, type } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";
import { startGoogleFake } from "../fakes/google.ts";
import { startKimiFake } from "../fakes/kimi.ts";
import { startMiniMaxFake } from "../fakes/minimax.ts";
import { startQwenFake } from "../fakes/qwen.ts";
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

function sandbox(config: string): Sandbox {
  const box = createSandbox();
  cleanups.push(() => box.cleanup());
  box.writeConfig(config);
  return box;
}
const store = (box: Sandbox) =>
  parse(readFileSync(join(box.home, "credentials.toml"), "utf8")) as Record<string, Record<string, unknown>>;

/** Starts a device login, waits for the user code on stderr, approves it, and returns the exit code. */
async function deviceLogin(
  box: Sandbox,
  args: string[],
  codePattern: RegExp,
  approve: (code: string) => void,
  env: Record<string, string> = {},
) {
  const proc = Bun.spawn([BINARY, ...args], { env: { ...box.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const { match, text } = await readUntil(proc.stderr, codePattern);
  if (!match) throw new Error(`no user code in:\n${text}`);
  approve(match);
  return { code: await proc.exited, stderr: text };
}

describe("kimi (device flow with X-Msh headers, rotating refresh)", () => {
  test("logs in, exports KIMI_API_KEY, and refreshes with a rotated token", async () => {
    const fake = startKimiFake({ interval: 1, accessTokenTtl: 3600 });
    cleanups.push(() => fake.stop());
    const box = sandbox(
      `[providers.kimi]\ndevice_authorization_url = "${fake.url}/api/oauth/device_authorization"\ntoken_url = "${fake.url}/api/oauth/token"\n`,
    );
    const login = await deviceLogin(box, ["login", "kimi"], /^\s+([A-Z0-9]{4}-[A-Z0-9]{4})\s*$/m, (c) =>
      fake.approve(c),
    );
    expect(login.code).toBe(0);
    const before = store(box).kimi!;
    expect(before).toMatchObject({ method: "device", type: "oauth" });
    // kimi-cli's device id: a random uuid4 hex kept per install (0600), sent with every request.
    const deviceId = readFileSync(join(box.home, "kimi-device-id"), "utf8").trim();
    expect(deviceId).toMatch(/^[0-9a-f]{32}$/);
    expect(statSync(join(box.home, "kimi-device-id")).mode & 0o777).toBe(0o600);
    expect(
      fake.requests.every(
        (r) => r.headers["x-msh-platform"] === "kimi_cli" && r.headers["x-msh-device-id"] === deviceId,
      ),
    ).toBe(true);
    // kimi-cli _device_model on Linux: "<system> <release> <machine>", the machine as uname names
    // it (x86_64), not Node's arch name (x64) (MoonshotAI/kimi-cli src/kimi_cli/auth/oauth.py @4a550eff).
    expect(fake.requests[0]!.headers["x-msh-device-model"]).toBe(`${type()} ${release()} ${machine()}`);
    expect((await box.run(["env", "kimi"])).stdout).toBe(`export KIMI_API_KEY='${before.access_token}'\n`);
    // A refresh is asked for (the token lives an hour, less than --min-ttl) rather than waited
    // for: with a 2-second token, a loaded machine let it expire before `env` ran, and env printed
    // a refreshed token (seen in a full run this session).
    fake.options.accessTokenTtl = 4 * 3600;
    const token = await box.run(["token", "kimi", "--min-ttl", "2h"]);
    expectOk(token);
    expect(token.stdout).not.toBe(`${before.access_token}\n`);
    expect(store(box).kimi!.refresh_token).not.toBe(before.refresh_token);
    expect(fake.counts.refresh).toBe(1);
    expect(fake.requests.at(-1)!.headers["x-msh-device-id"]).toBe(deviceId);
  }, 30_000);
});

/** A MiniMax fake, a sandbox pointed at it, and a coding-plan device login approved at once. */
async function minimaxLogin(options: Parameters<typeof startMiniMaxFake>[0]) {
  const fake = startMiniMaxFake(options);
  cleanups.push(() => fake.stop());
  const box = sandbox(
    `[providers.minimax]\ndevice_authorization_url = "${fake.url}/oauth2/device/code"\ntoken_url = "${fake.url}/oauth2/token"\n`,
  );
  const login = await deviceLogin(
    box,
    ["login", "minimax", "--method", "coding-plan"],
    /^\s+([0-9A-F]{6}-[0-9A-F]{6})\s*$/m,
    (c) => fake.approve(c),
  );
  expect(login.code).toBe(0);
  return { fake, box };
}

describe("minimax --method coding-plan (MiniMax's own device flow)", () => {
  test("millisecond deadline and interval, echoed state, status pending|success", async () => {
    const { fake, box } = await minimaxLogin({ intervalMs: 500 });
    const cred = store(box).minimax!;
    expect(cred).toMatchObject({ method: "coding-plan", type: "oauth" });
    // expired_in is a unix-ms deadline: stored as is, not as "now + seconds".
    expect(Number(cred.expires_at)).toBeGreaterThan(Date.now());
    expect(Number(cred.expires_at)).toBeLessThan(Date.now() + 400 * 24 * 3_600_000);
    expect((cred.extra as Record<string, string>).resource_url).toBe(`${fake.url}/anthropic`);
    expect((await box.run(["env", "minimax"])).stdout).toBe(
      `export MINIMAX_API_KEY='${cred.access_token}'\n`,
    );
  }, 30_000);

  test("an answer in MiniMax's base_resp envelope (status_code 0, no status) is a success", async () => {
    const { fake, box } = await minimaxLogin({ intervalMs: 500, envelope: "base_resp" });
    expect(store(box).minimax!.access_token).toBe(fake.issued.accessTokens[0]!);
  }, 30_000);

  test("a refresh keeps MiniMax's millisecond expired_in, so the next expiry refreshes again", async () => {
    // Deadlines already in the past (no clock to wait for): every `token` must refresh, as long
    // as each refresh answer's expired_in is kept.
    const { fake, box } = await minimaxLogin({ intervalMs: 500, accessTokenTtlMs: -1000 });
    const first = await box.run(["token", "minimax"]);
    expectOk(first);
    expect(fake.counts.refresh).toBe(1);
    const afterFirst = Number(store(box).minimax!.expires_at);
    expect(afterFirst).toBeGreaterThan(Date.now() - 60_000);
    expect(afterFirst).toBeLessThan(Date.now());
    expectOk(await box.run(["token", "minimax"]));
    expect(fake.counts.refresh).toBe(2);
    expect(first.stdout.trim()).toBe(fake.issued.accessTokens[1]!);
  }, 30_000);

  test("a refresh token MiniMax refuses (4xx) marks the login as needing renewal", async () => {
    const { fake, box } = await minimaxLogin({ intervalMs: 500, accessTokenTtlMs: -1000 });
    // Spend the stored refresh token behind authctl's back: the fake rotates, so it is now dead.
    const stored = String(store(box).minimax!.refresh_token);
    await fetch(`${fake.url}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: stored,
        client_id: "d38bdbee-2b8c-4c74-9a9c-5875fabe6317",
      }),
    });
    const result = await box.run(["token", "minimax"]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("MiniMax refused the refresh");
    expect(store(box).minimax!.needs_login).toBe(true);
  }, 30_000);

  test("a state that does not come back as sent ends the login", async () => {
    const fake = startMiniMaxFake({ state: "wrong" });
    cleanups.push(() => fake.stop());
    const box = sandbox(
      `[providers.minimax]\ndevice_authorization_url = "${fake.url}/oauth2/device/code"\ntoken_url = "${fake.url}/oauth2/token"\n`,
    );
    const result = await box.run(["login", "minimax", "--method", "coding-plan"]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("different state");
  });
});

describe("qwen (legacy: device flow + PKCE, 429 as slow_down)", () => {
  // The login itself (no interval: the 5 s default; PKCE, resource_url, the legacy notice) is
  // test/actions/oauth-clock.test.ts, on the fake clock: through the binary it waited 5 real seconds.

  test("the closed free tier is reported with the server's words", async () => {
    const fake = startQwenFake({ discontinued: true });
    cleanups.push(() => fake.stop());
    const box = sandbox(
      `[providers.qwen]\ndevice_authorization_url = "${fake.url}/api/v1/oauth2/device/code"\ntoken_url = "${fake.url}/api/v1/oauth2/token"\n`,
    );
    const result = await box.run(["login", "qwen"]);
    // Qwen refuses the login (403 access_denied): authentication failed.
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("free tier");
  });
});

/** A Google fake, a sandbox pointed at it, and a code-assist login through a following browser. */
async function geminiLogin(options: Parameters<typeof startGoogleFake>[0] = {}) {
  const fake = startGoogleFake(options);
  cleanups.push(() => fake.stop());
  const box = sandbox(
    `[providers.gemini]\nauthorize_url = "${fake.url}/o/oauth2/v2/auth"\ntoken_url = "${fake.url}/token"\n`,
  );
  const browser = writeFollowingBrowser(box.root);
  const login = await box.run(["login", "gemini", "--method", "code-assist"], {
    env: { BROWSER: browser, CODE_ASSIST_ENDPOINT: fake.url },
  });
  expectOk(login);
  return { fake, box, login };
}

describe("gemini --method code-assist (Google installed-app flow)", () => {
  test("logs in with the public client secret, finds the Code Assist project, exports the GCA variables", async () => {
    const { box, login } = await geminiLogin();
    expect(login.stderr).toContain("Google forbids");
    const cred = store(box).gemini!;
    expect(cred).toMatchObject({ method: "code-assist", type: "oauth" });
    expect(typeof cred.refresh_token).toBe("string");
    const out = (await box.run(["env", "gemini"])).stdout;
    expect(out).toBe(
      `export GOOGLE_CLOUD_ACCESS_TOKEN='${cred.access_token}'\nexport GOOGLE_GENAI_USE_GCA='true'\nexport GOOGLE_CLOUD_PROJECT='proj-123'\n`,
    );
  });

  test("--format github-env masks the token, never the constant GOOGLE_GENAI_USE_GCA=true (the runner would hide every 'true' in the log)", async () => {
    const { box } = await geminiLogin();
    const cred = store(box).gemini!;
    const file = join(box.root, "github_env");
    const result = await box.run(["env", "gemini", "--format", "github-env"], { env: { GITHUB_ENV: file } });
    expectOk(result);
    expect(result.stdout).toContain(`::add-mask::${cred.access_token}\n`);
    expect(result.stdout).not.toContain("::add-mask::true\n");
    expect(readFileSync(file, "utf8")).toMatch(/^GOOGLE_GENAI_USE_GCA<<(ghadelimiter_[0-9a-f]+)\ntrue\n\1$/m);
  });

  test("a new account without a tier is onboarded (onboardUser on the default free tier, no project sent) and gets its project", async () => {
    const { fake, box } = await geminiLogin({ onboarded: false, project: "managed-proj-7" });
    expect(fake.counts.onboardUser).toBe(1);
    const onboard = fake.requests.find((r) => r.path === "/v1internal:onboardUser")!;
    expect(onboard.body.tierId).toBe("free-tier");
    expect(onboard.body.cloudaicompanionProject).toBeUndefined();
    expect((await box.run(["env", "gemini"])).stdout).toContain(
      "export GOOGLE_CLOUD_PROJECT='managed-proj-7'\n",
    );
  });

  // An onboarding that is not done at once (polled 5 s later) is test/actions/oauth-clock.test.ts,
  // on the fake clock: through the binary it waited 5 real seconds.

  test("refresh keeps the refresh token Google does not resend", async () => {
    // A token that expires a millisecond after it is issued: expired on the real clock by the
    // time `token` runs, without a sleep (this provider's one real-expiry case).
    const { fake, box } = await geminiLogin({ accessTokenTtl: 0.001 });
    const before = store(box).gemini!;
    expect(Number(before.expires_at)).toBeLessThan(Date.now());
    fake.options.accessTokenTtl = undefined;
    expectOk(await box.run(["token", "gemini"]));
    const after = store(box).gemini!;
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).toBe(before.refresh_token);
  });
});
