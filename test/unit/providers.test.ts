import { describe, expect, test } from "bun:test";
import { createRegistry } from "../../src/providers/registry.ts";
import { githubApiBase, normalizeGitHubHost, GITHUB_COPILOT } from "../../src/providers/github-copilot.ts";
import { AuthctlError, OAuthError } from "../../src/errors.ts";
import { processMiniMaxTokenAnswer } from "../../src/providers/minimax.ts";
import { minimaxDeadline } from "../../src/providers/minimax-answers.ts";

const registry = createRegistry({ path: "/nonexistent/config.toml", providers: {} });

describe("the built-in provider table", () => {
  const ids = registry.list().map((p) => p.id);
  test("has every provider the issues name", () => {
    for (const id of [
      "openai",
      "anthropic",
      "gemini",
      "openrouter",
      "mistral",
      "groq",
      "xai",
      "deepseek",
      "together",
      "fireworks",
      "cohere",
      "moonshot",
      "zai",
      "minimax",
      "perplexity",
      "cerebras",
      "dashscope",
      "huggingface",
      "baichuan",
      "yi",
      "github-copilot",
      "kimi",
      "qwen",
    ]) {
      expect(ids).toContain(id);
    }
  });

  for (const provider of registry.list()) {
    test(`${provider.id}: lower-case id, unique method ids, valid variable names, HTTPS endpoints`, () => {
      expect(provider.id).toMatch(/^[a-z0-9][a-z0-9-]*$/);
      const methodIds = provider.methods.map((m) => m.id);
      expect(new Set(methodIds).size).toBe(methodIds.length);
      for (const name of [
        ...provider.keyVars,
        ...(provider.aliasVars ?? []),
        ...(provider.conflictVars ?? []),
      ]) {
        expect(name).toMatch(/^[A-Z_][A-Z0-9_]*$/);
      }
      expect(provider.apiUrl).toStartWith("https://");
      for (const method of provider.methods) {
        if (method.kind !== "oauth") continue;
        for (const url of [
          method.oauth.authorizeUrl,
          method.oauth.tokenUrl,
          method.oauth.deviceAuthorizationUrl,
          method.oauth.revocationUrl,
        ]) {
          if (url) expect(url).toStartWith("https://");
        }
        expect(Object.values(method.env)).not.toContain("refresh_token");
        if (method.flows.includes("loopback")) expect(method.oauth.authorizeUrl).toBeDefined();
        if (method.flows.includes("device"))
          expect(method.oauth.deviceAuthorizationUrl ?? method.steps?.authorize?.startDevice).toBeDefined();
      }
    });
  }

  test("config.toml overrides reach a built-in OAuth method's endpoints and ports", () => {
    const r = createRegistry({
      path: "/x/config.toml",
      providers: {
        openai: { token_url: "http://127.0.0.1:9/token", redirect_port: 4000, client_id: "mine" },
      },
    });
    const method = r.require("openai").methods.find((m) => m.id === "chatgpt");
    expect(method?.kind === "oauth" && method.oauth).toMatchObject({
      tokenUrl: "http://127.0.0.1:9/token",
      redirectPort: 4000,
      fallbackPorts: [],
      clientId: "mine",
    });
  });
});

describe("built-in account logins follow their sources", () => {
  const method = (provider: string, id: string) => {
    const m = registry.require(provider).methods.find((x) => x.id === id);
    if (m?.kind !== "oauth") throw new Error(`expected ${provider} --method ${id}`);
    return m;
  };

  test("Anthropic's console login authorizes at platform.claude.com with the localhost:53692 redirect pi uses", () => {
    expect(method("anthropic", "console").oauth).toMatchObject({
      authorizeUrl: "https://platform.claude.com/oauth/authorize",
      tokenUrl: "https://platform.claude.com/v1/oauth/token",
      redirectHost: "localhost",
      redirectPort: 53692,
      redirectPath: "/callback",
    });
  });

  test("OpenAI's revocation is sent as JSON, as codex's revoke.rs does", () => {
    expect(method("openai", "chatgpt").oauth).toMatchObject({
      revocationUrl: "https://auth.openai.com/oauth/revoke",
      revocationBody: "json",
    });
  });

  test("every built-in account login names its source and policy", () => {
    for (const provider of registry.list()) {
      for (const m of provider.methods) {
        if (m.kind !== "oauth") continue;
        expect(m.source, `${provider.id} ${m.id}`).toBeString();
        expect(m.policy, `${provider.id} ${m.id}`).toBeString();
      }
      if (provider.validation) expect(provider.validation.source, provider.id).toBeString();
    }
  });
});

