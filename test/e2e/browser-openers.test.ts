/**
 * How `login` opens the browser (src/io/browser.ts), through the binary against the OAuth fake:
 * `$BROWSER` as a colon-separated list tried in order, `%s` standing for the URL, and xdg-open
 * when `$BROWSER` is unset on a Linux desktop (issue 12: the fallbacks had no test).
 */
import { afterEach, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FAKE_CLIENT_ID, startOAuthFake, type OAuthFake } from "../fakes/oauth-fake.ts";
import {
  createSandbox,
  ensureBinary,
  expectOk,
  ROOT,
  secret,
  writeScript,
  type Sandbox,
} from "../helpers/binary.ts";

let fake: OAuthFake;
let box: Sandbox;
beforeAll(() => ensureBinary());
afterEach(() => {
  fake?.stop();
  box?.cleanup();
});

function setup(): { follow: string } {
  fake = startOAuthFake({ accessTokenTtl: 3600 });
  box = createSandbox();
  box.writeConfig(
    `[providers.fake]\nname = "Fake"\nissuer = "${fake.url}"\nclient_id = "${FAKE_CLIENT_ID}"\nscopes = ["openid"]\nenv = { FAKE_TOKEN = "access_token" }\n`,
  );
  // Follows the authorize URL like a browser that approves at once, and records that it ran.
  const follow = writeScript(
    box.root,
    "follow.sh",
    `#!/bin/sh\necho "$1" > "${join(box.root, "opened-by-follow")}"\nexec "${process.execPath}" "${join(ROOT, "test/fakes/browser-follow.ts")}" "$1"\n`,
  );
  return { follow };
}

test("$BROWSER is a list: an opener that fails is skipped and the next one is used", async () => {
  const { follow } = setup();
  const failing = writeScript(
    box.root,
    "failing.sh",
    `#!/bin/sh\ntouch "${join(box.root, "tried-failing")}"\nexit 3\n`,
  );
  expectOk(await box.run(["login", "fake"], { env: { BROWSER: `${failing}:${follow}` }, timeoutMs: 30_000 }));
  expect(existsSync(join(box.root, "tried-failing"))).toBe(true);
  expect(readFileSync(join(box.root, "opened-by-follow"), "utf8")).toStartWith(`${fake.url}/`);
  expect(fake.counts.token).toBeGreaterThanOrEqual(1);
}, 40_000);

test("%s in $BROWSER stands for the URL, quoted as one argument; the URL goes to stderr as well, nothing to stdout", async () => {
  const { follow } = setup();
  const login = await box.run(["login", "fake"], { env: { BROWSER: `${follow} %s` }, timeoutMs: 30_000 });
  expectOk(login);
  const opened = readFileSync(join(box.root, "opened-by-follow"), "utf8").trim();
  // The whole URL, query and all: an unquoted & would have cut it at the first parameter.
  expect(opened).toContain("code_challenge=");
  expect(opened).toContain("state=");
  // Contract (Opening the browser): the URL always goes to stderr as well, for a browser elsewhere.
  expect(login.stderr).toContain(`\n  ${opened}\n`);
  expect(login.stdout).toBe("");
}, 40_000);

test("without $BROWSER on a Linux desktop (DISPLAY set), xdg-open from PATH is used", async () => {
  const { follow } = setup();
  const bin = join(box.root, "bin");
  mkdirSync(bin);
  writeScript(bin, "xdg-open", `#!/bin/sh\nexec "${follow}" "$1"\n`);
  const env = {
    BROWSER: undefined,
    DISPLAY: ":0",
    SSH_CONNECTION: undefined,
    SSH_TTY: undefined,
    PATH: `${bin}:${process.env.PATH}`,
  };
  expectOk(await box.run(["login", "fake"], { env, timeoutMs: 30_000 }));
  expect(readFileSync(join(box.root, "opened-by-follow"), "utf8")).toStartWith(`${fake.url}/`);
}, 40_000);

test("the browser gets the environment without authctl's own secrets (AUTHCTL_PASSPHRASE, AUTHCTL_ETCD_*), as exec's child does", async () => {
  const { follow } = setup();
  const seen = join(box.root, "browser-env");
  const recording = writeScript(
    box.root,
    "recording.sh",
    `#!/bin/sh\nenv > "${seen}"\nexec "${follow}" "$1"\n`,
  );
  // A browser started by the opener lives on after the login (and starts helpers of its own): with
  // the passphrase in its environment, any of them could open the whole store.
  const secrets = {
    AUTHCTL_PASSPHRASE: secret("browser-env passphrase 0123456789"),
    AUTHCTL_ETCD_PASSWORD: secret("browser-env-etcd-password-0123"),
    AUTHCTL_ETCD_KEY: secret("YnJvd3Nlci1lbnYtZXRjZC1rZXktMDEyMzQ1Njc4OWFi"),
  };
  expectOk(await box.run(["login", "fake"], { env: { BROWSER: recording, ...secrets }, timeoutMs: 30_000 }));
  const env = readFileSync(seen, "utf8");
  for (const [name, value] of Object.entries(secrets)) {
    expect(env).not.toContain(`${name}=`);
    expect(env).not.toContain(value);
  }
  expect(env).toContain(`AUTHCTL_HOME=${box.home}\n`); // not a secret: left as it is
}, 40_000);
