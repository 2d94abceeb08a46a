import { AuthctlError } from "../errors.ts";
import { readKey } from "../flows/api-key.ts";
import { verifyKey } from "../flows/verify-key.ts";
import type { ProviderDefinition, ProviderMethod } from "../providers/types.ts";
import { maskSecret, registerSecret } from "../redact.ts";
import {
  accountNote,
  DEFAULT_ACCOUNT,
  defaultAccountOf,
  parseAccountRef,
  putAccount,
} from "../store/accounts.ts";
import type { StoredCredential } from "../store/types.ts";
import type { Context } from "../context.ts";
import type { LoginOptions } from "../flows/login-options.ts";

export type { LoginOptions };

export async function login(ctx: Context, options: LoginOptions): Promise<void> {
  const ref = options.providerId ? parseAccountRef(options.providerId) : undefined;
  const provider = ref ? ctx.registry.require(ref.provider) : await pickProvider(ctx, options);
  options.account =
    ref?.account ?? defaultAccountOf(ctx.store.readMetadata().credentials, provider.id) ?? DEFAULT_ACCOUNT;
  const method = await chooseMethod(ctx, provider, options);
  // Before any provider is contacted: a grant approved and then not saved is left at the provider.
  ctx.store.assertWritable();
  if (method.kind === "api_key") {
    rejectAccountOptions(provider, method, options);
    await loginWithKey(ctx, provider, options);
    return;
  }
  if (options.device && !method.flows.includes("device")) {
    throw new AuthctlError("USAGE", `${provider.name}'s '${method.id}' login has no device-code flow`, {
      hint: `run 'authctl login ${provider.id} --no-browser' to paste the code instead`,
    });
  }
  const { loginWithOAuth } = await import("../flows/oauth-login.ts");
  await loginWithOAuth(ctx, provider, method, options);
}

/** --device and --host shape an account login; with a key they would be silently ignored. */
function rejectAccountOptions(
  provider: ProviderDefinition,
  method: ProviderMethod,
  options: LoginOptions,
): void {
  const flag = options.device ? "--device" : options.host !== undefined ? "--host" : undefined;
  if (!flag) return;
  const methods = provider.methods.map((m) => m.id).join(", ");
  const fitting = provider.methods.filter(
    (m) => m.kind === "oauth" && (flag === "--device" ? m.flows.includes("device") : m.hooks?.forHost),
  );
  if (fitting.length === 0) {
    throw new AuthctlError(
      "USAGE",
      `${flag} does not apply to ${provider.name}, which logs in with: ${methods}`,
      {
        hint: `run 'authctl login ${provider.id}' without ${flag}`,
      },
    );
  }
  throw new AuthctlError(
    "USAGE",
    `${flag} needs an account login, not ${provider.name}'s '${method.id}' method (methods: ${methods})`,
    {
      hint: `run 'authctl login ${provider.id} --method ${fitting[0]!.id} ${flag}${flag === "--host" ? " <host>" : ""}'`,
    },
  );
}

/**
 * --method (or --with-key) decides; otherwise a person at a terminal picks among the provider's
 * methods — key, account, subscription — each with its policy note, since they differ in more than
 * mechanics (gh asks "How would you like to authenticate?"). Scripts get the first, the default.
 */
async function chooseMethod(
  ctx: Context,
  provider: ProviderDefinition,
  options: LoginOptions,
): Promise<ProviderMethod> {
  const wanted = options.method ?? (options.withKey ? "key" : undefined);
  if (!wanted) {
    // --device and --host already say which kind of login is wanted: no question then.
    const ask = ctx.deps.interactive && !options.device && !options.host && provider.methods.length > 1;
    return ask ? pickMethod(ctx, provider, provider.methods) : provider.methods[0]!;
  }
  const method = provider.methods.find((m) => m.id === wanted);
  if (!method) {
    throw new AuthctlError("USAGE", `${provider.name} has no '${wanted}' login method`, {
      hint: `use one of: ${provider.methods.map((m) => m.id).join(", ")}`,
    });
  }
  if (options.withKey && method.kind !== "api_key") {
    throw new AuthctlError("USAGE", `--with-key goes with an API-key method, not '${method.id}'`, {
      hint: `use 'authctl login ${provider.id} --method key --with-key'`,
    });
  }
  return method;
}

async function pickMethod(
  ctx: Context,
  provider: ProviderDefinition,
  methods: ProviderMethod[],
): Promise<ProviderMethod> {
  if (methods.length === 1) return methods[0]!;
  const prompter = await ctx.deps.prompter();
  const id = await prompter.select(
    `How do you want to log in to ${provider.name}?`,
    methods.map((m) => ({ value: m.id, label: m.label, hint: methodNote(provider, m) })),
    { initial: methods[0]!.id },
  );
  return methods.find((m) => m.id === id)!;
}

