import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createSandbox,
  ensureBinary,
  expectOk,
  secret,
  writeScript,
  type Sandbox,
} from "../helpers/binary.ts";

/**
 * What `exec --proxy` adds for the agent CLIs that need more than the variables
 * (src/proxy/clients.ts), seen by stand-ins named like them: the real CLIs are exercised in
 * test/clients/. A stand-in prints its arguments and what it finds in its settings.
 */
const OPENAI = secret("sk-proj-glue0123456789abcdef0123456789abcdef");
const GEMINI = secret("AIzaSyGlue0123456789abcdefghijklmnopqrstu");

let box: Sandbox;
beforeAll(() => ensureBinary());
afterEach(() => box?.cleanup());

async function setup(): Promise<{ bin: string }> {
  box = createSandbox();
  box.writeConfig(
    `[providers.openai]\napi_url = "http://127.0.0.1:9/v1"\n\n[providers.gemini]\napi_url = "http://127.0.0.1:9/v1beta"\n`,
  );
  expectOk(await box.run(["login", "openai", "--with-key", "--no-verify"], { stdin: OPENAI }));
  expectOk(await box.run(["login", "gemini", "--with-key", "--no-verify"], { stdin: GEMINI }));
  const bin = join(box.root, "bin");
  mkdirSync(bin);
  const report = `console.log(JSON.stringify({ argv: process.argv.slice(2), home: process.env.GEMINI_CLI_HOME ?? null, settings: process.env.GEMINI_CLI_HOME ? JSON.parse(require("node:fs").readFileSync(process.env.GEMINI_CLI_HOME + "/.gemini/settings.json", "utf8")) : null, entries: process.env.GEMINI_CLI_HOME ? require("node:fs").readdirSync(process.env.GEMINI_CLI_HOME + "/.gemini").sort() : null, memory: process.env.GEMINI_CLI_HOME ? require("node:fs").readFileSync(process.env.GEMINI_CLI_HOME + "/.gemini/GEMINI.md", "utf8") : null }));`;
  for (const name of ["codex", "gemini", "other"])
    writeScript(bin, name, `#!${process.execPath}\n${report}\n`);
  return { bin };
}

describe("exec --proxy: per-client additions", () => {
  test("codex gets -c openai_base_url=<the proxy's OpenAI route> before its own arguments, and one line says so", async () => {
    const { bin } = await setup();
    const result = await box.run(["exec", "--proxy", "-p", "openai", "--", "codex", "exec", "hi"], {
      env: { PATH: `${bin}:${box.env.PATH}` },
    });
    expectOk(result);
    const out = JSON.parse(result.stdout);
    expect(out.argv.slice(0, 1)).toEqual(["-c"]);
    expect(out.argv[1]).toMatch(/^openai_base_url="http:\/\/127\.0\.0\.1:\d+\/openai\/v1"$/);
    expect(out.argv.slice(2)).toEqual(["exec", "hi"]);
    expect(result.stderr).toContain(
      "codex reads no OPENAI_BASE_URL: this run adds -c openai_base_url=<proxy>",
    );
  });

  test("gemini gets a private copy of ~/.gemini: the user's settings plus selectedType, links to the rest, removed afterwards", async () => {
    const { bin } = await setup();
    const userGemini = join(box.env.HOME!, ".gemini");
    mkdirSync(userGemini, { recursive: true });
    const userSettings = '{"ui":{"theme":"Dracula"},"security":{"auth":{"selectedType":"oauth-personal"}}}';
    writeFileSync(join(userGemini, "settings.json"), userSettings);
    writeFileSync(join(userGemini, "GEMINI.md"), "remember this");
    const result = await box.run(["exec", "--proxy", "-p", "gemini", "--", "gemini", "-p", "hi"], {
      env: { PATH: `${bin}:${box.env.PATH}` },
    });
    expectOk(result);
    const out = JSON.parse(result.stdout);
    expect(out.argv).toEqual(["-p", "hi"]);
    expect(out.settings).toEqual({
      ui: { theme: "Dracula" },
      security: { auth: { selectedType: "gemini-api-key" } },
    });
    expect(out.entries).toEqual(["GEMINI.md", "settings.json"]);
    expect(out.memory).toBe("remember this");
    expect(result.stderr).toContain("gemini-cli needs its API-key login with a base URL");
    // The copy is gone and the user's own settings are untouched.
    expect(existsSync(out.home)).toBe(false);
    expect(readFileSync(join(userGemini, "settings.json"), "utf8")).toBe(userSettings);
  });

  test("a settings.json that is not plain JSON is left alone, and the line says what to set by hand", async () => {
    const { bin } = await setup();
    mkdirSync(join(box.env.HOME!, ".gemini"), { recursive: true });
    writeFileSync(join(box.env.HOME!, ".gemini", "settings.json"), '{ // mine\n "ui": {} }');
    const result = await box.run(["exec", "--proxy", "-p", "gemini", "--", "gemini"], {
      env: { PATH: `${bin}:${box.env.PATH}` },
    });
    expectOk(result);
    expect(JSON.parse(result.stdout).home).toBeNull();
    expect(result.stderr).toContain("not done: ");
    expect(result.stderr).toContain('security.auth.selectedType = "gemini-api-key"');
  });

  test("nothing is added for other commands, for plain exec, or when the client's provider is not in the run", async () => {
    const { bin } = await setup();
    const env = { PATH: `${bin}:${box.env.PATH}` };
    const other = await box.run(["exec", "--proxy", "-p", "openai", "--", "other", "x"], { env });
    expect(JSON.parse(other.stdout).argv).toEqual(["x"]);
    const plain = await box.run(["exec", "-p", "openai", "--", "codex", "x"], { env });
    expect(JSON.parse(plain.stdout).argv).toEqual(["x"]);
    const elsewhere = await box.run(["exec", "--proxy", "-p", "gemini", "--", "codex", "x"], { env });
    expect(JSON.parse(elsewhere.stdout).argv).toEqual(["x"]);
    for (const r of [other, plain, elsewhere]) expect(r.stderr).not.toContain("this run");
  });
});
