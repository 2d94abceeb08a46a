import { describe, expect, test } from "bun:test";
import { answerUsualCase, type UsualRequest } from "../../src/actions/usual-case.ts";
import { BACKEND_NAMES } from "../../src/store/backends.ts";
import { serializeCredentialsFile } from "../../src/store/credentials-file-write.ts";
import { LOCAL_STORE_NAMES } from "../../src/store/files.ts";
import type { StoredCredential } from "../../src/store/types.ts";

/**
 * The usual-case lane (src/actions/usual-case.ts) is held to the full path through the binary by
 * test/e2e/usual-case.test.ts. These are the few facts it keeps in its own words.
 */
describe("the usual-case lane", () => {
  test("knows the local store's backends by the names the store registers", () => {
    expect([...LOCAL_STORE_NAMES].sort()).toEqual([...BACKEND_NAMES].sort());
  });

  const now = 1_800_000_000_000;
  const store = (credentials: Record<string, Partial<StoredCredential>>) =>
    serializeCredentialsFile({
      version: 1,
      credentials: credentials as Record<string, StoredCredential>,
      preserved: {},
    });
  const key = (value: string): Partial<StoredCredential> => ({
    method: "key",
    type: "api_key",
    key: value,
    created_at: now,
    updated_at: now,
  });
  const inputs = (storeText: string, configText?: string) => ({
    env: { PATH: "/usr/bin" },
    home: "/h",
    configPath: "/h/config.toml",
    storePath: "/h/credentials.toml",
    configText,
    storeText,
    now,
    cwd: () => {
      throw new Error("a test of named providers has no working directory");
    },
  });
  const env = (refs: string[]): UsualRequest => ({ command: "env", refs, format: "sh" });

  test("answers a stored key, and hands over what it does not answer", async () => {
    const text = store({ openrouter: key("sk-or-1"), "openrouter@work": key("sk-or-2") });
    expect(await answerUsualCase(env(["openrouter"]), inputs(text))).toEqual({
      stdout: "export OPENROUTER_API_KEY='sk-or-1'\n",
    });
    expect(await answerUsualCase(env(["openrouter@work"]), inputs(text))).toEqual({
      stdout: "export OPENROUTER_API_KEY='sk-or-2'\n",
    });
    // Two accounts of one provider: the full path's usage error.
    expect(await answerUsualCase(env(["openrouter", "openrouter@work"]), inputs(text))).toBeUndefined();
    // Not stored: the environment or a login, the full path's to decide.
    expect(await answerUsualCase(env(["anthropic"]), inputs(text))).toBeUndefined();
    // A config.toml with an unknown key: a warning to print.
    expect(await answerUsualCase(env(["openrouter"]), inputs(text, "stor = 1\n"))).toBeUndefined();
    // The team store.
    expect(await answerUsualCase(env(["openrouter"]), inputs(text, 'store = "etcd"\n'))).toBeUndefined();
  });

  test("hands over an OAuth token due for a refresh, and answers one that is not", async () => {
    const oauth = (expires_at: number): Partial<StoredCredential> => ({
      method: "oauth",
      type: "oauth",
      access_token: "at",
      refresh_token: "rt",
      expires_at,
      obtained_at: now - 60_000,
      created_at: now,
      updated_at: now,
    });
    const config = '[providers.mycorp]\nissuer = "https://sso.example.com"\nclient_id = "authctl"\n';
    const fresh = store({ mycorp: oauth(now + 3_600_000) });
    expect(await answerUsualCase(env(["mycorp"]), inputs(fresh, config))).toEqual({
      stdout: "export MYCORP_TOKEN='at'\n",
    });
    const due = store({ mycorp: oauth(now + 60_000) });
    expect(await answerUsualCase(env(["mycorp"]), inputs(due, config))).toBeUndefined();
    const token: UsualRequest = { command: "token", refs: ["mycorp"], minTtlMs: 2 * 3_600_000 };
    expect(await answerUsualCase(token, inputs(fresh, config))).toBeUndefined();
  });

  test("hands over a keyring record when there is no session bus to read it from", async () => {
    const { key: _stale, ...metadata } = key("sk-or-stale");
    const text = store({ openrouter: { ...metadata, secret_store: "keyring" } as Partial<StoredCredential> });
    expect(await answerUsualCase(env(["openrouter"]), inputs(text))).toBeUndefined();
    const stale = store({
      openrouter: { ...key("sk-or-stale"), secret_store: "keyring" } as Partial<StoredCredential>,
    });
    expect(await answerUsualCase(env(["openrouter"]), inputs(stale))).toBeUndefined();
  });
});
