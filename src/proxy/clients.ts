import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { ProxyRoute } from "./routes.ts";

/**
 * Programs that need more than the usual variables to use the session's proxy, keyed by the
 * command's file name. Each entry names the provider route it concerns and what `exec --proxy`
 * adds for that run; the run says so in one line on stderr. Checked against each program's source:
 *
 * - codex (@openai/codex 0.171) reads no OPENAI_BASE_URL for its built-in OpenAI provider, only
 *   the `openai_base_url` config key, which `-c key=value` overrides for one run.
 * - gemini (@google/gemini-cli 0.61) takes GOOGLE_GEMINI_BASE_URL as "use the gateway login"
 *   unless settings.json selects an auth type (getAuthTypeFromEnv), and then refuses the gateway
 *   type ("Invalid auth method selected", validateAuthMethod). Its system settings files must be
 *   root-owned, so the only per-run setting is a private copy of its home: GEMINI_CLI_HOME points
 *   at a temporary directory whose .gemini/ links every entry of the user's own, except a
 *   settings.json that is the user's plus `security.auth.selectedType = "gemini-api-key"`.
 */
export interface ClientGlue {
  provider: string;
  /** Arguments inserted right after the command name; `base` is the route's base URL. */
  args?: (base: string) => string[];
  settings?: SettingsCopy;
  /** The stderr line. */
  note: string;
}

interface SettingsCopy {
  /** The variable the program reads its home from, instead of HOME. */
  homeVar: string;
  /** The program's directory under that home, and its settings file there. */
  dir: string;
  file: string;
  /** Dotted setting paths and the values this run needs. */
  set: Record<string, string>;
}

export const CLIENT_GLUE: Record<string, ClientGlue> = {
  codex: {
    provider: "openai",
    args: (base) => ["-c", `openai_base_url=${JSON.stringify(base)}`],
    note: "codex reads no OPENAI_BASE_URL: this run adds -c openai_base_url=<proxy>",
  },
  gemini: {
    provider: "gemini",
    settings: {
      homeVar: "GEMINI_CLI_HOME",
      dir: ".gemini",
      file: "settings.json",
      set: { "security.auth.selectedType": "gemini-api-key" },
    },
    note: "gemini-cli needs its API-key login with a base URL: this run uses a copy of ~/.gemini whose settings.json selects gemini-api-key (GEMINI_CLI_HOME)",
  },
};

export interface AppliedGlue {
  argv: string[];
  env: Record<string, string>;
  notes: string[];
  /** Removes what the run created (the settings copy); the user's files are never touched. */
  cleanup(): void;
}

/** `env` is the child's environment, base-URL variables already pointing at the proxy. */
export function applyClientGlue(
  argv: string[],
  env: Record<string, string>,
  routes: ProxyRoute[],
): AppliedGlue {
  const name = basename(argv[0] ?? "");
  const glue = Object.hasOwn(CLIENT_GLUE, name) ? CLIENT_GLUE[name] : undefined;
  const none = { argv, env, notes: [], cleanup: () => undefined };
  const route = glue && routes.find((r) => r.provider.id === glue.provider);
  const base = route ? env[route.baseVar] : undefined;
  if (!glue || base === undefined) return none;
  const out: AppliedGlue = { ...none, argv: [...argv], env: { ...env }, notes: [glue.note] };
  if (glue.args) out.argv.splice(1, 0, ...glue.args(base));
  if (glue.settings) {
    const copy = copySettings(glue.settings, env);
    if ("problem" in copy) return { ...none, notes: [`${glue.note} — not done: ${copy.problem}`] };
    out.env[glue.settings.homeVar] = copy.home;
    out.cleanup = () => rmSync(copy.home, { recursive: true, force: true });
  }
  return out;
}

function copySettings(
  spec: SettingsCopy,
  env: Record<string, string>,
): { home: string } | { problem: string } {
  const source = join(env[spec.homeVar] || env.HOME || homedir(), spec.dir);
  let settings: Record<string, unknown> = {};
  const settingsPath = join(source, spec.file);
  if (existsSync(settingsPath)) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(settingsPath, "utf8"));
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error("not an object");
      settings = parsed as Record<string, unknown>;
    } catch {
      return {
        problem: `${settingsPath} is not plain JSON (comments?); set ${Object.entries(spec.set)
          .map(([k, v]) => `${k} = "${v}"`)
          .join(", ")} there yourself`,
      };
    }
  }
  for (const [path, value] of Object.entries(spec.set)) setPath(settings, path.split("."), value);
  // A private directory (mkdtemp: 0700): the copy holds links to the user's files, never secrets.
  const home = mkdtempSync(join(tmpdir(), "authctl-client-home-"));
  const target = join(home, spec.dir);
  mkdirSync(target);
  if (existsSync(source))
    for (const entry of readdirSync(source))
      if (entry !== spec.file) symlinkSync(join(source, entry), join(target, entry));
  writeFileSync(join(target, spec.file), `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
  return { home };
}

function setPath(object: Record<string, unknown>, path: string[], value: string): void {
  let node = object;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}
