import type { ProviderDefinition } from "./types.ts";

/**
 * The API-key providers, from ../shared/providers.md §9–10. Base URLs and variable names follow
 * models.dev (anomalyco/models.dev providers/<id>/provider.toml, "MD1") unless a line says
 * otherwise; every key check names its source in `validation.source`. Where a fact is UNCERTAIN
 * the value is still overridable (`api_url`, `validation_url` in config.toml).
 */
const bearer = { kind: "bearer" } as const;
const KEY = [{ id: "key", kind: "api_key", label: "API key" }] as const;

function keyProvider(
  p: Omit<ProviderDefinition, "methods"> & { methods?: ProviderDefinition["methods"] },
): ProviderDefinition {
  return { methods: [...KEY], ...p };
}

export const KEY_PROVIDERS: ProviderDefinition[] = [
  keyProvider({
    id: "openai",
    name: "OpenAI",
    // `codex exec` reads only CODEX_API_KEY for an API key (codex-rs/login/src/auth/manager.rs,
    // read_codex_api_key_from_env; it ignores OPENAI_API_KEY), so both carry the key: an ambient
    // CODEX_API_KEY is overridden instead of silently winning (openai/codex#40871).
    keyVars: ["OPENAI_API_KEY", "CODEX_API_KEY"],
    keyPrefixes: ["sk-"],
    apiUrl: "https://api.openai.com/v1",
    validation: {
      path: "/models",
      auth: bearer,
      source: "https://platform.openai.com/docs/api-reference/models/list",
    },
    keysPage: "https://platform.openai.com/api-keys",
    // The SDK appends /chat/completions, /responses… to OPENAI_BASE_URL, which ends in /v1.
    proxy: { baseVar: "OPENAI_BASE_URL" },
  }),
  keyProvider({
    id: "anthropic",
    name: "Anthropic",
    keyVars: ["ANTHROPIC_API_KEY"],
    // A bearer token outranks the API key in Claude Code and the SDKs (providers.md §10).
    conflictVars: ["ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_OAUTH_TOKEN"],
    keyPrefixes: ["sk-ant-"],
    apiUrl: "https://api.anthropic.com",
    validation: {
      path: "/v1/models",
      auth: { kind: "header", name: "x-api-key", extra: { "anthropic-version": "2023-06-01" } },
      source: "https://platform.claude.com/docs/en/api/models (List Models: x-api-key + anthropic-version)",
    },
    keysPage: "https://console.anthropic.com/settings/keys",
    // The official SDK appends /v1/messages to ANTHROPIC_BASE_URL; @ai-sdk/anthropic reads the same
    // variable as ending in /v1 and appends /messages, /messages/count_tokens, /models
    // (@ai-sdk/anthropic 4.0 anthropic-provider.ts, default baseURL https://api.anthropic.com/v1).
    proxy: {
      baseVar: "ANTHROPIC_BASE_URL",
      versions: ["/v1"],
      unversioned: ["messages", "models", "complete"],
    },
  }),
  keyProvider({
    id: "gemini",
    name: "Google Gemini API",
    // GEMINI_API_KEY is the one name gemini-cli reads for an API key (GOOGLE_API_KEY only selects
    // Vertex AI express mode there) and @google/genai reads it too; GOOGLE_GENERATIVE_AI_API_KEY is
    // the only one the Vercel AI SDK's @ai-sdk/google reads. GOOGLE_API_KEY is not set: when both
    // are, @google/genai warns on every client it builds and uses GOOGLE_API_KEY
    // (@google/genai 3.3 getApiKeyFromEnv), so an inherited one is removed instead — it would win.
    keyVars: ["GEMINI_API_KEY", "GOOGLE_GENERATIVE_AI_API_KEY"],
    aliasVars: ["GOOGLE_API_KEY"],
    conflictVars: ["GOOGLE_API_KEY"],
    keyPrefixes: ["AIza"],
    apiUrl: "https://generativelanguage.googleapis.com/v1beta",
    validation: {
      path: "/models",
      auth: { kind: "header", name: "x-goog-api-key", query: "key" },
      source: "https://ai.google.dev/api/rest/v1beta/models/list",
    },
    keysPage: "https://aistudio.google.com/apikey",
    // Gemini API versions (ai.google.dev/gemini-api/docs/api-versions): @google/genai ≥ 3.1 defaults
    // to v1, older ones and gemini-cli to v1beta; v1alpha carries preview features.
    proxy: { baseVar: "GOOGLE_GEMINI_BASE_URL", versions: ["/v1beta", "/v1", "/v1alpha"] },
  }),
  keyProvider({
    id: "openrouter",
    name: "OpenRouter",
    keyVars: ["OPENROUTER_API_KEY"],
    keyPrefixes: ["sk-or-"],
    apiUrl: "https://openrouter.ai/api/v1",
    // /models answers 200 without a key; /key needs one (providers.md §9).
    validation: {
      path: "/key",
      auth: bearer,
      source: "https://openrouter.ai/docs/api/api-reference/api-keys/get-current-key",
    },
    keysPage: "https://openrouter.ai/settings/keys",
    proxy: { baseVar: "OPENROUTER_BASE_URL" },
  }),
  keyProvider({
    id: "mistral",
    name: "Mistral",
    keyVars: ["MISTRAL_API_KEY"],
    apiUrl: "https://api.mistral.ai/v1",
    validation: { path: "/models", auth: bearer, source: "https://docs.mistral.ai/api/ (GET /v1/models)" },
  }),
  keyProvider({
    id: "groq",
    name: "Groq",
    keyVars: ["GROQ_API_KEY"],
    keyPrefixes: ["gsk_"],
    apiUrl: "https://api.groq.com/openai/v1",
    validation: {
      path: "/models",
      auth: bearer,
      source: "https://console.groq.com/docs/api-reference#models-list",
    },
  }),
  keyProvider({
    id: "xai",
    name: "xAI",
    keyVars: ["XAI_API_KEY"],
    keyPrefixes: ["xai-"],
    apiUrl: "https://api.x.ai/v1",
    // xAI answers an unknown key with 400 "Incorrect API key provided" (continuedev/continue#10778,
    // openai/codex#1352), not 401: without 400 here a wrong key would be stored.
    validation: {
      path: "/api-key",
      auth: bearer,
      rejectStatuses: [400],
      source: "api-evangelist/xai xai-api-key-api-openapi.yml (GET /v1/api-key)",
    },
  }),
  keyProvider({
    id: "deepseek",
    name: "DeepSeek",
    keyVars: ["DEEPSEEK_API_KEY"],
    keyPrefixes: ["sk-"],
    apiUrl: "https://api.deepseek.com",
    validation: { path: "/models", auth: bearer, source: "https://api-docs.deepseek.com/api/list-models" },
  }),
  keyProvider({
    id: "together",
    name: "Together AI",
    keyVars: ["TOGETHER_API_KEY"],
    aliasVars: ["TOGETHERAI_API_KEY"],
    conflictVars: ["TOGETHERAI_API_KEY"],
    apiUrl: "https://api.together.xyz/v1",
    validation: {
      path: "/models",
      auth: bearer,
      source: "https://docs.together.ai/reference/models-1 (GET /v1/models)",
    },
  }),
  keyProvider({
    id: "fireworks",
    name: "Fireworks AI",
    keyVars: ["FIREWORKS_API_KEY"],
    keyPrefixes: ["fw_"],
    apiUrl: "https://api.fireworks.ai/inference/v1",
    // Fireworks documents its OpenAI-compatible API under /inference/v1; the listing is what
    // LibreChat and pipecat call with the key (providers.md V6). UNCERTAIN: no first-party page read.
    validation: {
      path: "/models",
      auth: bearer,
      source:
        "https://librechat.ai/docs/configuration/librechat_yaml/ai_endpoints/fireworks (fetches /inference/v1/models)",
    },
  }),
  keyProvider({
    id: "cohere",
    name: "Cohere",
    // The official SDK reads CO_API_KEY, models.dev and the AI SDK COHERE_API_KEY.
    keyVars: ["CO_API_KEY", "COHERE_API_KEY"],
    keySource:
      "cohere-ai/cohere-python README (CO_API_KEY); anomalyco/models.dev providers/cohere/provider.toml (COHERE_API_KEY)",
    apiUrl: "https://api.cohere.com",
    validation: {
      path: "/v1/check-api-key",
      method: "POST",
      body: "",
      auth: bearer,
      source: "https://docs.cohere.com/reference/check-api-key",
    },
  }),
  keyProvider({
    id: "moonshot",
    name: "Moonshot AI",
    keyVars: ["MOONSHOT_API_KEY"],
    keyPrefixes: ["sk-"],
    apiUrl: "https://api.moonshot.ai/v1",
    regions: [
      // MoonshotAI/kimi-cli src/kimi_cli/auth/platforms.py ("moonshot-ai" and "moonshot-cn" platforms).
      {
        id: "global",
        apiUrl: "https://api.moonshot.ai/v1",
        source: "MoonshotAI/kimi-cli src/kimi_cli/auth/platforms.py",
      },
      {
        id: "cn",
        apiUrl: "https://api.moonshot.cn/v1",
        source: "MoonshotAI/kimi-cli src/kimi_cli/auth/platforms.py",
      },
    ],
    validation: {
      path: "/models",
      auth: bearer,
      source: "https://platform.moonshot.ai/docs/api/chat (GET /v1/models)",
    },
  }),
  keyProvider({
    id: "zai",
    name: "Z.ai (Zhipu)",
    // No OAuth login has a source: Z.ai's own @z_ai/coding-helper stores an API key
    // (`coding-helper auth glm_coding_plan_china <API-Key>`), as do the other clients read (providers.md §8, Z1).
    hint: "key only: the GLM Coding Plan uses an API key (Z.ai's coding-helper stores one; no OAuth login has a source)",
    keyVars: ["ZAI_API_KEY", "ZHIPU_API_KEY"],
    keySource:
      "badlogic/pi-mono packages/ai/src/env-api-keys.ts (ZAI_API_KEY); anomalyco/models.dev providers/zhipuai/provider.toml (ZHIPU_API_KEY)",
    aliasVars: ["ZHIPUAI_API_KEY"],
    conflictVars: ["ZHIPUAI_API_KEY"],
    apiUrl: "https://api.z.ai/api/paas/v4",
    // No list-models endpoint is confirmed for Z.ai (providers.md §9): keys are stored unverified.
  }),
  keyProvider({
    id: "minimax",
    name: "MiniMax",
    keyVars: ["MINIMAX_API_KEY"],
    apiUrl: "https://api.minimax.io/anthropic/v1",
    regions: [
      // Global and China accounts are separate; MiniMax's own CLI probes both with a key
      // (MiniMax-AI/cli src/config/detect-region.ts).
      {
        id: "global",
        apiUrl: "https://api.minimax.io/anthropic/v1",
        source: "https://platform.minimax.io/docs/api-reference/models/anthropic/list-models",
      },
      {
        id: "cn",
        apiUrl: "https://api.minimaxi.com/anthropic/v1",
        source:
          "anomalyco/opencode packages/opencode/src/plugin/minimax/minimax.ts (minimax-cn-coding-plan resource URL)",
      },
    ],
    validation: {
      path: "/models",
      auth: { kind: "header", name: "x-api-key" },
      source: "https://platform.minimax.io/docs/api-reference/models/anthropic/list-models",
    },
  }),
  keyProvider({
    id: "perplexity",
    name: "Perplexity",
    keyVars: ["PERPLEXITY_API_KEY"],
    aliasVars: ["PPLX_API_KEY", "PERPLEXITYAI_API_KEY"],
    conflictVars: ["PPLX_API_KEY", "PERPLEXITYAI_API_KEY"],
    keyPrefixes: ["pplx-"],
    apiUrl: "https://api.perplexity.ai",
    // Perplexity has historically had no /models; the router listing is the documented check.
    validation: {
      path: "/router/v1/models",
      auth: bearer,
      source: "https://docs.perplexity.ai/api-reference/gateway-models-get",
    },
  }),
  keyProvider({
    id: "cerebras",
    name: "Cerebras",
    keyVars: ["CEREBRAS_API_KEY"],
    keyPrefixes: ["csk-"],
    apiUrl: "https://api.cerebras.ai/v1",
    validation: {
      path: "/models",
      auth: bearer,
      source: "https://inference-docs.cerebras.ai/api-reference/models",
    },
  }),
  keyProvider({
    id: "dashscope",
    name: "Alibaba DashScope (Qwen)",
    keyVars: ["DASHSCOPE_API_KEY"],
    keyPrefixes: ["sk-"],
    apiUrl: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    regions: [
      // Alibaba Model Studio: Singapore (international) and Beijing (China) keys are not interchangeable.
      {
        id: "intl",
        apiUrl: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        source: "https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope",
      },
      {
        id: "cn",
        apiUrl: "https://dashscope.aliyuncs.com/compatible-mode/v1",
        source: "https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope",
      },
    ],
    validation: {
      path: "/models",
      auth: bearer,
      source: "https://www.alibabacloud.com/help/en/model-studio/list-models (401 without a valid key)",
    },
  }),
  keyProvider({
    id: "huggingface",
    name: "Hugging Face",
    keyVars: ["HF_TOKEN"],
    aliasVars: ["HUGGING_FACE_HUB_TOKEN"],
    conflictVars: ["HUGGING_FACE_HUB_TOKEN"],
    keyPrefixes: ["hf_"],
    apiUrl: "https://router.huggingface.co/v1",
    // The router's /v1/models is public (every key passes); whoami-v2 needs a valid token.
    validation: {
      path: "https://huggingface.co/api/whoami-v2",
      auth: bearer,
      source: "huggingface/huggingface_hub src/huggingface_hub/hf_api.py (HfApi.whoami → /api/whoami-v2)",
    },
  }),
  keyProvider({
    id: "baichuan",
    name: "Baichuan",
    keyVars: ["BAICHUAN_API_KEY"],
    keyPrefixes: ["sk-"],
    apiUrl: "https://api.baichuan-ai.com/v1",
    // UNCERTAIN: no first-party page read; third-party key checkers call this OpenAI-style listing.
    // A 404 here only means "could not verify" (the key is stored with a warning), never a refusal.
    validation: {
      path: "/models",
      auth: bearer,
      source: "third-party clients only (e.g. key checkers calling api.baichuan-ai.com/v1/models); UNCERTAIN",
    },
  }),
  keyProvider({
    id: "yi",
    name: "01.AI Yi",
    keyVars: ["YI_API_KEY"],
    keySource: "authctl's own variable name; base URL from https://platform.lingyiwanwu.com/docs",
    variableNotes: {
      YI_API_KEY:
        "authctl's own name (no tool found that reads it): OpenAI-compatible tools take the key as OPENAI_API_KEY with OPENAI_BASE_URL=https://api.lingyiwanwu.com/v1",
    },
    apiUrl: "https://api.lingyiwanwu.com/v1",
    validation: {
      path: "/models",
      auth: bearer,
      source:
        "https://platform.lingyiwanwu.com/docs (List models: GET https://api.lingyiwanwu.com/v1/models)",
    },
  }),
];
