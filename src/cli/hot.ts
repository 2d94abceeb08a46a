import { env } from "../actions/env.ts";
import { exec } from "../actions/exec.ts";
import { token } from "../actions/token.ts";
import type { Context } from "../context.ts";
import type { Deps } from "../deps.ts";
import { AuthctlError } from "../errors.ts";
import { parseEnvFormat } from "../format/env-format.ts";
import { parseDuration, parseExecArgs, plainArgs } from "./hot-args.ts";

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
