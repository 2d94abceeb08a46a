import type { Env } from "../deps.ts";
import { isAuthctlSecretName } from "../names.ts";

/**
 * Opening the user's browser. `$BROWSER` first (devcontainers and WSL set it to a helper that
 * reaches the host), then the platform's opener. Over SSH, or on Linux without a display, no
 * opener is tried at all: a console browser inside the user's terminal looks like a hang
 * (cli/cli#13445).
 */
export function canOpenBrowser(env: Env, platform: NodeJS.Platform): boolean {
  if (env.BROWSER) return true;
  if (env.SSH_TTY || env.SSH_CONNECTION) return false;
  if (platform === "linux" && !env.DISPLAY && !env.WAYLAND_DISPLAY && !isWsl(env)) return false;
  return true;
}

function isWsl(env: Env): boolean {
  return Boolean(env.WSL_DISTRO_NAME || env.WSL_INTEROP);
}

/** The commands tried in order to open `url` (exported for the Windows test: it cannot run here). */
export function openers(env: Env, platform: NodeJS.Platform, url: string): string[][] {
  if (env.BROWSER) {
    // BROWSER may be a colon-separated list (the xdg convention) and may contain %s.
    return env.BROWSER.split(":")
      .filter(Boolean)
      .map((cmd) =>
        cmd.includes("%s")
          ? ["sh", "-c", cmd.replaceAll("%s", '"$1"'), "sh", url]
          : ["sh", "-c", `${cmd} "$1"`, "sh", url],
      );
  }
  if (platform === "darwin") return [["open", url]];
  // Not `cmd.exe /c start "" <url>`: cmd parses the URL as a command line, where `|`, `<`, `>`
  // and `^` are operators and %NAME% expands, and a URL path keeps `|` and `%` as they are, so an
  // authorization or verification URL from an OAuth server's answer could run a command (and
  // put an environment variable into the URL it opens). rundll32's FileProtocolHandler hands the
  // URL to the default browser without a shell, as Go's pkg/browser and GitHub CLI do.
  if (platform === "win32") return [["rundll32.exe", "url.dll,FileProtocolHandler", url]];
  if (isWsl(env))
    return [
      ["wslview", url],
      ["explorer.exe", url],
      ["xdg-open", url],
    ];
  return [["xdg-open", url]];
}

/** Resolves true when an opener started and exited 0 within a few seconds. */
export async function openBrowser(url: string, env: Env, platform: NodeJS.Platform): Promise<boolean> {
  if (!canOpenBrowser(env, platform)) return false;
  // The URL as the WHATWG parser spells it: a server's verification_uri_complete arrives as the
  // server wrote it, and the spelling normalises away spaces, quotes, tabs and line breaks. Only
  // a web URL goes to an opener (the OAuth checks allow nothing else; this keeps it so).
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed?.protocol !== "https:" && parsed?.protocol !== "http:") return false;
  url = parsed.href;
  // The rule exec's child has (issue 13.6): authctl's own secrets (AUTHCTL_PASSPHRASE opens the
  // whole store) stay here. A browser the opener starts outlives the login, with its helpers.
  const openerEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env))
    if (value !== undefined && !isAuthctlSecretName(name)) openerEnv[name] = value;
  for (const cmd of openers(env, platform, url)) {
    try {
      const child = Bun.spawn(cmd, {
        stdio: ["ignore", "ignore", "ignore"],
        env: openerEnv,
      });
      const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 5000).unref());
      const result = await Promise.race([child.exited, timeout]);
      // An opener that is still running after 5 s has most likely handed the URL to a browser.
      if (result === "timeout" || result === 0) return true;
    } catch {
      // ENOENT: try the next opener; a missing opener is never fatal (comsysto/opencode-sandbox#4).
    }
  }
  return false;
}
