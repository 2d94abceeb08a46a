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

function openers(env: Env, platform: NodeJS.Platform, url: string): string[][] {
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
  if (platform === "win32") return [["cmd.exe", "/c", "start", "", url.replaceAll("&", "^&")]];
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
