import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { refusedPort, startKeyApi, type KeyApi } from "../fakes/key-api.ts";
import { createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

const GOOD = secret("sk-or-v1-good0123456789abcdef0123456789abcdef0123456789abcdef01234567");
const REVOKED = secret("sk-or-v1-revoked123456789abcdef0123456789abcdef0123456789abcdef0123");
const OUTAGE = secret("sk-or-v1-outage0123456789abcdef0123456789abcdef0123456789abcdef0123");

let api: KeyApi;
let box: Sandbox;
beforeAll(async () => {
  await ensureBinary();
  api = startKeyApi();
});
afterAll(() => api.stop());
beforeEach(() => {
  box = createSandbox();
  box.writeConfig(
    `[providers.openrouter]\napi_url = "${api.url}/api/v1"\n[providers.anthropic]\napi_url = "${api.url}"\n`,
  );
  api.requests.length = 0;
});
afterEach(() => box.cleanup());

const storePath = () => join(box.home, "credentials.toml");
const readStore = () => parse(readFileSync(storePath(), "utf8")) as Record<string, Record<string, unknown>>;

describe("login --with-key", () => {
  test("a key the provider accepts is verified with a Bearer request and stored 0600 in a 0700 directory", async () => {
    const result = await box.run(["login", "openrouter", "--with-key"], { stdin: `${GOOD}\n` });
    expectOk(result);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("OpenRouter accepted the key");
    expect(result.stderr).toContain(`…${GOOD.slice(-4)}`);
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]).toMatchObject({
      method: "GET",
      path: "/api/v1/key",
      authorization: `Bearer ${GOOD}`,
    });
    expect(statSync(box.home).mode & 0o777).toBe(0o700);
    expect(statSync(storePath()).mode & 0o777).toBe(0o600);
    expect(readStore().openrouter).toMatchObject({ method: "key", type: "api_key", key: GOOD });
  });

  test("a key the provider rejects with 401 is not stored, and the provider's message is shown", async () => {
    const result = await box.run(["login", "openrouter", "--with-key"], { stdin: REVOKED });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("OpenRouter rejected the key (HTTP 401: User not found.)");
    expect(result.stderr).toContain("--no-verify");
    expect(existsSync(storePath())).toBe(false);
  });

  test("a rejected key leaves an existing credential untouched", async () => {
    expectOk(await box.run(["login", "openrouter", "--with-key"], { stdin: GOOD }));
    const before = readFileSync(storePath());
    expect((await box.run(["login", "openrouter", "--with-key"], { stdin: REVOKED })).code).toBe(4);
    expect(readFileSync(storePath()).equals(before)).toBe(true);
  });

  test("a provider outage (HTTP 500) stores the key with a warning", async () => {
    const result = await box.run(["login", "openrouter", "--with-key"], { stdin: OUTAGE });
    expectOk(result);
    expect(result.stderr).toContain("could not verify the key");
    expect(result.stderr).toContain("HTTP 500");
    expect(result.stderr).not.toContain("<html>");
    expect(readStore().openrouter?.key).toBe(OUTAGE);
  });

  test("a key the provider refuses with 403 is not stored (exit 4)", async () => {
    const forbidden = secret("sk-or-v1-forbidden3456789abcdef0123456789abcdef0123456789abcdef0123");
    const result = await box.run(["login", "openrouter", "--with-key"], { stdin: forbidden });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("OpenRouter rejected the key (HTTP 403: Key disabled)");
    expect(existsSync(storePath())).toBe(false);
  });

  test("a rate-limited check (HTTP 429) stores the key with a warning", async () => {
    const limited = secret("sk-or-v1-ratelimited789abcdef0123456789abcdef0123456789abcdef012345");
    const result = await box.run(["login", "openrouter", "--with-key"], { stdin: limited });
    expectOk(result);
    expect(result.stderr).toContain("could not verify the key");
    expect(result.stderr).toContain("HTTP 429: Rate limit exceeded");
    expect(readStore().openrouter?.key).toBe(limited);
  });

  test("an error body with terminal escapes and the key echoed back is shown cleaned and masked", async () => {
    const hostile = secret("sk-or-v1-hostile0123456789abcdef0123456789abcdef0123456789abcdef0123");
    const result = await box.run(["login", "openrouter", "--with-key"], { stdin: hostile });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("wrong key");
    expect(result.stderr).toContain(`…${hostile.slice(-4)}`);
    expect(result.stderr).not.toContain("\x1b");
    expect(result.stderr).not.toContain("\u202e");
    expect(result.stderr).not.toContain("pwned");
  });

  test("xAI's 400 for an unknown key is a refusal: nothing is stored", async () => {
    box.writeConfig(`[providers.xai]\napi_url = "${api.url}/v1"\n`);
    const revoked = secret("xai-revoked0123456789abcdef0123456789abcdef0123456789abcdef");
    const result = await box.run(["login", "xai", "--with-key"], { stdin: revoked });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("xAI rejected the key (HTTP 400: Incorrect API key provided");
    expect(api.requests[0]).toMatchObject({ path: "/v1/api-key", authorization: `Bearer ${revoked}` });
    expect(existsSync(storePath())).toBe(false);
    const good = secret("xai-good0123456789abcdef0123456789abcdef0123456789abcdef01");
    expectOk(await box.run(["login", "xai", "--with-key"], { stdin: good }));
    expect(readStore().xai?.key).toBe(good);
  });

  test("Hugging Face keys are checked at whoami-v2, not at the router's public model list", async () => {
    const hf = startKeyApi({ publicPaths: ["/v1/models"] });
    try {
      box.writeConfig(
        `[providers.huggingface]\napi_url = "${hf.url}/v1"\nvalidation_url = "${hf.url}/api/whoami-v2"\n`,
      );
      const revoked = secret("hf_revoked0123456789abcdef0123456789abcd");
      const refused = await box.run(["login", "huggingface", "--with-key"], { stdin: revoked });
      expect(refused.code).toBe(4);
      expect(refused.stderr).toContain("Hugging Face rejected the key (HTTP 401");
      expect(hf.requests.map((r) => r.path)).toEqual(["/api/whoami-v2"]);
      expect(existsSync(storePath())).toBe(false);
      const good = secret("hf_good0123456789abcdef0123456789abcdefgh");
      expectOk(await box.run(["login", "huggingface", "--with-key"], { stdin: good }));
      expect(readStore().huggingface?.key).toBe(good);
    } finally {
      hf.stop();
    }
  });

  test("no network (a refused port) stores the key with a warning", async () => {
    box.writeConfig(`[providers.openrouter]\napi_url = "http://127.0.0.1:${refusedPort()}/api/v1"\n`);
    const result = await box.run(["login", "openrouter", "--with-key"], { stdin: GOOD });
    expectOk(result);
    expect(result.stderr).toContain("could not connect");
    expect(readStore().openrouter?.key).toBe(GOOD);
  });

  test("--no-verify stores without any request", async () => {
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: REVOKED }));
    expect(api.requests).toHaveLength(0);
    expect(readStore().openrouter?.key).toBe(REVOKED);
  });

  test("a pasted key wrapped over lines or inside an export line is normalised", async () => {
    const wrapped = `  export OPENROUTER_API_KEY='${GOOD.slice(0, 30)}\n${GOOD.slice(30)}'\r\n`;
    const result = await box.run(["login", "openrouter", "--with-key"], { stdin: wrapped });
    expectOk(result);
    expect(result.stderr).toContain("removed whitespace");
    expect(readStore().openrouter?.key).toBe(GOOD);
  });

  test("a key with the wrong prefix gets a warning", async () => {
    const odd = secret("zz-0123456789abcdef0123456789good");
    const result = await box.run(["login", "openrouter", "--with-key"], { stdin: odd });
    expectOk(result);
    expect(result.stderr).toContain("OpenRouter keys start with 'sk-or-'; this one does not");
  });

  test("a pasted `export NAME=value` line is reduced to the value without a whitespace note", async () => {
    for (const line of [`export OPENROUTER_API_KEY=${GOOD}\n`, `OPENROUTER_API_KEY = "${GOOD}"\n`]) {
      const result = await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: line });
      expectOk(result);
      expect(result.stderr).toContain("took the value of the pasted OPENROUTER_API_KEY=… line");
      expect(result.stderr).not.toContain("whitespace");
      expect(readStore().openrouter?.key).toBe(GOOD);
    }
  });

  test("a key that fits another provider says which one it looks like", async () => {
    const anthropicKey = secret("sk-ant-api03-lookalike0123456789abcdef0123456789");
    const forOpenRouter = await box.run(["login", "openrouter", "--with-key", "--no-verify"], {
      stdin: anthropicKey,
    });
    expectOk(forOpenRouter);
    expect(forOpenRouter.stderr).toContain(
      "this looks like an Anthropic key (it starts with 'sk-ant-'); OpenRouter keys start with 'sk-or-'",
    );
    // OpenAI's own prefix 'sk-' matches too: the longer, more specific one wins.
    const forOpenAI = await box.run(["login", "openai", "--with-key", "--no-verify"], {
      stdin: anthropicKey,
    });
    expectOk(forOpenAI);
    expect(forOpenAI.stderr).toContain("this looks like an Anthropic key (it starts with 'sk-ant-')");
    // A key that fits its provider gets no warning.
    const fits = await box.run(["login", "anthropic", "--with-key", "--no-verify"], { stdin: anthropicKey });
    expect(fits.stderr).not.toContain("looks like");
  });

  test("Anthropic keys are checked with x-api-key and anthropic-version, not Bearer", async () => {
    const key = secret("sk-ant-api03-good0123456789abcdef0123456789abcdef");
    expectOk(await box.run(["login", "anthropic", "--with-key"], { stdin: key }));
    expect(api.requests[0]).toMatchObject({ path: "/v1/models", authorization: null, apiKeyHeader: key });
    expect(api.requests[0]!.headers["anthropic-version"]).toBe("2023-06-01");
  });

  test("empty stdin is a usage error", async () => {
    const result = await box.run(["login", "openrouter", "--with-key"], { stdin: "\n" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--with-key read nothing from stdin");
  });

  test("a key given on the command line (--with-key=KEY or --with-key KEY) is refused, saying it is read from stdin", async () => {
    for (const args of [
      ["login", "openrouter", `--with-key=${GOOD}`],
      ["login", "openrouter", "--with-key", GOOD],
    ]) {
      // A terminal would otherwise ask for the key again and silently drop the one typed; here
      // stdin holds nothing, which used to be all the error said.
      const result = await box.run(args, { stdin: "" });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        "authctl: --with-key takes no value: the key is read from stdin, never from the command line\n",
      );
      expect(result.stderr).toContain(
        `  → pipe it in: printf %s "$KEY" | authctl login openrouter --with-key\n`,
      );
      expect(result.stderr).not.toContain(GOOD.slice(-4));
      expect(existsSync(storePath())).toBe(false);
    }
  });

  test("without a terminal and without --with-key, a key-only login exits 2 naming --with-key", async () => {
    const result = await box.run(["login", "groq"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--with-key");
    expect(existsSync(storePath())).toBe(false);
  });

  test("without a terminal and without a browser, a browser login exits 2 at once naming --with-key", async () => {
    const result = await box.run(["login", "openrouter"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("authctl login openrouter --with-key");
    expect(existsSync(storePath())).toBe(false);
  });

  test("without a terminal and without a provider, login exits 2 naming 'authctl login <provider>'", async () => {
    const result = await box.run(["login"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("authctl login <provider>");
  });

  test("an unknown provider, method or flag is a usage error", async () => {
    const unknown = await box.run(["login", "nosuch", "--with-key"], { stdin: GOOD });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown provider 'nosuch'");
    const method = await box.run(["login", "openrouter", "--method", "magic"], { stdin: GOOD });
    expect(method.code).toBe(2);
    expect(method.stderr).toContain("has no 'magic' login method");
    const flag = await box.run(["login", "openrouter", "--with-keys"], { stdin: GOOD });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option '--with-keys'");
  });

  test("the key never appears in the binary's argv or the store's neighbours", async () => {
    expectOk(await box.run(["login", "openrouter", "--with-key"], { stdin: GOOD }));
    const leftovers = require("node:fs").readdirSync(box.home) as string[];
    expect(leftovers.sort()).toEqual(["config.toml", "credentials.toml"]);
  });
});

describe("regional key checks (MiniMax, Moonshot, DashScope)", () => {
  let global: KeyApi;
  let cn: KeyApi;
  beforeAll(() => {
    global = startKeyApi({ region: "global" });
    cn = startKeyApi({ region: "cn" });
  });
  afterAll(() => {
    global.stop();
    cn.stop();
  });
  beforeEach(() => {
    global.requests.length = 0;
    cn.requests.length = 0;
  });
  const regional = (id: string, extra = "") =>
    box.writeConfig(
      `[providers.${id}]\napi_urls = { global = "${global.url}/v1", cn = "${cn.url}/v1" }\n${extra}`,
    );

  test("a China key that the global host answers 401 is tried at the China host and stored with that api_url", async () => {
    regional("moonshot");
    const key = secret("sk-region-cn-0123456789abcdef0123456789abcdef01234567");
    const result = await box.run(["login", "moonshot", "--with-key"], { stdin: key });
    expectOk(result);
    expect(result.stderr).toContain("Moonshot AI accepted the key (region cn");
    expect(global.requests.map((r) => r.path)).toEqual(["/v1/models"]);
    expect(cn.requests.map((r) => r.path)).toEqual(["/v1/models"]);
    expect(readStore().moonshot).toMatchObject({ key, extra: { api_url: `${cn.url}/v1` } });
  });

  test("MiniMax keys go to the other region with x-api-key too", async () => {
    regional("minimax");
    const key = secret("sk-cp-region-cn-0123456789abcdef0123456789abcdef0123");
    expectOk(await box.run(["login", "minimax", "--with-key"], { stdin: key }));
    expect(global.requests[0]).toMatchObject({ path: "/v1/models", apiKeyHeader: key });
    expect(cn.requests[0]).toMatchObject({ path: "/v1/models", apiKeyHeader: key });
    expect(readStore().minimax).toMatchObject({ key, extra: { api_url: `${cn.url}/v1` } });
  });

  test("a key both regions refuse is not stored, and both hosts are named", async () => {
    regional("moonshot");
    const key = secret("sk-revoked-0123456789abcdef0123456789abcdef0123456789");
    const result = await box.run(["login", "moonshot", "--with-key"], { stdin: key });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(`at ${new URL(global.url).host} and ${new URL(cn.url).host}`);
    expect(existsSync(storePath())).toBe(false);
  });

  test('region = "cn" in config.toml asks the China host first (one request for a China key)', async () => {
    regional("moonshot", `region = "cn"\n`);
    const key = secret("sk-region-cn-fedcba9876543210fedcba9876543210fedcba98");
    expectOk(await box.run(["login", "moonshot", "--with-key"], { stdin: key }));
    expect(global.requests).toHaveLength(0);
    expect(cn.requests).toHaveLength(1);
  });

  test("a pinned api_url is the only host asked", async () => {
    box.writeConfig(`[providers.moonshot]\napi_url = "${global.url}/v1"\n`);
    const key = secret("sk-region-cn-00112233445566778899aabbccddeeff00112233");
    const result = await box.run(["login", "moonshot", "--with-key"], { stdin: key });
    expect(result.code).toBe(4);
    expect(cn.requests).toHaveLength(0);
  });

  test("an unknown region in config.toml is a config error naming the regions", async () => {
    box.writeConfig(`[providers.dashscope]\nregion = "mars"\n`);
    const result = await box.run(["login", "dashscope", "--with-key"], { stdin: "sk-0123456789abcdef" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`providers.dashscope.region must be one of "intl", "cn"`);
  });
});

describe("a corrupt store", () => {
  test("is left byte for byte untouched, and the error names the file and line", async () => {
    const corrupt = `version = 1\n\n[openrouter]\nkey = "${GOOD}"\nmethod = = "key"\n`;
    require("node:fs").mkdirSync(box.home, { recursive: true });
    writeFileSync(storePath(), corrupt, { mode: 0o600 });
    for (const args of [
      ["login", "openrouter", "--with-key"],
      ["env", "openrouter"],
      ["status"],
      ["logout", "openrouter"],
      ["token", "openrouter"],
    ]) {
      const result = await box.run(args, { stdin: GOOD });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(storePath());
      expect(result.stderr).toContain("line 5");
      expect(result.stdout).toBe("");
      expect(readFileSync(storePath(), "utf8")).toBe(corrupt);
    }
  });
});

test("--version prints the package version", async () => {
  const pkg = JSON.parse(readFileSync(join(import.meta.dir, "..", "..", "package.json"), "utf8"));
  const result = await createSandbox().run(["--version"]);
  expect(result.stdout).toBe(`${pkg.version}\n`);
});