describe("regions", () => {
  const coding = (providers: Record<string, Record<string, unknown>>) => {
    const method = createRegistry({ path: "/x/config.toml", providers })
      .require("minimax")
      .methods.find((m) => m.id === "coding-plan");
    if (method?.kind !== "oauth") throw new Error("expected the coding-plan method");
    return method.oauth;
  };

  test("MiniMax's coding plan logs in at account.minimax.io by default and account.minimaxi.com for region cn", () => {
    expect(coding({})).toMatchObject({
      deviceAuthorizationUrl: "https://account.minimax.io/oauth2/device/code",
      tokenUrl: "https://account.minimax.io/oauth2/token",
    });
    expect(coding({ minimax: { region: "cn" } })).toMatchObject({
      deviceAuthorizationUrl: "https://account.minimaxi.com/oauth2/device/code",
      tokenUrl: "https://account.minimaxi.com/oauth2/token",
    });
  });

  test("region cn moves the api_url and puts that region first; api_url pins one host", () => {
    const cn = createRegistry({ path: "/x/config.toml", providers: { moonshot: { region: "cn" } } }).require(
      "moonshot",
    );
    expect(cn.apiUrl).toBe("https://api.moonshot.cn/v1");
    expect(cn.regions?.map((r) => r.id)).toEqual(["cn", "global"]);
    const pinned = createRegistry({
      path: "/x/config.toml",
      providers: { moonshot: { api_url: "https://gw.example/v1" } },
    }).require("moonshot");
    expect(pinned.apiUrl).toBe("https://gw.example/v1");
    expect(pinned.regions).toBeUndefined();
  });
});

describe("GitHub Enterprise hosts", () => {
  test("are normalised and move every endpoint", () => {
    expect(normalizeGitHubHost(" https://Company.GHE.com/ ")).toBe("company.ghe.com");
    const method = GITHUB_COPILOT.methods[0]!;
    if (method.kind !== "oauth") throw new Error("expected the device method first");
    expect(method.hooks?.forHost?.("company.ghe.com", method.oauth)).toMatchObject({
      deviceAuthorizationUrl: "https://company.ghe.com/login/device/code",
      tokenUrl: "https://company.ghe.com/login/oauth/access_token",
    });
  });

  test("GHE.com tenants exchange at api.<host>, GitHub Enterprise Server at https://<host>/api/v3", () => {
    expect(githubApiBase("github.com")).toBe("https://api.github.com");
    expect(githubApiBase("company.ghe.com")).toBe("https://api.company.ghe.com");
    expect(githubApiBase("github.example.org")).toBe("https://github.example.org/api/v3");
    expect(githubApiBase("https://ghes.internal:8443/")).toBe("https://ghes.internal:8443/api/v3");
  });

  test("classic ghp_ tokens are not listed as a Copilot key prefix", () => {
    expect(GITHUB_COPILOT.keyPrefixes).not.toContain("ghp_");
    expect(GITHUB_COPILOT.keyPrefixes).toContain("github_pat_");
  });

  test("that are not host names are refused", () => {
    expect(() => normalizeGitHubHost("not a host")).toThrow(AuthctlError);
  });
});

describe("MiniMax's answers (hand-built responses)", () => {
  const now = 1_800_000_000_000;
  test("expired_in: a ms deadline as is, epoch seconds scaled, small numbers as seconds to live", () => {
    expect(minimaxDeadline(now + 60_000, now)).toBe(now + 60_000);
    expect(minimaxDeadline(1_800_000_060, now)).toBe(1_800_000_060_000);
    expect(minimaxDeadline(3600, now)).toBe(now + 3_600_000);
    expect(minimaxDeadline("nonsense", now)).toBeUndefined();
    expect(minimaxDeadline(0, now)).toBeUndefined();
  });

  test("a refresh answer in the base_resp envelope keeps its deadline; a non-zero status_code or a 4xx is refused", async () => {
    const ok = await processMiniMaxTokenAnswer(
      Response.json({
        base_resp: { status_code: 0, status_msg: "success" },
        access_token: "mm-at-1",
        refresh_token: "mm-rt-1",
        expired_in: now + 5_000,
      }),
      now,
    );
    expect(ok).toMatchObject({ access_token: "mm-at-1", refresh_token: "mm-rt-1", expires_at: now + 5_000 });
    expect(ok.expires_in).toBeUndefined();
    await expect(
      processMiniMaxTokenAnswer(
        Response.json({ base_resp: { status_code: 1004, status_msg: "login fail" } }),
        now,
      ),
    ).rejects.toThrow("login fail (base_resp 1004)");
    const dead = await processMiniMaxTokenAnswer(
      Response.json({ status: "error" }, { status: 401 }),
      now,
    ).catch((error) => error);
    expect(dead).toBeInstanceOf(OAuthError);
    expect(dead).toMatchObject({ code: "OAUTH", error: "invalid_grant", status: 401 });
  });
});

