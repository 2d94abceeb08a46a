import { defineCommand, type CommandDef } from "citty";
import type { Context } from "../context.ts";
import { parseEnvFormat } from "../format/env-format.ts";
import { AuthctlError } from "../errors.ts";
import { useExchangeFlags } from "../providers/registry.ts";
import { parseDuration, parseExecArgs } from "./hot-args.ts";
import { positionals } from "./shared.ts";

export { parseDuration, parseExecArgs };

/**
 * The commands as citty definitions. Each `run` body only turns parsed args into an options
 * object (the pure `parseXArgs`) and calls the action, loaded lazily so that `env` never
 * evaluates the login wizard's modules.
 */
/** Async: the team store on etcd reads the cluster once before any command uses the store. */
export type GetContext = () => Promise<Context>;
type Args = Record<string, unknown> & { _: string[] };

export function parseLoginArgs(args: Args, rawArgs: string[] = []) {
  const [providerId, ...rest] = positionals(args);
  const withKey = Boolean(args["with-key"]);
  // `--with-key=KEY` (citty reads it as true) or `--with-key KEY`: the key was typed where shell
  // history and ps keep it, and would be dropped for what stdin holds. Said so, without the key.
  const inline = rawArgs.some((arg) => arg.startsWith("--with-key="));
  if (inline || (withKey && rest.length))
    throw new AuthctlError(
      "USAGE",
      "--with-key takes no value: the key is read from stdin, never from the command line",
      { hint: `pipe it in: printf %s "$KEY" | authctl login ${providerId ?? "<provider>"} --with-key` },
    );
  if (rest.length)
    throw new AuthctlError("USAGE", `login takes one provider, got: ${[providerId, ...rest].join(" ")}`);
  return {
    providerId,
    method: args.method === undefined ? undefined : String(args.method),
    withKey,
    verify: args.verify !== false,
    device: Boolean(args.device),
    noBrowser: args.browser === false,
    timeoutMs:
      args.timeout === undefined ? undefined : parsePositiveDuration(String(args.timeout), "--timeout"),
    host: args.host === undefined ? undefined : String(args.host),
  };
}

/** A time limit of zero would end the login before it starts: a usage error, not a silent failure. */
export function parsePositiveDuration(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms <= 0)
    throw new AuthctlError("USAGE", `${flag} must be longer than 0`, { hint: `e.g. ${flag} 90s, 5m or 1h` });
  return ms;
}

export const loginArgs = {
  provider: { type: "positional", required: false, description: "provider id (a picker when omitted)" },
  method: { type: "string", valueHint: "method", description: "login method (see 'authctl providers')" },
  "with-key": { type: "boolean", description: "read an API key from stdin" },
  verify: {
    type: "boolean",
    default: true,
    description: "check the key with the provider",
    negativeDescription: "store the key without checking it with the provider",
  },
  device: { type: "boolean", description: "use the device-code flow (headless servers)" },
  browser: {
    type: "boolean",
    default: true,
    description: "open a browser",
    negativeDescription: "print the URL instead of opening a browser, and accept a pasted code",
  },
  timeout: { type: "string", valueHint: "duration", description: "give up after this long (default 5m)" },
  host: { type: "string", description: "the provider's host, e.g. company.ghe.com for GitHub Enterprise" },
} as const;

export function createLoginCommand(getContext: GetContext): CommandDef<any> {
  return defineCommand({
    meta: { name: "login", description: "Log in to a provider and store the credential" },
    args: loginArgs,
    async run({ args, rawArgs }) {
      const { login } = await import("../actions/login.ts");
      await login(await getContext(), parseLoginArgs(args as Args, rawArgs));
    },
  });
}

/**
 * `logout openrouter@work` one account, `logout openrouter` the provider's default account,
 * `logout openrouter --all` every account of it, `logout --all` everything (issue 20).
 */
export function parseLogoutArgs(args: Args): { providerIds: string[]; all: boolean } {
  return { providerIds: positionals(args), all: Boolean(args.all) };
}

export const logoutArgs = {
  provider: { type: "positional", required: false, description: "provider ids" },
  all: {
    type: "boolean",
    description:
      "every account of the named providers (of every provider when none is named; with neither, a terminal offers a list)",
  },
} as const;

export function createLogoutCommand(getContext: GetContext): CommandDef<any> {
  return defineCommand({
    meta: { name: "logout", description: "Remove stored credentials" },
    args: logoutArgs,
    async run({ args }) {
      const options = parseLogoutArgs(args as Args);
      const { logout } = await import("../actions/logout.ts");
      await logout(await getContext(), options);
    },
  });
}

