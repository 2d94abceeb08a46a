import { AuthctlError, isAuthctlError } from "../errors.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import type { Context } from "../context.ts";

/** Mistakes a person may make at a prompt before the login ends (exit 4). */
export const PROMPT_TRIES = 3;

/**
 * Getting an API key from a person or a script. Keys never come from argv (world-readable in
 * /proc, kept in shell history): a masked prompt, or stdin with --with-key. `check` (the
 * provider's verdict) runs on each key; at a prompt, a key that is empty, too short or refused
 * is asked for again, up to PROMPT_TRIES times, instead of ending the login on one slip.
 */
export async function readKey(
  ctx: Context,
  provider: ProviderDefinition,
  options: { withKey?: boolean },
  check: (key: string) => Promise<void> = async () => {},
): Promise<string> {
  const { deps } = ctx;
  if (options.withKey && !(deps.interactive && deps.stdinIsTTY)) {
    const raw = await deps.readStdin();
    if (!raw.trim()) {
      throw new AuthctlError("USAGE", "--with-key read nothing from stdin", {
        hint: `pipe the key in: printf %s "$KEY" | authctl login ${provider.id} --with-key`,
      });
    }
    const key = cleanKey(ctx, provider, raw);
    await check(key);
    return key;
  }
  if (!deps.interactive) {
    throw new AuthctlError("NEEDS_TTY", `no terminal to ask for the ${provider.name} key`, {
      hint: `pipe it in: authctl login ${provider.id} --with-key < keyfile`,
    });
  }
  if (provider.keysPage) deps.ui.info(`Create a key at ${provider.keysPage}`);
  const prompter = await deps.prompter();
  for (let attempt = 1; ; attempt++) {
    const raw = await prompter.password(
      attempt === 1
        ? `${provider.name} API key`
        : `${provider.name} API key (try ${attempt} of ${PROMPT_TRIES})`,
    );
    try {
      if (!raw.trim()) throw new AuthctlError("USAGE", "nothing was pasted");
      const key = cleanKey(ctx, provider, raw);
      await check(key);
      return key;
    } catch (error) {
      if (!isAuthctlError(error) || (error.code !== "USAGE" && error.code !== "AUTH_FAILED")) throw error;
      if (attempt >= PROMPT_TRIES) {
        throw new AuthctlError(
          "AUTH_FAILED",
          `no ${provider.name} key after ${PROMPT_TRIES} tries (${error.message})`,
          {
            hint: `nothing was stored; check the key${provider.keysPage ? ` at ${provider.keysPage}` : ""} and run 'authctl login ${provider.id}' again`,
          },
        );
      }
      // At a prompt the fix is to paste again, not a flag: the error's own hint is for the shell.
      deps.ui.warn(`${error.message}: paste the key again, or press Ctrl-C to stop`);
    }
  }
}

/** Normalizes a key and rejects what cannot be one; warns about an unexpected prefix. */
function cleanKey(ctx: Context, provider: ProviderDefinition, raw: string): string {
  const { deps } = ctx;
  const { key, notes } = normalizeKey(raw);
  for (const note of notes) deps.ui.warn(note);
  // A NUL or another control character is never part of a key, and an environment variable
  // cannot carry a NUL at all: `exec` would fail on it later (issue 13.3).
  if (/[\u0000-\u001f\u007f]/.test(key)) {
    throw new AuthctlError(
      "USAGE",
      `that does not look like a key for ${provider.name} (it holds a control character); nothing was stored`,
      {
        hint: `check what you pasted and run 'authctl login ${provider.id}' again`,
      },
    );
  }
  if (key.length < 8) {
    throw new AuthctlError(
      "USAGE",
      `that does not look like a key for ${provider.name} (${key.length} characters)`,
      {
        hint: `check what you pasted and run 'authctl login ${provider.id}' again`,
      },
    );
  }
  const mismatch = describePrefixMismatch(ctx.registry.list(), provider, key);
  if (mismatch) deps.ui.warn(mismatch);
  return key;
}

/**
 * What the key looks like when it does not fit the provider: "this looks like an Anthropic key"
 * when another provider's (longer) prefix matches, so `sk-ant-…` pasted for OpenAI (`sk-`) is
 * caught too. Only the documented prefix is quoted, never a character of the key itself.
 */
export function describePrefixMismatch(
  all: ProviderDefinition[],
  provider: ProviderDefinition,
  key: string,
): string | undefined {
  const own = provider.keyPrefixes ?? [];
  const ownMatch = Math.max(-1, ...own.filter((p) => key.startsWith(p)).map((p) => p.length));
  let best: { provider: ProviderDefinition; prefix: string } | undefined;
  for (const other of all) {
    if (other.id === provider.id) continue;
    for (const prefix of other.keyPrefixes ?? []) {
      if (key.startsWith(prefix) && prefix.length > ownMatch && prefix.length > (best?.prefix.length ?? 0))
        best = { provider: other, prefix };
    }
  }
  const expected = own.length
    ? `${provider.name} keys start with ${own.map((p) => `'${p}'`).join(" or ")}`
    : "";
  if (best && own.length === 0 && best.prefix.length < 4) return undefined; // 'sk-' alone says little
  if (best)
    return `this looks like ${article(best.provider.name)} ${best.provider.name} key (it starts with '${best.prefix}')${expected ? `; ${expected}` : ""}`;
  if (own.length && ownMatch < 0) return `${expected}; this one does not`;
  return undefined;
}

function article(name: string): string {
  return /^[aeiou]/i.test(name) ? "an" : "a";
}

/**
 * Terminals wrap long tokens and copy the wrap as a newline or spaces (openclaw/openclaw#53464), and
 * people paste whole `export NAME=value` lines: keep only the key.
 */
export function normalizeKey(raw: string): { key: string; notes: string[] } {
  const notes: string[] = [];
  let value = raw.trim();
  // The line's own spaces (`export NAME=value`, `NAME = "value"`) are not part of the key: only
  // whitespace left inside the value is worth a note.
  const assignment = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?!=)([\s\S]+)$/.exec(value);
  if (assignment && assignment[2]) {
    notes.push(`took the value of the pasted ${assignment[1]}=… line`);
    value = assignment[2].trim();
  }
  const quoted = /^(['"])([\s\S]*)\1;?$/.exec(value);
  if (quoted && quoted[2] !== undefined) value = quoted[2];
  const key = value.replace(/\s+/g, "");
  if (key.length !== value.length) notes.push("removed whitespace inside the key (a wrapped paste?)");
  return { key, notes };
}
