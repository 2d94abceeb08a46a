import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startKeyApi, type KeyApi } from "../fakes/key-api.ts";
import { BINARY, createSandbox, ensureBinary, secret, type Sandbox } from "../helpers/binary.ts";
import { hasTmux, openTerminal, type Terminal } from "../helpers/tmux.ts";

const KEY = secret("sk-or-v1-tty0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
let api: KeyApi;
let box: Sandbox;
let term: Terminal | undefined;
beforeAll(async () => {
  await ensureBinary();
  api = startKeyApi();
});
beforeEach(() => {
  box = createSandbox();
  box.writeConfig(`[providers.openrouter]\napi_url = "${api.url}/api/v1"\n[providers.groq]\napi_url = "${api.url}/openai/v1"\n`);
});
afterEach(() => {
  term?.kill();
  term = undefined;
  box.cleanup();
});

describe.skipIf(!hasTmux)("in a real terminal", () => {
  test("login with no provider shows a picker, then a masked key prompt; the key never shows on screen", async () => {
    term = openTerminal(`${BINARY} login`, box.env, box.root);
    await term.waitFor("How do you want to log in?");
    term.type("Down");
    await term.waitFor("Paste an API key");
    term.type("Enter");
    await term.waitFor("Which provider is the key for?");
    term.type("Down", "Down", "Down");
    await term.waitFor("OpenRouter");
    term.type("Enter");
    await term.waitFor("OpenRouter API key");
    term.type("-l", KEY);
    const screen = await term.waitFor("•••");
    expect(screen).not.toContain(KEY.slice(10, 30));
    term.type("Enter");
    expect(await term.exitCode()).toBe(0);
    const final = term.screen();
    expect(final).toContain("OpenRouter accepted the key");
    expect(final).not.toContain(KEY);
    expect(readFileSync(join(box.home, "credentials.toml"), "utf8")).toContain(KEY);
  });

  test("Ctrl-C at the key prompt cancels with exit 2 and stores nothing", async () => {
    term = openTerminal(`${BINARY} login openrouter --method key`, box.env, box.root);
    await term.waitFor("OpenRouter API key");
    term.type("-l", "sk-or-v1-partial");
    term.type("C-c");
    expect(await term.exitCode()).toBe(2);
    expect(existsSync(join(box.home, "credentials.toml"))).toBe(false);
  });

  test("eval \"$(authctl env groq)\" for a provider not yet logged in runs its login on the terminal first; only the export reaches the eval", async () => {
    const groqKey = secret("gsk_tty0123456789abcdef0123456789abcdef0123");
    term = openTerminal(`eval "$(${BINARY} env groq)" && printf 'GOT[%s]\\n' "$GROQ_API_KEY" | sed 's/gsk_tty0123456789/REDACTED/'`, box.env, box.root);
    await term.waitFor("Groq API key");
    term.type("-l", groqKey);
    term.type("Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.screen()).toContain(`GOT[REDACTED${groqKey.slice(17)}]`);
  });

  test("logout with no provider offers the logged-in ones", async () => {
    await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY });
    term = openTerminal(`${BINARY} logout`, box.env, box.root);
    await term.waitFor("Log out of which providers?");
    term.type("Space");
    term.type("Enter");
    expect(await term.exitCode()).toBe(0);
    expect(readFileSync(join(box.home, "credentials.toml"), "utf8")).not.toContain("[openrouter]");
  });
});