export const statusArgs = {
  provider: { type: "positional", required: false, description: "provider ids (default: all)" },
  json: { type: "boolean", description: "machine-readable output on stdout" },
  check: {
    type: "boolean",
    description: "also read every stored secret (keyring, encrypted file) to prove it can be had",
  },
} as const;

export function createStatusCommand(getContext: GetContext): CommandDef<any> {
  return defineCommand({
    meta: { name: "status", description: "Show who is logged in, how, and from where" },
    args: statusArgs,
    async run({ args }) {
      const { status } = await import("../actions/status.ts");
      return status(await getContext(), {
        providerIds: positionals(args as Args),
        json: Boolean(args.json),
        check: Boolean(args.check),
      });
    },
  });
}

export const envArgs = {
  provider: {
    type: "positional",
    required: false,
    description: "provider ids (default: every logged-in one)",
  },
  format: {
    type: "string",
    alias: "f",
    default: "sh",
    valueHint: "format",
    description: "sh (default), fish, powershell, dotenv, json or github-env",
  },
} as const;

export function createEnvCommand(getContext: GetContext): CommandDef<any> {
  return defineCommand({
    meta: { name: "env", description: "Print the providers' variables for eval" },
    args: envArgs,
    async run({ args }) {
      const format = parseEnvFormat(String(args.format));
      const { env } = await import("../actions/env.ts");
      await env(await getContext(), { providerIds: positionals(args as Args), format });
    },
  });
}

export const tokenArgs = {
  // Not `required`: citty's own message for a missing positional is not a usage error; run() says it.
  provider: { type: "positional", required: false, description: "provider id" },
  "min-ttl": {
    type: "string",
    valueHint: "duration",
    description: "the token must stay valid at least this long (e.g. 10m)",
  },
  // Providers' exchanges at use (github-copilot's --copilot): declared by the providers.
  ...Object.fromEntries(
    useExchangeFlags().map(({ flag, description }) => [flag, { type: "boolean", description } as const]),
  ),
} as const;

export function createTokenCommand(getContext: GetContext): CommandDef<any> {
  return defineCommand({
    meta: { name: "token", description: "Print the bare secret (API key or access token)" },
    args: tokenArgs,
    async run({ args }) {
      const ids = positionals(args as Args);
      if (ids.length === 0)
        throw new AuthctlError("USAGE", "token needs a provider", {
          hint: "e.g. authctl token openrouter ('authctl status' lists yours)",
        });
      if (ids.length > 1)
        throw new AuthctlError("USAGE", `token takes one provider, got: ${ids.join(" ")}`, {
          hint: `run 'authctl token ${ids[0]}'`,
        });
      const { token } = await import("../actions/token.ts");
      const minTtl = args["min-ttl"];
      await token(await getContext(), {
        providerId: ids[0]!,
        minTtlMs: minTtl === undefined ? undefined : parseDuration(String(minTtl)),
        exchange: exchangeFlagOf(args),
      });
    },
  });
}

/** The one exchange flag given (`--copilot`), if any; two at once is a usage error. */
function exchangeFlagOf(args: Record<string, unknown>): string | undefined {
  const given = useExchangeFlags()
    .map(({ flag }) => flag)
    .filter((flag) => args[flag] === true);
  if (given.length > 1)
    throw new AuthctlError("USAGE", `token takes one of ${given.map((f) => `--${f}`).join(", ")}`);
  return given[0];
}

export const providersArgs = {
  json: { type: "boolean", description: "machine-readable output on stdout" },
} as const;

export function createProvidersCommand(getContext: GetContext): CommandDef<any> {
  return defineCommand({
    meta: { name: "providers", description: "List known providers, their methods and variables" },
    args: providersArgs,
    async run({ args }) {
      const { providers } = await import("../actions/providers.ts");
      providers(await getContext(), { json: Boolean(args.json), ids: positionals(args as { _: string[] }) });
    },
  });
}

export const execArgs = {
  provider: {
    type: "string",
    alias: "p",
    description: "provider to inject (repeatable; default: every logged-in one)",
  },
  proxy: {
    type: "boolean",
    description: "give the child a local proxy and a placeholder instead of the secret",
  },
} as const;

export function createExecCommand(getContext: GetContext, rawExecArgs: string[]): CommandDef<any> {
  return defineCommand({
    meta: { name: "exec", description: "Run a command with the credentials in its environment" },
    args: execArgs,
    async run() {
      const { exec } = await import("../actions/exec.ts");
      return exec(await getContext(), parseExecArgs(rawExecArgs));
    },
  });
}