describe("extra fields are declared by the providers that write them", () => {
  test("the store seals exactly the extra fields a provider declares secret", () => {
    const { secretExtraFields, declaredExtraFields } = require("../../src/providers/extra-fields.ts");
    expect([...secretExtraFields()].sort()).toEqual(["api_key", "copilot_token"]);
    const declared = declaredExtraFields();
    // Endpoints, hosts, expiries and account ids are metadata: status reads them without unsealing.
    for (const name of ["token_url", "revocation_url", "host", "copilot_expires_at", "chatgpt_account_id"]) {
      expect(declared[name]).toEqual({ secret: false });
    }
  });

  test("an exchange at use caches its token in a field its provider declares secret", () => {
    const withExchange = registry.list().filter((p) => p.useExchange);
    expect(withExchange.map((p) => p.id)).toEqual(["github-copilot"]);
    for (const provider of withExchange) {
      const { cache } = provider.useExchange!;
      expect(provider.extra?.[cache.token]).toEqual({ secret: true });
      expect(provider.extra?.[cache.expiresAt]).toEqual({ secret: false });
    }
  });
});

describe("the proxy's base-URL shape is provider data", () => {
  const { buildRoutes } = require("../../src/proxy/routes.ts") as typeof import("../../src/proxy/routes.ts");
  const routeOf = (provider: import("../../src/providers/types.ts").ProviderDefinition) =>
    buildRoutes(
      [
        {
          provider,
          account: "default",
          key: provider.id,
          source: "store",
          secret: "k",
          vars: [],
          credential: undefined,
        },
      ],
      () => "placeholder",
    )[0]!;

  test("the built-in shapes: variable, versions forwarded, unversioned segments, key header", () => {
    const anthropic = routeOf(registry.require("anthropic"));
    expect(anthropic).toMatchObject({ baseVar: "ANTHROPIC_BASE_URL", varPath: "", scopes: ["", "/v1"] });
    expect(anthropic.unversioned?.version).toBe("/v1");
    expect([...anthropic.unversioned!.segments]).toEqual(["messages", "models", "complete"]);
    expect(anthropic.auth).toMatchObject({ kind: "header", name: "x-api-key" });
    expect(routeOf(registry.require("gemini"))).toMatchObject({
      baseVar: "GOOGLE_GEMINI_BASE_URL",
      varPath: "",
      scopes: ["/v1beta", "/v1", "/v1alpha"],
    });
    expect(routeOf(registry.require("openai"))).toMatchObject({
      baseVar: "OPENAI_BASE_URL",
      scopes: ["/v1"],
    });
    expect(routeOf(registry.require("groq"))).toMatchObject({
      baseVar: "GROQ_BASE_URL",
      scopes: ["/openai/v1"],
      auth: { kind: "bearer" },
    });
  });

  test("a provider that declares a shape gets it, whatever its id", () => {
    const route = routeOf({
      id: "newcorp",
      name: "NewCorp",
      methods: [{ id: "key", kind: "api_key", label: "API key" }],
      keyVars: ["NEWCORP_API_KEY"],
      apiUrl: "https://api.newcorp.example/v2",
      proxy: { baseVar: "NEWCORP_URL", versions: ["/v2", "/v3"], keyAuth: { kind: "header", name: "x-key" } },
    });
    expect(route).toMatchObject({
      baseVar: "NEWCORP_URL",
      varPath: "",
      scopes: ["/v2", "/v3"],
      auth: { kind: "header", name: "x-key" },
    });
  });
});
