/**
 * The secret `exec --proxy` writes into the head of every request it forwards comes from the
 * store. A value no HTTP field can carry (CR, LF, another control character: RFC 9110 §5.5) would
 * add header lines, or a whole request, to what the provider receives: whatever wrote it (an
 * earlier authctl that did not check server answers, a teammate's tool on the team store, a hand
 * edit), the proxy refuses to start with it.
 */
import { afterEach, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "smol-toml";
import { startUpstream, type Upstream } from "../fakes/upstream.ts";
import { createSandbox, ensureBinary, writeScript, type Sandbox } from "../helpers/binary.ts";

let up: Upstream;
let box: Sandbox;
beforeAll(() => ensureBinary());
afterEach(() => {
  up?.stop();
  box?.cleanup();
});

test("a stored key holding CR LF is refused before the child starts; nothing reaches the provider", async () => {
  up = startUpstream();
  box = createSandbox();
  box.writeConfig(`[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
  const now = Date.now();
  mkdirSync(box.home, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(box.home, "credentials.toml"),
    stringify({
      version: 1,
      openrouter: {
        method: "key",
        type: "api_key",
        key: "sk-or-v1-stored\r\nx-injected: yes",
        created_at: now,
        updated_at: now,
      },
    }),
    { mode: 0o600 },
  );
  const ran = join(box.root, "child-ran");
  const child = writeScript(
    box.root,
    "child.mjs",
    `require("node:fs").writeFileSync(${JSON.stringify(ran)}, "");\nconst res = await fetch(process.env.OPENROUTER_BASE_URL + "/echo", { headers: { authorization: "Bearer " + process.env.OPENROUTER_API_KEY } });\nconsole.log(res.status);\n`,
  );
  const result = await box.run(["exec", "--proxy", "-p", "openrouter", "--", process.execPath, child]);
  expect(up.requests.map((r) => r.headers["x-injected"])).not.toContain("yes");
  expect(up.requests).toEqual([]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(
    "the stored OpenRouter credential holds a control character (a line break?), which no HTTP header can carry; nothing was run",
  );
  expect(result.stderr).toContain("authctl login openrouter");
  expect(existsSync(ran)).toBe(false);
}, 30_000);
