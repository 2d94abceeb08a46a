import { AuthctlError } from "../errors.ts";
import { maskSecret } from "../redact.ts";
import type { Context } from "./context.ts";
import { credentialSecret, findInEnvironment } from "./resolve.ts";

export interface LogoutOptions {
  providerIds: string[];
  all: boolean;
}

export async function logout(ctx: Context, options: LogoutOptions): Promise<void> {
  const { deps } = ctx;
  const stored = ctx.store.read().credentials;
  let ids = options.providerIds.map((id) => ctx.registry.get(id.toLowerCase())?.id ?? id.toLowerCase());
  if (options.all) ids = Object.keys(stored);
  else if (ids.length === 0) ids = await pickLoggedIn(ctx, Object.keys(stored));
  if (ids.length === 0) {
    if (options.all) deps.ui.info("nothing is stored: nothing to log out of");
    return;
  }
  const missing = ids.filter((id) => !stored[id]);
  for (const id of missing) {
    const provider = ctx.registry.get(id);
    const env = provider && findInEnvironment(provider, deps.env);
    if (env) deps.ui.warn(`${id} comes from ${env.name} in your environment, which authctl did not set: unset it where your shell sets it`);
  }
  if (missing.length) {
    if (!ctx.registry.get(missing[0]!)) ctx.registry.require(missing[0]!);
    throw new AuthctlError("NOT_LOGGED_IN", `not logged in to ${missing.join(", ")}: nothing was removed`, {
      hint: "run 'authctl status' to see what is stored",
    });
  }
  const removed = await ctx.store.update((credentials) => {
    const out: Array<[string, string]> = [];
    for (const id of ids) {
      const credential = credentials[id];
      if (!credential) continue;
      const secret = credentialSecret(credential);
      out.push([id, secret ? maskSecret(secret) : ""]);
      delete credentials[id];
    }
    return out;
  });
  for (const [id, masked] of removed) {
    const name = ctx.registry.get(id)?.name ?? id;
    deps.ui.success(`logged out of ${name}${masked ? ` (removed ${masked} from the store)` : ""}`);
  }
}

async function pickLoggedIn(ctx: Context, stored: string[]): Promise<string[]> {
  if (!ctx.deps.interactive) {
    throw new AuthctlError("NEEDS_TTY", "no provider named and no terminal to pick one", {
      hint: "run 'authctl logout <provider>' or 'authctl logout --all'",
    });
  }
  if (stored.length === 0) {
    ctx.deps.ui.info("nothing is stored: nothing to log out of");
    return [];
  }
  const prompter = await ctx.deps.prompter();
  return prompter.multiselect(
    "Log out of which providers?",
    stored.map((id) => ({ value: id, label: ctx.registry.get(id)?.name ?? id })),
  );
}
