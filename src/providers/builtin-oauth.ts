import { ANTHROPIC_CLAUDE, ANTHROPIC_CONSOLE } from "./anthropic.ts";
import { GEMINI_CODE_ASSIST } from "./gemini.ts";
import { GITHUB_COPILOT } from "./github-copilot.ts";
import { KIMI } from "./kimi.ts";
import { MINIMAX_CODING_PLAN } from "./minimax.ts";
import { OPENAI_CHATGPT } from "./openai.ts";
import { OPENROUTER_OAUTH } from "./openrouter.ts";
import { QWEN } from "./qwen.ts";
import type { OAuthMethod, ProviderDefinition } from "./types.ts";

/**
 * The account logins of built-in providers, one file per provider, listed here. OpenRouter's login
 * comes before its key method (it is the documented, supported way); elsewhere the API key stays
 * the default and the account login is opt-in with --method, because those logins are tied to a
 * first-party client's terms (providers.md §0).
 */
export const BUILTIN_OAUTH_METHODS: Record<string, { first?: OAuthMethod[]; after?: OAuthMethod[] }> = {
  openrouter: { first: [OPENROUTER_OAUTH] },
  anthropic: { after: [ANTHROPIC_CONSOLE, ANTHROPIC_CLAUDE] },
  openai: { after: [OPENAI_CHATGPT] },
  gemini: { after: [GEMINI_CODE_ASSIST] },
  minimax: { after: [MINIMAX_CODING_PLAN] },
};

/** Providers that exist only because of their account login (no plain API-key provider of that name). */
export const OAUTH_ONLY_PROVIDERS: ProviderDefinition[] = [GITHUB_COPILOT, KIMI, QWEN];
