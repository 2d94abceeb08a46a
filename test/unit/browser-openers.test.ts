/**
 * The commands src/io/browser.ts starts to open a URL. The Windows opener cannot run on the
 * machines the suite runs on, so its command line is checked here (the Linux ones are tested
 * through the binary in test/e2e/browser-openers.test.ts).
 */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBrowser, openers } from "../../src/io/browser.ts";

// What an OAuth server may put in a discovery document's authorization_endpoint or a device
// answer's verification_uri_complete: a URL path keeps `|` and `%` as written.
const HOSTILE = "https://idp.example/authorize|calc.exe|x?user_code=%USERNAME%";

test("on Windows the URL goes to the browser without cmd.exe, as one argument, unchanged", () => {
  const commands = openers({}, "win32", HOSTILE);
  expect(commands).toEqual([["rundll32.exe", "url.dll,FileProtocolHandler", HOSTILE]]);
  for (const command of commands) expect(command.join(" ").toLowerCase()).not.toContain("cmd");
});

const dir = mkdtempSync(join(tmpdir(), "authctl-opener-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("only a web URL is handed to an opener, spelled as the URL parser spells it", async () => {
  const log = join(dir, "opened");
  const recorder = join(dir, "record.sh");
  writeFileSync(recorder, `#!/bin/sh\nprintf '%s' "$1" > "${log}"\n`);
  chmodSync(recorder, 0o755);
  const env = { BROWSER: recorder };
  expect(await openBrowser("https://idp.example/device?user_code=AB\tCD", env, "linux")).toBe(true);
  expect(readFileSync(log, "utf8")).toBe("https://idp.example/device?user_code=ABCD");
  rmSync(log, { force: true });
  for (const url of ["file:///etc/passwd", "javascript:alert(1)", "not a url"]) {
    expect(await openBrowser(url, env, "linux")).toBe(false);
  }
  expect(() => readFileSync(log)).toThrow();
});
