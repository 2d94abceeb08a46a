/**
 * Everything that reaches stderr passes `redact()`. Known secrets (every value authctl loaded
 * from the store or the environment for a provider) are replaced by their masked form; strings
 * that look like bearer tokens or API keys are masked even when authctl never saw them, because
 * provider error bodies sometimes echo the key back.
 */
const knownSecrets = new Set<string>();

/** Secrets shorter than this are not masked by value: they would mask ordinary words. */
const MIN_SECRET_LENGTH = 8;

export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= MIN_SECRET_LENGTH) knownSecrets.add(value);
}

/** `…abcd` — the last four characters, the contract's masked form; nothing for short values. */
export function maskSecret(value: string): string {
  if (value.length < 16) return "****";
  return `…${value.slice(-4)}`;
}

const SECRET_PATTERNS: RegExp[] = [
  // Authorization headers and query parameters that carry credentials.
  /(\bBearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
  /\b((?:access_token|refresh_token|id_token|api_key|apikey|key|code_verifier|client_secret)=)[^&\s"']{8,}/gi,
  /("(?:access_token|refresh_token|id_token|api_key|key|raw_key|client_secret|token)"\s*:\s*")[^"]{8,}(")/gi,
  // Well-known key shapes: sk-…, sk-or-v1-…, sk-ant-…, xai-…, gsk_…, ghp_/gho_/ghu_…, hf_…, AIza…
  /\b(?:sk|xai|gsk|fw|ghp|gho|ghu|ghs|ghr|github_pat|hf|pplx|csk|nvapi)[-_][A-Za-z0-9_-]{16,}/g,
  /\bAIza[0-9A-Za-z_-]{30,}/g,
  // JWTs (three base64url segments, the first starting with eyJ).
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
];

export function redact(text: string): string {
  let out = text;
  // Longest first, so a secret that contains another is masked whole.
  const secrets = [...knownSecrets].sort((a, b) => b.length - a.length);
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(maskSecret(secret));
  }
  for (const pattern of SECRET_PATTERNS) {
    out = out.replace(pattern, (match, prefix?: string, suffix?: string) => {
      if (typeof prefix === "string" && typeof suffix === "string") return `${prefix}****${suffix}`;
      if (typeof prefix === "string") return `${prefix}****`;
      return match.length >= 16 ? maskSecret(match) : "****";
    });
  }
  return out;
}
