/**
 * The arguments of `env`, `token` and `exec` in their plain forms, parsed without citty: by the
 * hot path (cli/hot.ts), by the usual-case lane main.ts tries first, and by the full CLI
 * (cli/commands.ts) for exec and durations. A leaf of cli/: it loads no action, store or provider.
 */
import { didYouMean } from "../did-you-mean.ts";
import type { UsualRequest } from "../actions/usual-case.ts";
import { AuthctlError } from "../errors.ts";
import { parseEnvFormat } from "../format/env-format.ts";

/**
 * Positionals, `--name value` / `--name=value` / `-x value` for the string options and `--name`
 * for the boolean ones, each at most once. Undefined for anything else: the full CLI decides.
 */
export function plainArgs(args: string[], strings: string[], booleans: string[]) {
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

/**
 * `env`, `token` or `exec` in the plain form the usual-case lane answers (actions/usual-case.ts),
 * read as cli/hot.ts reads it: named providers, `--format`/`-f` for env, `--min-ttl` for token,
 * `-p`/`--provider` and a command for exec. Undefined for anything else, a usage error included:
 * the full path then parses the arguments again and says what is wrong.
 */
export function usualRequest(argv: string[]): UsualRequest | undefined {
  const [name, ...rest] = argv;
  try {
    if (name === "env") {
      const parsed = plainArgs(rest, ["format", "f"], []);
      // No provider: every stored one, or the project file's (usual-case.ts hands over on a file).
      if (!parsed) return undefined;
      const { format, f } = parsed.strings;
      if (format !== undefined && f !== undefined) return undefined;
      const envFormat = parseEnvFormat(format ?? f ?? "sh");
      if (envFormat === "github-env") return undefined;
      return { command: "env", refs: parsed.positionals, format: envFormat };
    }
    if (name === "token") {
      const parsed = plainArgs(rest, ["min-ttl"], []);
      if (!parsed || parsed.positionals.length !== 1) return undefined;
      const minTtl = parsed.strings["min-ttl"];
      return {
        command: "token",
        refs: [parsed.positionals[0]!],
        minTtlMs: minTtl === undefined ? undefined : parseDuration(minTtl),
      };
    }
    if (name === "exec") {
      const dashes = rest.indexOf("--");
      if (rest.slice(0, dashes < 0 ? 1 : dashes).some((arg) => arg === "--help" || arg === "-h"))
        return undefined;
      const parsed = parseExecArgs(rest);
      if (parsed.proxy || parsed.command.length === 0) return undefined;
      return { command: "exec", refs: parsed.providerIds, argv: parsed.command };
    }
  } catch {
    // A usage error: the full path reports it.
  }
  return undefined;
}
