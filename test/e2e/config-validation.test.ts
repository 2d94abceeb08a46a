import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

/** config.toml is checked when it is read: a bad value stops every command, an unknown key is warned about. */
const KEY = secret("sk-or-v1-config0123456789abcdef0123456789abcdef0123456789abcdef01234");

let box: Sandbox;
beforeAll(() => ensureBinary());
beforeEach(() => {
  box = createSandbox();
});
afterEach(() => box.cleanup());

describe("config.toml", () => {
  test("a value that is not a URL names the file, the table and the key, for every command", async () => {
    box.writeConfig('[providers.openrouter]\napi_url = "not a url"\n');
    const path = join(box.home, "config.toml");
    for (const args of [
      ["status"],
      ["login", "openrouter", "--with-key"],
      ["env", "openrouter"],
      ["providers"],
    ]) {
      const result = await box.run(args, { stdin: KEY });
      expect(result.code, args.join(" ")).toBe(1);
      expect(result.stderr).toContain(
        `authctl: ${path}: [providers.openrouter] api_url = "not a url" is not an http:// or https:// URL`,
      );
      expect(result.stderr).not.toContain("internal error");
    }
    box.writeConfig('[providers.minimax.api_urls]\ncn = "ftp://example.com"\n');
    const region = await box.run(["providers"]);
    expect(region.code).toBe(1);
    expect(region.stderr).toContain(
      '[providers.minimax.api_urls] cn = "ftp://example.com" is not an http:// or https:// URL',
    );
  });

  test("an unknown key is ignored with a warning and a did-you-mean; the command still works", async () => {
    box.writeConfig('stor = "file"\n[providers.openrouter]\napi_ur = "https://openrouter.example/api/v1"\n');
    const path = join(box.home, "config.toml");
    const result = await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY });
    expectOk(result);
    expect(result.stderr).toContain(`${path}: unknown key 'stor' is ignored; did you mean 'store'?`);
    expect(result.stderr).toContain(
      `${path}: unknown key 'api_ur' in [providers.openrouter] is ignored; did you mean 'api_url'?`,
    );
    // Once per command, also on the hot path.
    const env = await box.run(["env", "openrouter"]);
    expectOk(env);
    expect(env.stderr.match(/unknown key 'api_ur'/g)).toHaveLength(1);
  });
});

describe("config.toml that is not a file", () => {
  // A FIFO in its place (put there by mistake, or `mkfifo` in a script gone wrong) hung every
  // command, `status` and `env` included: config.toml was read with a blocking read.
  test("a FIFO is refused at once, naming it, by every command", async () => {
    const path = join(box.home, "config.toml");
    mkdirSync(box.home, { recursive: true, mode: 0o700 });
    expect(Bun.spawnSync(["mkfifo", "-m", "600", path]).exitCode).toBe(0);
    for (const args of [["status"], ["env", "openrouter"], ["providers"]]) {
      const result = await box.run(args, { timeoutMs: 10_000 });
      expect(result.code, args.join(" ")).toBe(1);
      expect(result.stderr).toContain(`authctl: ${path} is not a regular file`);
      expect(result.stderr).toContain(`mv ${path} ${path}.moved`);
    }
  }, 60_000);
});