/** What a person should know before choosing a method: what it gives, and what the provider allows. */
function methodNote(provider: ProviderDefinition, method: ProviderMethod): string {
  if (method.kind === "api_key") {
    return provider.keysPage
      ? `a key from ${new URL(provider.keysPage).host}, billed per use`
      : "a key from the provider's dashboard";
  }
  const what =
    method.hint ??
    method.notice ??
    (method.flows.includes("loopback")
      ? "your account, in the browser"
      : "your account, with a code shown here");
  // The stance's first words ("supported", "uncertain", "first-party client only"); `providers --json` has the rest.
  const policy = method.policy?.split(" (")[0];
  return policy ? `${what} · policy: ${policy}` : what;
}

/**
 * The picker asks how first — an account login or a pasted key — then which provider (filtered as
 * you type), so each list is short and every entry says what it will do; a provider with two
 * account logins (Anthropic: Console, Claude subscription) then asks which.
 */
async function pickProvider(ctx: Context, options: LoginOptions): Promise<ProviderDefinition> {
  if (!ctx.deps.interactive) {
    throw new AuthctlError("NEEDS_TTY", "no provider named and no terminal to pick one", {
      hint: "run 'authctl login <provider>' ('authctl providers' lists them)",
    });
  }
  const prompter = await ctx.deps.prompter();
  const stored = ctx.store.read().credentials;
  const providers = ctx.registry.list();
  const how = options.withKey
    ? "key"
    : await prompter.select("How do you want to log in?", [
        {
          value: "oauth",
          label: "Log in with your account",
          hint: "a browser or device login; no key to copy",
        },
        {
          value: "key",
          label: "Paste an API key",
          hint: "from the provider's dashboard; stored, never echoed",
        },
      ]);
  const kind = how === "oauth" ? "oauth" : "api_key";
  const candidates = providers
    .filter((p) => p.methods.some((m) => m.kind === kind))
    .sort((a, b) => a.name.localeCompare(b.name));
  const id = await prompter.select(
    how === "oauth" ? "Log in to which provider?" : "Which provider is the key for?",
    candidates.map((p) => {
      const methods = p.methods.filter((m) => m.kind === kind);
      const hint =
        how !== "oauth"
          ? p.hint
          : methods.length > 1
            ? methods.map((m) => m.label.replace(/\s*\(.*\)$/, "")).join(" or ")
            : methodNote(p, methods[0]!);
      return {
        value: p.id,
        label: p.name,
        hint: [stored[p.id] ? "logged in" : "", hint ?? ""].filter(Boolean).join(" · ") || undefined,
      };
    }),
    { search: true },
  );
  const provider = ctx.registry.require(id);
  if (!options.method)
    options.method = (
      await pickMethod(
        ctx,
        provider,
        provider.methods.filter((m) => m.kind === kind),
      )
    ).id;
  return provider;
}

async function loginWithKey(
  ctx: Context,
  provider: ProviderDefinition,
  options: LoginOptions,
): Promise<void> {
  const { deps } = ctx;
  let apiUrl: string | undefined;
  const key = await readKey(ctx, provider, options, async (candidate) => {
    registerSecret(candidate);
    if (options.verify === false) {
      deps.ui.info("not verified (--no-verify)");
      return;
    }
    // Ctrl-C while the provider is asked is a cancel (exit 2), not a death by SIGINT (130).
    const controller = new AbortController();
    const unsubscribe = deps.onInterrupt(() =>
      controller.abort(new AuthctlError("CANCELLED", "login cancelled")),
    );
    try {
      const verdict = await verifyKey(deps, provider, candidate, controller.signal);
      // A regional provider's key works only at the region that accepted it: keep that host.
      if (verdict.kind === "valid" && verdict.apiUrl) {
        apiUrl = verdict.apiUrl;
        deps.ui.success(
          `${provider.name} accepted the key (region ${verdict.region}: ${new URL(verdict.apiUrl).host})`,
        );
      } else if (verdict.kind === "valid") deps.ui.success(`${provider.name} accepted the key`);
      else if (verdict.kind === "unknown")
        deps.ui.warn(`could not verify the key (${verdict.reason}); storing it anyway`);
      else deps.ui.info(`${verdict.reason}; stored without verification`);
    } finally {
      unsubscribe();
    }
  });
  const now = deps.now();
  const account = options.account ?? DEFAULT_ACCOUNT;
  const previous = await ctx.store.update((credentials) => {
    const credential: StoredCredential = {
      method: "key",
      type: "api_key",
      key,
      created_at: now,
      updated_at: now,
    };
    if (apiUrl) credential.extra = { api_url: apiUrl };
    return putAccount(credentials, provider.id, account, credential);
  });
  if (previous) {
    const what =
      previous.type === "api_key" && previous.key
        ? `key ${maskSecret(previous.key)}`
        : `${previous.method} login`;
    deps.ui.info(`replaced the stored ${provider.name}${accountNote(account)} ${what}`);
  }
  deps.ui.success(
    `logged in to ${provider.name}${accountNote(account)} with key ${maskSecret(key)} (${ctx.store.path})`,
  );
}
