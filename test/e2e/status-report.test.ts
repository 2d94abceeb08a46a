import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

/** `status` and `providers` as a person and a script read them: streams, wording, exit codes. */
const KEY = secret("sk-or-v1-status0123456789abcdef0123456789abcdef0123456789abcdef01234");
const CORP = secret("corp-key-status-0123456789abcdef");
const ACCESS = secret("status-access-token-0123456789abcdef");
const REFRESH = secret("status-refresh-token-0123456789abcdef");
const HOUR = 3_600_000;

let box: Sandbox;
beforeAll(() => ensureBinary());
beforeEach(async () => {
  box = createSandbox();
  expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
});
afterEach(() => box.cleanup());

const storePath = () => join(box.home, "credentials.toml");
/** An OAuth credential written as the file store keeps it, with an expiry relative to now. */
function storeOAuth(
  id: string,
  method: string,
  fields: { expiresIn: number; refresh?: boolean; needsLogin?: boolean; account?: string },
): void {
  const now = Date.now();
  appendFileSync(
    storePath(),
    [
      "",
      `[${id}]`,
      `method = "${method}"`,
      'type = "oauth"',
      `access_token = "${ACCESS}"`,
      ...(fields.refresh ? [`refresh_token = "${REFRESH}"`] : []),
      `expires_at = ${now + fields.expiresIn}`,
      ...(fields.account ? [`account = "${fields.account}"`] : []),
      ...(fields.needsLogin ? ["needs_login = true"] : []),
      `obtained_at = ${now - HOUR}`,
      `created_at = ${now - HOUR}`,
      `updated_at = ${now - HOUR}`,
      "",
    ].join("\n"),
  );
}

describe("results go to stdout", () => {
  test("`providers | grep` and `status | less` see the result; stderr stays empty", async () => {
    const providers = await box.run(["providers"]);
    expectOk(providers);
    expect(
      providers.stdout.split("\n").some((line) => /^\s*\S*\s*groq\s/.test(line) || line.includes(" groq ")),
    ).toBe(true);
    expect(providers.stdout).toMatch(/✓ openrouter/);
    expect(providers.stderr).toBe("");
    const status = await box.run(["status"]);
    expectOk(status);
    expect(status.stdout).toContain("OpenRouter (openrouter)");
    expect(status.stderr).toBe("");
  });
});

describe("status reads like a person wrote it", () => {
  test("a key, an account name, a relative expiry, alphabetical order", async () => {
    storeOAuth("openai", "chatgpt", {
      expiresIn: 3 * HOUR + 60_000,
      refresh: true,
      account: "alice@example.com",
    });
    const result = await box.run(["status"]);
    expectOk(result);
    expect(result.stdout).toContain(`✓ logged in with a key …${KEY.slice(-4)}`);
    expect(result.stdout).toContain(
      `✓ logged in with an account login (chatgpt) …${ACCESS.slice(-4)} as alice@example.com`,
    );
    expect(result.stdout).toContain("access token expires in 3 h; refreshed automatically");
    expect(result.stdout.indexOf("OpenAI (openai)")).toBeLessThan(
      result.stdout.indexOf("OpenRouter (openrouter)"),
    );
  });

  test("a provider that is not logged in is said once", async () => {
    const result = await box.run(["status", "xai"]);
    expect(result.code).toBe(4);
    expect((result.stdout + result.stderr).match(/not logged in/g)).toHaveLength(1);
    expect(result.stdout).toContain("✗ not logged in — run 'authctl login xai'");
  });
});

describe("expired and unusable credentials", () => {
  test("an expired token without a refresh token says expired and exits 4; with one it will be refreshed (0)", async () => {
    storeOAuth("anthropic", "claude", { expiresIn: -2 * HOUR });
    const dead = await box.run(["status"]);
    expect(dead.code).toBe(4);
    expect(dead.stdout).toContain(
      `✗ logged in with an account login (claude) …${ACCESS.slice(-4)}, but it cannot be used now:`,
    );
    expect(dead.stdout).toContain(
      "✗ expired 2 h ago and cannot be refreshed (no refresh token) — run 'authctl login anthropic'",
    );
    const json = JSON.parse((await box.run(["status", "anthropic", "--json"])).stdout).providers[0];
    expect(json).toMatchObject({ id: "anthropic", expired: true, refreshable: false, usable: false });

    storeOAuth("openai", "chatgpt", { expiresIn: -2 * HOUR, refresh: true });
    const refreshable = await box.run(["status", "openai"]);
    expectOk(refreshable);
    expect(refreshable.stdout).toContain("access token expired 2 h ago; refreshed on next use");
  });

  test("without arguments, one login that needs renewal makes the exit code 4", async () => {
    storeOAuth("anthropic", "claude", { expiresIn: HOUR, refresh: true, needsLogin: true });
    const result = await box.run(["status"]);
    expect(result.code).toBe(4);
    expect(result.stdout).toContain(
      "✗ needs a new login: the provider refused the last refresh — run 'authctl login anthropic'",
    );
    expect(result.stdout).toContain("✓ logged in with a key"); // the other one is still fine
    expect(
      JSON.parse((await box.run(["status", "--json"])).stdout).providers.map(
        (p: { id: string; usable: boolean }) => [p.id, p.usable],
      ),
    ).toEqual([
      ["anthropic", false],
      ["openrouter", true],
    ]);
  });
});

describe("a credential whose provider was removed from config.toml", () => {
  beforeEach(async () => {
    box.writeConfig('[providers.mycorp]\nname = "MyCorp"\nenv = { MYCORP_API_KEY = "key" }\n');
    expectOk(await box.run(["login", "mycorp", "--with-key", "--no-verify"], { stdin: CORP }));
    box.writeConfig("");
  });

  test("status lists it as no longer configured (exit 4), by name too", async () => {
    const all = await box.run(["status"]);
    expect(all.code).toBe(4);
    expect(all.stdout).toContain(
      `mycorp — account default, the default\n  ✗ provider no longer configured: a key …${CORP.slice(-4)} is stored`,
    );
    expect(all.stdout).toContain("run 'authctl logout mycorp' to remove it");
    const named = await box.run(["status", "mycorp", "--json"]);
    expect(named.code).toBe(4);
    expect(JSON.parse(named.stdout).providers[0]).toMatchObject({
      id: "mycorp",
      configured: false,
      usable: false,
      secret: `…${CORP.slice(-4)}`,
    });
  });

  test("logout <id> removes it; logout --all removes it with the rest and says which it was", async () => {
    const one = await box.run(["logout", "mycorp"]);
    expectOk(one);
    expect(readFileSync(storePath(), "utf8")).not.toContain("[mycorp]");
    expect(readFileSync(storePath(), "utf8")).toContain("[openrouter]");

    box.writeConfig('[providers.mycorp]\nname = "MyCorp"\nenv = { MYCORP_API_KEY = "key" }\n');
    expectOk(await box.run(["login", "mycorp", "--with-key", "--no-verify"], { stdin: CORP }));
    box.writeConfig("");
    const all = await box.run(["logout", "--all"]);
    expectOk(all);
    expect(all.stderr).toContain("logged out of mycorp (a provider no longer in config.toml)");
    expect(all.stderr).toContain("logged out of OpenRouter");
  });
});
