import type { ProviderDefinition } from "./types.ts";

/**
 * The API-key providers, from ../shared/providers.md §9–10. Base URLs and variable names follow
 * models.dev; where providers.md marks a fact UNCERTAIN the value is still overridable through
 * `[providers.<id>] api_url` in config.toml.
 */
const bearer = { kind: "bearer" } as const;
const KEY = [{ id: "key", kind: "api_key", label: "API key" }] as const;

function keyProvider(p: Omit<ProviderDefinition, "methods"> & { methods?: ProviderDefinition["methods"] }): ProviderDefinition {
  return { methods: [...KEY], ...p };
}

export const KEY_PROVIDERS: ProviderDefinition[] = [
  keyProvider({
    id: "openai",
    name: "OpenAI",
    keyVars: ["OPENAI_API_KEY"],
    // Codex prefers CODEX_API_KEY over everything else; an ambient one would silently win.
    conflictVars: ["CODEX_API_KEY"],
    keyPrefixes: ["sk-"],
    apiUrl: "https://api.openai.com/v1",
    validation: { path: "/models", auth: bearer },
    keysPage: "https://platform.openai.com/api-keys",
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
    },
    keysPage: "https://console.anthropic.com/settings/keys",
  }),
  keyProvider({
    id: "gemini",
    name: "Google Gemini API",
    // The genai SDK prefers GOOGLE_API_KEY when both are set: export both with the same value.
    keyVars: ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
    aliasVars: ["GOOGLE_GENERATIVE_AI_API_KEY"],
    conflictVars: ["GOOGLE_GENERATIVE_AI_API_KEY"],
    keyPrefixes: ["AIza"],
    apiUrl: "https://generativelanguage.googleapis.com/v1beta",
    validation: { path: "/models", auth: { kind: "header", name: "x-goog-api-key", query: "key" } },
    keysPage: "https://aistudio.google.com/apikey",
  }),
  keyProvider({
    id: "openrouter",
    name: "OpenRouter",
    keyVars: ["OPENROUTER_API_KEY"],
    keyPrefixes: ["sk-or-"],
    apiUrl: "https://openrouter.ai/api/v1",
    // /models answers 200 without a key; /key needs one (providers.md §9).
    validation: { path: "/key", auth: bearer },
    keysPage: "https://openrouter.ai/settings/keys",
  }),
  keyProvider({
    id: "mistral",
    name: "Mistral",
    keyVars: ["MISTRAL_API_KEY"],
    apiUrl: "https://api.mistral.ai/v1",
    validation: { path: "/models", auth: bearer },
  }),
  keyProvider({
    id: "groq",
    name: "Groq",
    keyVars: ["GROQ_API_KEY"],
    keyPrefixes: ["gsk_"],
    apiUrl: "https://api.groq.com/openai/v1",
    validation: { path: "/models", auth: bearer },
  }),
  keyProvider({
    id: "xai",
    name: "xAI",
    keyVars: ["XAI_API_KEY"],
    keyPrefixes: ["xai-"],
    apiUrl: "https://api.x.ai/v1",
    validation: { path: "/api-key", auth: bearer },
  }),
  keyProvider({
    id: "deepseek",
    name: "DeepSeek",
    keyVars: ["DEEPSEEK_API_KEY"],
    keyPrefixes: ["sk-"],
    apiUrl: "https://api.deepseek.com",
    validation: { path: "/models", auth: bearer },
  }),
  keyProvider({
    id: "together",
    name: "Together AI",
    keyVars: ["TOGETHER_API_KEY"],
    aliasVars: ["TOGETHERAI_API_KEY"],
    conflictVars: ["TOGETHERAI_API_KEY"],
    apiUrl: "https://api.together.xyz/v1",
    validation: { path: "/models", auth: bearer },
  }),
  keyProvider({
    id: "fireworks",
    name: "Fireworks AI",
    keyVars: ["FIREWORKS_API_KEY"],
    keyPrefixes: ["fw_"],
    apiUrl: "https://api.fireworks.ai/inference/v1",
    validation: { path: "/models", auth: bearer },
  }),
  keyProvider({
    id: "cohere",
    name: "Cohere",
    // The official SDK reads CO_API_KEY, models.dev and the AI SDK COHERE_API_KEY.
    keyVars: ["CO_API_KEY", "COHERE_API_KEY"],
    apiUrl: "https://api.cohere.com",
    validation: { path: "/v1/check-api-key", method: "POST", body: "", auth: bearer },
  }),
  keyProvider({
    id: "moonshot",
    name: "Moonshot AI",
    keyVars: ["MOONSHOT_API_KEY"],
    keyPrefixes: ["sk-"],
    apiUrl: "https://api.moonshot.ai/v1",
    validation: { path: "/models", auth: bearer },
  }),
  keyProvider({
    id: "zai",
    name: "Z.ai (Zhipu)",
    hint: "key only: Z.ai's coding plan has no OAuth login",
    keyVars: ["ZAI_API_KEY", "ZHIPU_API_KEY"],
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
    validation: { path: "/models", auth: { kind: "header", name: "x-api-key" } },
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
    validation: { path: "/router/v1/models", auth: bearer },
  }),
  keyProvider({
    id: "cerebras",
    name: "Cerebras",
    keyVars: ["CEREBRAS_API_KEY"],
    keyPrefixes: ["csk-"],
    apiUrl: "https://api.cerebras.ai/v1",
    validation: { path: "/models", auth: bearer },
  }),
  keyProvider({
    id: "dashscope",
    name: "Alibaba DashScope (Qwen)",
    keyVars: ["DASHSCOPE_API_KEY"],
    keyPrefixes: ["sk-"],
    apiUrl: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    validation: { path: "/models", auth: bearer },
  }),
  keyProvider({
    id: "huggingface",
    name: "Hugging Face",
    keyVars: ["HF_TOKEN"],
    aliasVars: ["HUGGING_FACE_HUB_TOKEN"],
    conflictVars: ["HUGGING_FACE_HUB_TOKEN"],
    keyPrefixes: ["hf_"],
    apiUrl: "https://router.huggingface.co/v1",
    validation: { path: "/models", auth: bearer },
  }),
  keyProvider({
    id: "baichuan",
    name: "Baichuan",
    keyVars: ["BAICHUAN_API_KEY"],
    keyPrefixes: ["sk-"],
    apiUrl: "https://api.baichuan-ai.com/v1",
    validation: { path: "/models", auth: bearer },
  }),
  keyProvider({
    id: "yi",
    name: "01.AI Yi",
    keyVars: ["YI_API_KEY"],
    apiUrl: "https://api.lingyiwanwu.com/v1",
    validation: { path: "/models", auth: bearer },
  }),
];
