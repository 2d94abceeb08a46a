import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startAnthropicFake } from "../fakes/anthropic.ts";
import { startGitHubFake, GITHUB_USER_CODE } from "../fakes/github.ts";
import { startKeyApi, type KeyApi } from "../fakes/key-api.ts";
import { startOpenRouterFake, type OpenRouterFake } from "../fakes/openrouter.ts";
import { BINARY, createSandbox, ensureBinary, secret, writeScript, type Sandbox } from "../helpers/binary.ts";
import { hasTmux, openTerminal, type Terminal } from "../helpers/tmux.ts";

/**
 * Everything a person does at a prompt, in a real terminal (tmux), through the built binary.
 * Commands run as `authctl … && echo AFTER-OK` where the shell's view of the exit matters: a
 * cancelled login must not let the next command run.
 */
const KEY = secret("sk-or-v1-tty0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
const GROQ_KEY = secret("gsk_tty0123456789abcdef0123456789abcdef0123");
let api: KeyApi;
let box: Sandbox;
let term: Terminal | undefined;
const cleanups: Array<() => void> = [];
beforeAll(async () => {
  await ensureBinary();
  api = startKeyApi();
});
beforeEach(() => {
  box = createSandbox();
  box.writeConfig(
    `[providers.openrouter]\napi_url = "${api.url}/api/v1"\n[providers.groq]\napi_url = "${api.url}/openai/v1"\n`,
  );
});
afterEach(() => {
  term?.kill();
  term = undefined;
  for (const c of cleanups.splice(0)) c();
  box.cleanup();
});

const credentialsPath = () => join(box.home, "credentials.toml");
const stored = () => (existsSync(credentialsPath()) ? readFileSync(credentialsPath(), "utf8") : "");
/** tmux wraps long lines at the pane width; joining the lines gives back long URLs. */
const joined = (screen: string) =>
  screen
    .split("\n")
    .map((l) => l.replace(/\s+$/, ""))
    .join("");

async function expectCancelled(t: Terminal): Promise<void> {
  const code = await t.exitCode();
  if (code !== 2) throw new Error(`exit ${code}, expected 2; screen:\n${t.screen()}`);
  expect(t.screen()).not.toContain("AFTER-OK");
}

/** OpenRouter's PKCE login against its fake, with a BROWSER that only records the URL (it opened, but never comes back). */
function openRouterLogin(): { fake: OpenRouterFake; opened: string } {
  const fake = startOpenRouterFake();
  cleanups.push(() => fake.stop());
  box.writeConfig(
    `[providers.openrouter]\nauthorize_url = "${fake.url}/auth"\ntoken_url = "${fake.url}/api/v1/auth/keys"\napi_url = "${fake.url}/api/v1"\n`,
  );
  const opened = join(box.root, "opened-url");
  box.env.BROWSER = writeScript(box.root, "record-browser.sh", `#!/bin/sh\nprintf %s "$1" > '${opened}'\n`);
  return { fake, opened };
}

/** What the browser's address bar shows after the provider's page: the redirect URL with the code. */
async function redirectFromProvider(openedFile: string): Promise<string> {
  for (let i = 0; i < 200 && !existsSync(openedFile); i++) await Bun.sleep(50);
  const answer = await fetch(readFileSync(openedFile, "utf8"), { redirect: "manual" });
  const landing = answer.headers.get("location");
  if (!landing) throw new Error(`the fake did not redirect (${answer.status})`);
  return landing;
}

describe.skipIf(!hasTmux)("in a real terminal", () => {
  test("login with no provider: how, then a provider list that filters as you type, then a masked key prompt", async () => {
    term = openTerminal(`${BINARY} login`, box.env, box.root);
    await term.waitFor("How do you want to log in?");
    term.type("Down");
    await term.waitFor("Paste an API key");
    term.type("Enter");
    await term.waitFor("Which provider is the key for?");
    term.type("-l", "openr");
    const filtered = await term.waitFor("1 match");
    expect(filtered).toContain("OpenRouter");
    expect(filtered).not.toContain("Groq");
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
    expect(stored()).toContain(KEY);
  });

  test("Enter on a filter that matches nothing says so and keeps the list; a better filter goes on", async () => {
    term = openTerminal(`${BINARY} login`, box.env, box.root);
    await term.waitFor("How do you want to log in?");
    term.type("Down", "Enter");
    await term.waitFor("Which provider is the key for?");
    term.type("-l", "zzz");
    await term.waitFor("0 matches");
    term.type("Enter");
    await term.waitFor("nothing matches: delete a few letters");
    term.type("BSpace", "BSpace", "BSpace");
    term.type("-l", "groq");
    await term.waitFor("1 match");
    term.type("Enter");
    await term.waitFor("Groq API key");
    term.type("C-c");
    expect(await term.exitCode()).toBe(2);
    expect(term.screen()).not.toContain("internal error");
  });

  test("a key pasted across a line break is read whole (bracketed paste) and joined as --with-key does", async () => {
    term = openTerminal(`${BINARY} login openrouter --method key && echo AFTER-OK`, box.env, box.root);
    await term.waitFor("OpenRouter API key");
    // A terminal that wrapped the key copies the wrap as a line break; the paste ends with one too.
    term.paste(`${KEY.slice(0, 40)}\n${KEY.slice(40)}\n`);
    await term.waitFor("•••");
    // The line break inside the paste did not submit the prompt.
    expect(term.screen()).toContain("◆  OpenRouter API key");
    term.type("Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.screen()).toContain("removed whitespace inside the key");
    expect(term.screen()).toContain("AFTER-OK");
    expect(stored()).toContain(`key = "${KEY}"`);
  });

  test("an empty key and a refused key are asked again; the third mistake ends with exit 4 and nothing stored", async () => {
    const revoked = secret("sk-or-v1-revoked0123456789abcdef0123456789abcdef");
    term = openTerminal(`${BINARY} login openrouter --method key && echo AFTER-OK`, box.env, box.root);
    await term.waitFor("OpenRouter API key");
    term.type("Enter");
    await term.waitFor("try 2 of 3");
    expect(term.screen()).toContain("nothing was pasted: paste the key again, or press Ctrl-C to stop");
    term.type("-l", revoked);
    term.type("Enter");
    const second = await term.waitFor("try 3 of 3");
    expect(second).toContain("OpenRouter rejected the key (HTTP 401: User not found.)");
    // At a prompt the way on is to paste again, not a command-line flag.
    expect(second).not.toContain("--no-verify");
    term.type("-l", revoked);
    term.type("Enter");
    const code = await term.exitCode();
    if (code !== 4) throw new Error(`exit ${code}; screen:\n${term.screen()}`);
    expect(joined(term.screen())).toContain("authctl: no OpenRouter key after 3 tries");
    expect(term.screen()).not.toContain("AFTER-OK");
    expect(stored()).toBe("");
  });

  test("a refused key, then a good one: the login goes on and stores the good one", async () => {
    const revoked = secret("sk-or-v1-revoked0123456789abcdef0123456789abcdef");
    term = openTerminal(`${BINARY} login openrouter --method key`, box.env, box.root);
    await term.waitFor("OpenRouter API key");
    term.type("-l", revoked);
    term.type("Enter");
    await term.waitFor("try 2 of 3");
    term.type("-l", KEY);
    term.type("Enter");
    expect(await term.exitCode()).toBe(0);
    expect(stored()).toContain(KEY);
    expect(stored()).not.toContain(revoked);
  });

  test("login <provider> with several methods offers them, each with its note; the choice is the method used", async () => {
    term = openTerminal(
      `${BINARY} login anthropic && echo AFTER-OK`,
      { ...box.env, BROWSER: "/bin/true" },
      box.root,
    );
    const screen = await term.waitFor("How do you want to log in to Anthropic?");
    expect(screen).toContain("API key");
    expect(screen).toContain("Log in to the Anthropic Console");
    expect(screen).toContain("Claude Pro/Max subscription");
    // The highlighted row shows its note.
    expect(screen).toContain("console.anthropic.com, billed per use");
    term.type("Down", "Down");
    const claude = await term.waitFor("only inside");
    expect(joined(claude)).toContain("Anthropic allows Claude Pro/Max tokens only inside Claude Code");
    expect(joined(claude)).toContain("policy: first-party client only");
    term.type("Enter");
    // The subscription login's authorize URL: shown whether the login then waits on port 53692
    // or, when another program holds that port, asks for the address to be pasted (both are
    // this method's behaviour; a parallel test run held the port once).
    const waiting = await term.waitFor("https://claude.ai/oauth/authorize?");
    expect(joined(waiting)).toContain("client_id=9d1c250a-e61b-44d9-88ed-5944d1962f5e");
    term.type("C-c");
    await expectCancelled(term);
  });

  test("the account-login picker asks which of Anthropic's two account logins instead of taking the first", async () => {
    term = openTerminal(`${BINARY} login`, { ...box.env, BROWSER: "/bin/true" }, box.root);
    await term.waitFor("How do you want to log in?");
    term.type("Enter");
    await term.waitFor("Log in to which provider?");
    term.type("-l", "anthropic");
    await term.waitFor("1 match");
    term.type("Enter");
    const screen = await term.waitFor("How do you want to log in to Anthropic?");
    expect(screen).toContain("Log in to the Anthropic Console");
    expect(screen).toContain("Claude Pro/Max subscription");
    expect(screen).not.toContain("○ API key");
    term.type("C-c");
    await expectCancelled(term);
  });

  test("after the browser opens it says what to do if it never comes back, and takes the pasted redirect URL", async () => {
    const { fake, opened } = openRouterLogin();
    term = openTerminal(`${BINARY} login openrouter --method oauth && echo AFTER-OK`, box.env, box.root);
    const screen = await term.waitFor("Waiting for the browser");
    expect(joined(screen)).toContain(
      "Waiting for the browser… paste the redirect URL here if it does not come back · Ctrl-C to cancel",
    );
    term.paste(await redirectFromProvider(opened));
    term.type("Enter");
    const code = await term.exitCode(20_000);
    if (code !== 0) throw new Error(`exit ${code}; screen:\n${term.screen()}`);
    expect(stored()).toContain(fake.issuedKeys[0]!.key);
  });

  test("a pasted redirect URL from another attempt (state differs) is asked again; three of them end with exit 4", async () => {
    const fake = startAnthropicFake();
    cleanups.push(() => fake.stop());
    box.writeConfig(
      `[providers.anthropic]\nauthorize_url = "${fake.url}/oauth/authorize"\ntoken_url = "${fake.url}/v1/oauth/token"\napi_url = "${fake.url}"\nredirect_port = 0\n`,
    );
    const opened = join(box.root, "opened-url");
    box.env.BROWSER = writeScript(box.root, "record-browser.sh", `#!/bin/sh\nprintf %s "$1" > '${opened}'\n`);
    term = openTerminal(`${BINARY} login anthropic --method console && echo AFTER-OK`, box.env, box.root);
    await term.waitFor("Waiting for the browser");
    const landing = new URL(await redirectFromProvider(opened));
    expect(landing.searchParams.get("code")).toBeTruthy();
    // What the address bar showed for an earlier attempt: a real code, another state.
    landing.searchParams.set("state", "another-attempt");
    for (const attempt of [2, 3]) {
      term.paste(landing.href);
      term.type("Enter");
      const screen = await term.waitFor(`try ${attempt} of 3`);
      expect(joined(screen)).toContain(
        "that URL belongs to another login attempt (its state does not match)",
      );
    }
    term.paste(landing.href);
    term.type("Enter");
    const code = await term.exitCode();
    if (code !== 4) throw new Error(`exit ${code}; screen:\n${term.screen()}`);
    expect(term.screen()).not.toContain("AFTER-OK");
    expect(fake.counts.token).toBe(0);
    expect(stored()).toBe("");
  });

  test("a device-code approval while the wait spins: approved, stored, exit 0", async () => {
    const fake = startGitHubFake({ interval: 1 });
    cleanups.push(() => fake.stop());
    box.writeConfig(
      `[providers.github-copilot]\ndevice_authorization_url = "${fake.url}/login/device/code"\ntoken_url = "${fake.url}/login/oauth/access_token"\napi_url = "${fake.apiUrl}"\n`,
    );
    term = openTerminal(`${BINARY} login github-copilot --method github && echo AFTER-OK`, box.env, box.root);
    const screen = await term.waitFor("waiting for approval");
    expect(screen).toContain("Ctrl-C to cancel");
    // Keys typed while it waits neither echo into the line nor end the wait.
    term.type("-l", "xyz");
    term.type("Enter");
    fake.approve(GITHUB_USER_CODE);
    const code = await term.exitCode(20_000);
    if (code !== 0) throw new Error(`exit ${code}; screen:\n${term.screen()}`);
    expect(term.screen()).toContain("approved");
    expect(term.screen()).toContain("AFTER-OK");
    expect(term.screen()).not.toContain("xyz");
    expect(stored()).toContain("[github-copilot]");
  });

  describe("Ctrl-C is a cancel (exit 2, the next command does not run, nothing stored) at every prompt and wait", () => {
    test("the how-to-log-in picker", async () => {
      term = openTerminal(`${BINARY} login && echo AFTER-OK`, box.env, box.root);
      await term.waitFor("How do you want to log in?");
      term.type("C-c");
      await expectCancelled(term);
    });

    test("the provider list while filtering", async () => {
      term = openTerminal(`${BINARY} login && echo AFTER-OK`, box.env, box.root);
      await term.waitFor("How do you want to log in?");
      term.type("Enter");
      await term.waitFor("Log in to which provider?");
      term.type("-l", "co");
      // Names whose words start with what was typed (Copilot, Code); hints are not searched.
      const filtered = await term.waitFor("2 matches");
      expect(filtered).toContain("GitHub Copilot");
      expect(filtered).toContain("Kimi Code");
      expect(filtered).not.toContain("OpenAI");
      term.type("C-c");
      await expectCancelled(term);
    });

    test("the method picker", async () => {
      term = openTerminal(`${BINARY} login openai && echo AFTER-OK`, box.env, box.root);
      await term.waitFor("How do you want to log in to OpenAI?");
      term.type("C-c");
      await expectCancelled(term);
    });

    test("the masked key prompt, with part of a key typed", async () => {
      term = openTerminal(`${BINARY} login openrouter --method key && echo AFTER-OK`, box.env, box.root);
      await term.waitFor("OpenRouter API key");
      term.type("-l", "sk-or-v1-partial");
      term.type("C-c");
      await expectCancelled(term);
      expect(stored()).toBe("");
    });

    // The terminal's SIGINT reaches the shell too here (no prompt holds the terminal raw): only a
    // shell that waits for its child, as bash does, lets authctl's exit 2 through.
    test.skipIf(!Bun.which("bash"))("while the provider checks the key", async () => {
      let arrived = 0;
      const hanging = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: () => (arrived++, new Promise<Response>(() => {})),
      });
      cleanups.push(() => hanging.stop(true));
      box.writeConfig(`[providers.groq]\napi_url = "http://127.0.0.1:${hanging.port}/openai/v1"\n`);
      term = openTerminal(`${BINARY} login groq && echo AFTER-OK`, box.env, box.root);
      await term.waitFor("Groq API key");
      term.type("-l", GROQ_KEY);
      term.type("Enter");
      for (let i = 0; i < 200 && arrived === 0; i++) await Bun.sleep(50);
      expect(arrived).toBe(1);
      term.type("C-c");
      await expectCancelled(term);
      expect(stored()).toBe("");
    });

    test("while waiting for a device-code approval", async () => {
      const fake = startGitHubFake({ interval: 1 });
      cleanups.push(() => fake.stop());
      box.writeConfig(
        `[providers.github-copilot]\ndevice_authorization_url = "${fake.url}/login/device/code"\ntoken_url = "${fake.url}/login/oauth/access_token"\napi_url = "${fake.apiUrl}"\n`,
      );
      term = openTerminal(
        `${BINARY} login github-copilot --method github && echo AFTER-OK`,
        box.env,
        box.root,
      );
      await term.waitFor(GITHUB_USER_CODE);
      await term.waitFor("waiting for approval");
      term.type("C-c");
      await expectCancelled(term);
      expect(term.screen()).toContain("login cancelled");
      // An approval after the cancel stores nothing either.
      fake.approve(GITHUB_USER_CODE);
      await Bun.sleep(300);
      expect(stored()).toBe("");
    });

    test("while waiting for the browser to come back", async () => {
      const { opened } = openRouterLogin();
      term = openTerminal(`${BINARY} login openrouter --method oauth && echo AFTER-OK`, box.env, box.root);
      await term.waitFor("Waiting for the browser");
      expect(existsSync(opened)).toBe(true);
      term.type("C-c");
      await expectCancelled(term);
      expect(stored()).toBe("");
    });

    test("the logout picker", async () => {
      await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY });
      term = openTerminal(`${BINARY} logout && echo AFTER-OK`, box.env, box.root);
      await term.waitFor("Log out of which provider?");
      term.type("C-c");
      await expectCancelled(term);
      expect(stored()).toContain(KEY);
    });
  });

  test('eval "$(authctl env groq)" for a provider not yet logged in runs its login on the terminal first; only the export reaches the eval', async () => {
    term = openTerminal(
      `eval "$(${BINARY} env groq)" && printf 'GOT[%s]\\n' "$GROQ_API_KEY" | sed 's/gsk_tty0123456789/REDACTED/'`,
      box.env,
      box.root,
    );
    await term.waitFor("Groq API key");
    term.type("-l", GROQ_KEY);
    term.type("Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.screen()).toContain(`GOT[REDACTED${GROQ_KEY.slice(17)}]`);
  });

  test("logout with no provider: Enter takes the highlighted login, and only that one", async () => {
    await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY });
    await box.run(["login", "groq", "--with-key", "--no-verify"], { stdin: GROQ_KEY });
    term = openTerminal(`${BINARY} logout`, box.env, box.root);
    const screen = await term.waitFor("Log out of which provider?");
    expect(screen).toContain("All of them");
    term.type("Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.screen()).toMatch(/logged out of (OpenRouter|Groq)/);
    const left = stored();
    expect([left.includes("[openrouter]"), left.includes("[groq]")].sort()).toEqual([false, true]);
  });

  test("logout with no provider: the last row logs out of all of them", async () => {
    await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY });
    await box.run(["login", "groq", "--with-key", "--no-verify"], { stdin: GROQ_KEY });
    term = openTerminal(`${BINARY} logout`, box.env, box.root);
    await term.waitFor("All of them");
    term.type("Up");
    term.type("Enter");
    expect(await term.exitCode()).toBe(0);
    expect(stored()).not.toContain("[openrouter]");
    expect(stored()).not.toContain("[groq]");
  });
});
