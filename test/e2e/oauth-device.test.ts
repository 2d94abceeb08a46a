import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  FAKE_CLIENT_ID,
  startOAuthFake,
  type OAuthFake,
  type OAuthFakeOptions,
} from "../fakes/oauth-fake.ts";
import { createSandbox, ensureBinary, secret, writeScript, type Sandbox } from "../helpers/binary.ts";

/**
 * The device flow against a server that means harm or bends the rules (issue 14.8), through the
 * binary. The fake approves on its first poll; BROWSER only records what authctl opened.
 */
const boxes: Sandbox[] = [];
const fakes: OAuthFake[] = [];
afterEach(() => {
  for (const b of boxes.splice(0)) b.cleanup();
  for (const f of fakes.splice(0)) f.stop();
});
beforeAll(() => ensureBinary());

function setup(options: OAuthFakeOptions, extraConfig = "") {
  const fake = startOAuthFake({ pendingPolls: 0, ...options });
  fakes.push(fake);
  const box = createSandbox();
  boxes.push(box);
  box.writeConfig(
    `[providers.mycorp]\nname = "MyCorp"\nissuer = "${fake.url}"\nclient_id = "${FAKE_CLIENT_ID}"\nscopes = ["openid"]\n${extraConfig}env = { MYCORP_TOKEN = "access_token" }\n`,
  );
  const opened = join(box.root, "opened");
  const browser = writeScript(box.root, "browser.sh", `#!/bin/sh\nprintf '%s\\n' "$1" >> "${opened}"\n`);
  return {
    fake,
    box,
    env: { BROWSER: browser },
    opened: () => (existsSync(opened) ? readFileSync(opened, "utf8").trim().split("\n") : []),
  };
}

describe("device flow (RFC 8628) with a hostile or sloppy server", () => {
  test("terminal escapes in user_code and verification_uri never reach the terminal", async () => {
    const { box, env } = setup({
      deviceAnswer: (answer) => ({
        ...answer,
        user_code:
          "\u001b[2J\u001b[HYour account is locked: call +1-555-0100\u001b]0;pwned\u0007 WXYZ-1234\u202e",
        verification_uri: `${answer.verification_uri}\u001b[8m`,
      }),
    });
    const login = await box.run(["login", "mycorp", "--device"], { env });
    expect(login.code).toBe(0);
    expect(login.stderr).not.toMatch(/[\u001b\u0007\u202e]/);
    expect(login.stderr).toContain("Your account is locked: call +1-555-0100 WXYZ-1234");
  }, 20_000);

  test("a verification_uri_complete on another host is shown, not opened; one on the provider's host is opened", async () => {
    const foreign = setup({
      deviceAnswer: (answer) => ({
        ...answer,
        verification_uri_complete: "https://evil.example/device?user_code=ABCD-EFGH",
      }),
    });
    const login = await foreign.box.run(["login", "mycorp", "--device"], { env: foreign.env });
    expect(login.code).toBe(0);
    expect(login.stderr).toContain(
      "the server also offers https://evil.example/device?user_code=ABCD-EFGH, on a host that is not MyCorp's own; it is not opened",
    );
    expect(foreign.opened()).toEqual([]);

    const own = setup({});
    expect((await own.box.run(["login", "mycorp", "--device"], { env: own.env })).code).toBe(0);
    expect(own.opened()).toEqual([`${own.fake.url}/device?user_code=ABCD-EFGH`]);
  }, 30_000);

  // interval 0 (the 5 s default, not a busy loop) is test/actions/oauth-clock.test.ts, on the fake
  // clock: through the binary it waited 5 real seconds.

  test("a confidential client sends its secret on the device requests too", async () => {
    const clientSecret = secret("device-client-secret-0123456789");
    const { fake, box, env } = setup({ clientSecret }, `client_secret = "${clientSecret}"\n`);
    const login = await box.run(["login", "mycorp", "--device"], { env });
    expect(login.stderr).not.toContain("invalid_client");
    expect(login.code).toBe(0);
    expect(fake.counts.device).toBe(1);
  }, 20_000);
});
