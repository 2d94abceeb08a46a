import type { ArgsDef } from "citty";
import { version } from "../../package.json";
import { useExchangeFlags } from "../providers/registry.ts";
import { listBackendNames, STORE_NAMES } from "../store/backends.ts";

/**
 * Help text, rendered here rather than by citty: citty colours its help whenever the environment
 * lacks NO_COLOR=1 (pipes included, FORCE_COLOR=0 ignored), cannot show exec's `-- command` or
 * store's `migrate --to`, and prints `--verify` and `--no-verify` as two options.
 */
export interface CommandHelp {
  description: string;
  /** The usage line without "authctl "; usage errors print it too. */
  usage: string;
  /** Options citty does not parse for this command (exec and store split their own argv). */
  options?: Array<[flags: string, description: string]>;
  examples: Array<[command: string, comment: string]>;
}

export const COMMAND_HELP: Record<string, CommandHelp> = {
  login: {
    description: "Log in to a provider and store the credential",
    usage:
      "login [provider][@account] [--method <method>] [--with-key] [--no-verify] [--device] [--no-browser] [--timeout <duration>] [--host <host>]",
    examples: [
      ["authctl login openrouter", "an account login in the browser (a picker without a provider)"],
      [
        "pass show or-work | authctl login openrouter@work --with-key",
        "a key from stdin (never argv), as a named account",
      ],
      ["authctl login github-copilot --device", "a code to type in on another device"],
    ],
  },
  logout: {
    description: "Remove stored credentials (and revoke them where the provider can)",
    usage: "logout [<provider>[@<account>]…] [--all]",
    examples: [
      ["authctl logout openrouter", "its default account (the first other one by name becomes the default)"],
      ["authctl logout openrouter@work", "that account only ('openrouter --all': every openrouter account)"],
      ["authctl logout --all", "everything stored, providers no longer in config.toml included"],
    ],
  },
  status: {
    description: "Show who is logged in, how, and from where (exit 4 when a credential cannot be used)",
    usage: "status [provider…] [--json] [--check]",
    examples: [
      ["authctl status", "every stored login and every provider variable in the environment"],
      ["authctl status anthropic --json", "for scripts"],
      ["authctl status --check", "also read each secret where it lives (keyring, sealed file)"],
    ],
  },
  env: {
    description: "Print the providers' variables for eval",
    usage: "env [provider…] [--format sh|fish|powershell|dotenv|json|github-env]",
    examples: [
      ['eval "$(authctl env openrouter)"', "export OPENROUTER_API_KEY into this shell"],
      ["authctl env --format dotenv > .env.local", "every logged-in provider"],
      ["authctl env anthropic -f fish | source", "fish"],
    ],
  },
  exec: {
    description: "Run a command with the credentials in its environment",
    usage: "exec [-p <provider>]… [--proxy] -- <command> [args…]",
    options: [
      [
        "-p, --provider <provider>",
        "provider to inject (repeatable, or comma-separated; default: every logged-in one)",
      ],
      ["--proxy", "give the command a local proxy and a placeholder instead of the secret"],
      ["-- <command> [args…]", "the command to run, found on PATH; everything after -- is its own"],
    ],
    examples: [
      ["authctl exec -- python agent.py", "every logged-in provider's variables"],
      ["authctl exec -p anthropic -- claude", "just one provider"],
      ["authctl exec --proxy -p openai -- codex", "the command never sees the key"],
    ],
  },
  token: {
    description: "Print the bare secret (API key or access token), refreshing it first when needed",
    usage: `token <provider> [--min-ttl <duration>]${useExchangeFlags()
      .map(({ flag }) => ` [--${flag}]`)
      .join("")}`,
    examples: [
      ['curl -H "Authorization: Bearer $(authctl token openrouter)" https://openrouter.ai/api/v1/key', ""],
      ["authctl token mycorp --min-ttl 10m", "a token that stays valid at least 10 minutes"],
    ],
  },
  providers: {
    description: "List known providers, their login methods and variables",
    usage: "providers [provider…] [--json]",
    examples: [
      ["authctl providers", "✓ marks the ones you are logged in to"],
      ["authctl providers anthropic --json", "one provider: endpoints, key check, sources"],
    ],
  },
  store: {
    description: "Move secrets between backends, change what seals them, or start a new store",
    usage: `store migrate --to ${STORE_NAMES.join("|")} | store seal --with passphrase|key-file | store reset [--yes]`,
    options: [
      [
        "migrate --to <backend>",
        `${listBackendNames()} (etcd: the team store, [etcd] in config.toml); each secret is read back before its old copy goes`,
      ],
      [
        "seal --with <source>",
        "passphrase (AUTHCTL_PASSPHRASE) or key-file: re-seal the encrypted store with it",
      ],
      [
        "reset [--yes]",
        "start a new, empty store (the old file is kept aside); the way out of a lost key or passphrase",
      ],
    ],
    examples: [
      ["authctl store migrate --to keyring", "into the OS keyring"],
      [
        "AUTHCTL_PASSPHRASE=… authctl store seal --with passphrase",
        "seal with a passphrase instead of the key file",
      ],
      ["authctl store reset", "lists what is lost and asks first"],
    ],
  },
  switch: {
    description: "Make an account its provider's default (what the bare provider id means)",
    usage: "switch <provider>@<account>",
    examples: [
      ["authctl switch openrouter@work", "'openrouter' now means the work account"],
      ["authctl switch openrouter@default", "back to the account stored without a name"],
    ],
  },
  allow: {
    description: "Trust the project file .authctl.toml found from here upward (as it is now)",
    usage: "allow",
    examples: [
      ["cat .authctl.toml && authctl allow", "read what it selects, then trust it"],
      ["authctl exec -- claude", "then hands out exactly what the project file selects"],
    ],
  },
  deny: {
    description: "Forget the project file .authctl.toml found from here upward",
    usage: "deny",
    examples: [["authctl deny", "env and exec without providers refuse it again"]],
  },
  upgrade: {
    description: "Replace this binary with the newest release (checksum-verified)",
    usage: "upgrade [--version <version>]",
    examples: [
      ["authctl upgrade", ""],
      ["authctl upgrade --version 0.2.0", ""],
    ],
  },
};

