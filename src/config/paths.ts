import { isAbsolute, join } from "../lazy-path.ts";
import type { Env } from "../deps.ts";

/**
 * Contract: AUTHCTL_HOME, else $XDG_CONFIG_HOME/authctl, else ~/.config/authctl (%APPDATA% on
 * Windows). A relative XDG_CONFIG_HOME or HOME is ignored, as the XDG Base Directory spec says
 * ("If an implementation encounters a relative path in any of these variables it should consider
 * the path invalid and ignore it"): it would name a different store in every working directory.
 */
export function resolveHome(env: Env, platform: NodeJS.Platform, userHome: () => string): string {
  if (env.AUTHCTL_HOME) return env.AUTHCTL_HOME;
  if (platform === "win32" && env.APPDATA) return join(env.APPDATA, "authctl");
  if (env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME)) return join(env.XDG_CONFIG_HOME, "authctl");
  // The account's home from the password database (main.ts): os.homedir() would hand back $HOME itself.
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : userHome();
  return join(home, ".config", "authctl");
}
