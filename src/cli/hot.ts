import { env } from "../actions/env.ts";
import { exec } from "../actions/exec.ts";
import { token } from "../actions/token.ts";
import type { Context } from "../context.ts";
import type { Deps } from "../deps.ts";
import { didYouMean } from "../did-you-mean.ts";
import { AuthctlError } from "../errors.ts";
import { parseEnvFormat } from "../format/env-format.ts";

/**
 * `env`, `token` and `exec` without citty. They run in shell start-up and before every agent
 * launch, and the full CLI (citty and its node:util, every command's definition, the help) costs
 * a compiled binary about 2 MB of memory before any work is done. Only the plain forms are parsed
 * here, with the meaning citty gives them; anything else (--help, `--`, an unknown or repeated
 * option, a value that looks like an option, `--no-…`) returns undefined and goes through the
 * full CLI (cli/index.ts), so its messages and exit codes stay where they are. `context` comes
 * from main.ts and is built on first call: a usage error needs neither the config nor the store.
 *
 * The three actions are imported here, not with `await import()` when reached: each dynamic import
 * is a chunk of its own in the binary (scripts/build.ts), and the hot path loads them all anyway.
 * With compose.ts imported the same way from main.ts, `env openrouter` loads 12 chunks instead of
 * 22, -0.85 ms median wall (issue 18, scripts/bench.ts' method).
 */
export async function runHot(
  argv: string[],
  deps: Deps,
  context: () => Promise<Context>,
): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (name === "exec") {
    // cli/index.ts shows exec's help for --help before `--` or as its first word.
    if (
      rest[0] === "--help" ||
      rest[0] === "-h" ||
      rest.slice(0, Math.max(0, rest.indexOf("--"))).some((arg) => arg === "--help" || arg === "-h")
    )
      return undefined;
    return guarded(name, async () => {
      // The context before the arguments, as in cli/commands.ts: the same error comes first.
      return exec(await context(), parseExecArgs(rest));
    });
  }
  if (name === "env") {
    const parsed = plainArgs(rest, ["format", "f"], []);
    if (!parsed) return undefined;
    const format = parsed.strings.format ?? parsed.strings.f;
    if (parsed.strings.format !== undefined && parsed.strings.f !== undefined) return undefined;
    return guarded(name, async () => {
      const envFormat = parseEnvFormat(format ?? "sh");
      await env(await context(), { providerIds: parsed.positionals, format: envFormat });
      return 0;
    });
  }
  if (name === "token") {
    // The providers' exchange flags (--copilot): the registry is loaded for the token anyway.
    const { useExchangeFlags } =
      require("../providers/registry.ts") as typeof import("../providers/registry.ts");
    const exchangeFlags = useExchangeFlags().map(({ flag }) => flag);
    const parsed = plainArgs(rest, ["min-ttl"], exchangeFlags);
    // Two exchange flags at once: the full CLI says why not.
    if (!parsed || exchangeFlags.filter((flag) => parsed.booleans.has(flag)).length > 1) return undefined;
    return guarded(name, async () => {
      const ids = parsed.positionals;
      if (ids.length === 0)
        throw new AuthctlError("USAGE", "token needs a provider", {
          hint: "e.g. authctl token openrouter ('authctl status' lists yours)",
        });
      if (ids.length > 1)
        throw new AuthctlError("USAGE", `token takes one provider, got: ${ids.join(" ")}`, {
          hint: `run 'authctl token ${ids[0]}'`,
        });
      const minTtl = parsed.strings["min-ttl"];
      await token(await context(), {
        providerId: ids[0]!,
        minTtlMs: minTtl === undefined ? undefined : parseDuration(minTtl),
        exchange: exchangeFlags.find((flag) => parsed.booleans.has(flag)),
      });
      return 0;
    });
  }
  return undefined;
}

/** Errors get the same treatment as in cli/index.ts (the usage line for usage errors). */
async function guarded(command: string, run: () => Promise<number | void>): Promise<number> {
  try {
    const result = await run();
    return typeof result === "number" ? result : 0;
  } catch (error) {
    const { withUsage } = await import("./usage.ts");
    throw withUsage(error, command);
  }
}

/**
 * Positionals, `--name value` / `--name=value` / `-x value` for the string options and `--name`
 * for the boolean ones, each at most once. Undefined for anything else: the full CLI decides.
 */
function plainArgs(args: string[], strings: string[], booleans: string[]) {
  const positionals: string[] = [];
  const values: Record<string, string> = {};
  const flags = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const token = args[i]!;
    if (!token.startsWith("-")) {
      positionals.push(token);
      continue;
    }
    const long = token.startsWith("--");
    const [key, inline] = long ? splitOnce(token.slice(2)) : [token.slice(1), undefined];
    if (!key || (!long && key.length !== 1) || key in values || flags.has(key)) return undefined;
    if (strings.includes(key)) {
      const value = inline ?? args[++i];
      if (value === undefined || value === "" || value.startsWith("-")) return undefined;
      values[key] = value;
    } else if (long && booleans.includes(key) && inline === undefined) flags.add(key);
    else return undefined;
  }
  return { positionals, strings: values as Record<string, string | undefined>, booleans: flags };
}

function splitOnce(text: string): [string, string | undefined] {
  const at = text.indexOf("=");
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match)
    throw new AuthctlError("USAGE", `cannot read '${text}' as a duration`, {
      hint: "use e.g. 90s, 5m or 1h",
    });
  const n = Number(match[1]);
  const unit = match[2] ?? "s";
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

/** exec splits its own argv: everything from `--` (or the first non-option word) is the child's. */
export function parseExecArgs(rawArgs: string[]): {
  providerIds: string[];
  command: string[];
  proxy: boolean;
} {
  const providerIds: string[] = [];
  let proxy = false;
  let i = 0;
  for (; i < rawArgs.length; i++) {
    const token = rawArgs[i]!;
    if (token === "--") {
      i++;
      break;
    }
    if (token === "--proxy") proxy = true;
    else if (token === "-p" || token === "--provider") {
      const value = rawArgs[++i];
      if (value === undefined || value === "--")
        throw new AuthctlError("USAGE", `${token} needs a provider id`, {
          hint: "authctl exec -p openrouter -- command",
        });
      providerIds.push(...value.split(","));
    } else if (token.startsWith("--provider=")) providerIds.push(...token.slice(11).split(","));
    else if (/^-p./.test(token)) providerIds.push(...token.slice(2).split(","));
    else if (token.startsWith("-")) {
      const guess = token.startsWith("--")
        ? didYouMean(token.split("=")[0]!, ["--provider", "--proxy", "--help"])
        : "";
      throw new AuthctlError("USAGE", `unknown option '${token}' for 'exec'${guess ? `; ${guess}` : ""}`, {
        hint: "put -- before the command: authctl exec -p openrouter -- command args",
      });
    } else break;
  }
  return { providerIds: providerIds.filter(Boolean), command: rawArgs.slice(i), proxy };
}
