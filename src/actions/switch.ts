import { AuthctlError } from "../errors.ts";
import {
  accountsOf,
  defaultAccountOf,
  lowerProvider,
  markDefault,
  parseAccountRef,
  storeKey,
} from "../store/accounts.ts";
import type { Context } from "../context.ts";

/**
 * `authctl switch <provider>@<account>`: that account becomes what the bare provider id means
 * (as `gh auth switch`), for every later command. Says which account it replaced.
 */
export async function switchAccount(ctx: Context, options: { ref: string }): Promise<void> {
  const ref = lowerProvider(parseAccountRef(options.ref));
  const provider = ctx.registry.require(ref.provider);
  const listed = accountsOf(ctx.store.readMetadata().credentials, provider.id);
  if (ref.account === undefined)
    throw new AuthctlError("USAGE", `switch needs an account: <provider>@<account>`, {
      hint: `e.g. authctl switch ${provider.id}@${listed.at(-1) ?? "work"}${listed.length ? ` (stored: ${listed.join(", ")})` : ""}`,
    });
  const account = ref.account;
  const target = storeKey(provider.id, account);
  const { before } = await ctx.store.update((credentials) => {
    const accounts = accountsOf(credentials, provider.id);
    if (!accounts.includes(account))
      throw new AuthctlError(
        "NOT_LOGGED_IN",
        `${provider.id}@${account} is not logged in${accounts.length ? ` (${provider.id} accounts: ${accounts.join(", ")})` : ""}`,
        { hint: `run 'authctl login ${provider.id}@${account}' first` },
      );
    const current = defaultAccountOf(credentials, provider.id);
    if (current !== account) markDefault(credentials, provider.id, account);
    return { before: current };
  });
  if (before === account) {
    ctx.deps.ui.info(`${target} is already the default ${provider.id} account`);
    return;
  }
  ctx.deps.ui.success(
    `${provider.id} now means ${provider.id}@${account}; it replaces ${provider.id}@${before} as the default`,
  );
}