type Paint = (code: string, text: string) => string;
const painter =
  (color: boolean): Paint =>
  (code, text) =>
    color ? `\x1b[${code}m${text}\x1b[0m` : text;

export function usageLine(command: string): string {
  const help = COMMAND_HELP[command];
  return help ? `authctl ${help.usage}` : "authctl <command> [options]";
}

export function renderMainHelp(color: boolean): string {
  const paint = painter(color);
  const names = Object.keys(COMMAND_HELP);
  const width = Math.max(...names.map((n) => n.length));
  return [
    `authctl ${version} — model-provider credentials for AI agents and developer tools`,
    "",
    `${paint("1", "Usage:")} authctl <command> [options]`,
    "",
    paint("1", "Commands:"),
    ...names.map((name) => `  ${paint("36", name.padEnd(width))}  ${COMMAND_HELP[name]!.description}`),
    "",
    paint("1", "Examples:"),
    "  authctl login openrouter",
    '  eval "$(authctl env openrouter)"',
    "  authctl exec -p anthropic -- claude",
    "  authctl status",
    "",
    "Run 'authctl <command> --help' (or 'authctl help <command>') for a command's options.",
    "Exit codes: 0 ok, 1 error, 2 usage or cancelled, 4 not logged in or authentication failed.",
    "",
  ].join("\n");
}

export function renderCommandHelp(command: string, args: ArgsDef, color: boolean): string {
  const paint = painter(color);
  const help = COMMAND_HELP[command]!;
  const options = help.options ?? optionsFrom(args);
  const width = Math.max(0, ...options.map(([flags]) => flags.length));
  const lines = [help.description, "", `${paint("1", "Usage:")} authctl ${help.usage}`, ""];
  if (options.length) {
    lines.push(
      paint("1", "Options:"),
      ...options.map(([flags, text]) => `  ${paint("36", flags.padEnd(width))}  ${text}`),
      "",
    );
  }
  lines.push(paint("1", "Examples:"));
  const column = Math.max(
    ...help.examples.filter(([example]) => example.length <= 48).map(([example]) => example.length),
    0,
  );
  for (const [example, comment] of help.examples) {
    lines.push(comment ? `  ${example.padEnd(column)}   ${paint("2", `# ${comment}`)}` : `  ${example}`);
  }
  lines.push("");
  return lines.join("\n");
}

/** citty's argument definitions as option lines; a boolean that defaults to on is shown once, as --no-X. */
function optionsFrom(args: ArgsDef): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, raw] of Object.entries(args)) {
    const def = raw as {
      type?: string;
      alias?: string | string[];
      description?: string;
      negativeDescription?: string;
      default?: unknown;
      valueHint?: string;
    };
    if (def.type === "positional") continue;
    const alias = Array.isArray(def.alias) ? def.alias[0] : def.alias;
    const short = alias && alias.length === 1 ? `-${alias}, ` : "";
    if (def.type === "boolean" && def.default === true) {
      out.push([`--no-${name}`, def.negativeDescription ?? `do not ${def.description ?? name}`]);
    } else if (def.type === "boolean") {
      out.push([`${short}--${name}`, def.description ?? ""]);
    } else {
      out.push([`${short}--${name} <${def.valueHint ?? name}>`, def.description ?? ""]);
    }
  }
  return out;
}
