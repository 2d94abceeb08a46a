import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromiumAvailable } from "../fakes/chromium.ts";
import { FAKE_CLIENT_ID, startOAuthFake } from "../fakes/oauth-fake.ts";
import { startOidcServer, TEST_CLIENT_ID, type OidcServer } from "../fakes/oidc-server.ts";
import { createSandbox, ensureBinary, ROOT, writeScript, type Sandbox } from "../helpers/binary.ts";

/**
 * The loopback listener's side of the browser round trip (issue 11.1): the page that answers the
 * callback reaches the browser whole before the listener closes, with browsers that come back
 * after authctl has what it needs (a BROWSER that runs curl in the background) and in Chromium.
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

let oidc: OidcServer | undefined;
async function oidcServer(): Promise<OidcServer> {
  if (!oidc) {
    oidc = await startOidcServer();
    const server = oidc;
    stops.push(() => server.stop());
  }
  return oidc;
}

function sandbox(issuer: string, clientId: string): Sandbox {
  const box = createSandbox();
  boxes.push(box);
  box.writeConfig(
    `[providers.mycorp]\nname = "MyCorp"\nissuer = "${issuer}"\nclient_id = "${clientId}"\nscopes = ["openid"]\nenv = { MYCORP_TOKEN = "access_token" }\n`,
  );
  return box;
}

/** A BROWSER as people write them: start curl in the background and return at once. */
function curlBrowser(box: Sandbox): string {
  return writeScript(
    box.root,
    "browser.sh",
    `#!/bin/sh\n( curl -sL -b "" "$1" -o "${box.root}/page"; echo $? > "${box.root}/curl-exit" ) &\nexit 0\n`,
  );
}

async function waitForFile(path: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(path)) {
      const text = readFileSync(path, "utf8");
      if (text.trim() !== "") return text;
    }
    await Bun.sleep(50);
  }
  throw new Error(`${path} never appeared`);
}

const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, " ")
    .replace(/\s+/g, " ")
    .trim();

describe("the page the browser gets at the end of a loopback login", () => {
  test("curl in the background gets the whole success page, then the listener closes", async () => {
    const server = await oidcServer();
    const box = sandbox(server.issuer, TEST_CLIENT_ID);
    const login = await box.run(["login", "mycorp"], { env: { BROWSER: curlBrowser(box) } });
    expect(login.code).toBe(0);
    expect((await waitForFile(join(box.root, "curl-exit"))).trim()).toBe("0");
    expect(text(readFileSync(join(box.root, "page"), "utf8"))).toContain(
      "Logged in authctl has your MyCorp login. You can close this tab.",
    );
  }, 30_000);

  test("curl in the background gets the whole error page when the provider refuses", async () => {
    const fake = startOAuthFake({ authorize: "deny" });
    stops.push(() => fake.stop());
    const box = sandbox(fake.url, FAKE_CLIENT_ID);
    const login = await box.run(["login", "mycorp"], { env: { BROWSER: curlBrowser(box) } });
    expect(login.code).toBe(4);
    expect(login.stderr).toContain("access_denied");
    expect((await waitForFile(join(box.root, "curl-exit"))).trim()).toBe("0");
    expect(text(readFileSync(join(box.root, "page"), "utf8"))).toContain(
      "Login failed access_denied: The user denied the request. You can close this tab.",
    );
  }, 30_000);

  test.skipIf(!chromiumAvailable())(
    "headless Chromium shows the success page's text",
    async () => {
      const server = await oidcServer();
      const box = sandbox(server.issuer, TEST_CLIENT_ID);
      // The browser process keeps running after the opener returns, as a real one does.
      const driver = writeScript(
        box.root,
        "chromium-page.ts",
        `import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "${join(ROOT, "test/fakes/chromium.ts")}";
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
let result = "";
try {
  const page = await browser.newPage();
  await page.goto(process.argv[2], { waitUntil: "load", timeout: 20000 });
  await page.waitForURL((u) => u.pathname === "/callback", { timeout: 20000 });
  await page.waitForLoadState("load");
  result = page.url().startsWith("http://127.0.0.1") ? "URL " + new URL(page.url()).pathname + "\\n" + (await page.locator("body").innerText()) : "elsewhere " + page.url();
} catch (error) {
  result = "error " + (error instanceof Error ? error.message : String(error));
} finally {
  await browser.close();
}
await Bun.write(${JSON.stringify(join(box.root, "chromium-page"))}, result);
`,
      );
      const browser = writeScript(
        box.root,
        "browser.sh",
        `#!/bin/sh\n( cd "${ROOT}" && "${process.execPath}" "${driver}" "$1" ) &\nexit 0\n`,
      );
      const login = await box.run(["login", "mycorp"], { env: { BROWSER: browser }, timeoutMs: 60_000 });
      expect(login.code).toBe(0);
      const page = await waitForFile(join(box.root, "chromium-page"), 40_000);
      expect(page.replace(/\n+/g, "\n")).toBe(
        "URL /callback\nLogged in\nauthctl has your MyCorp login. You can close this tab.",
      );
    },
    90_000,
  );
});
