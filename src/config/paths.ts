import { isAbsolute, join } from "../lazy-path.ts";
import type { Env } from "../deps.ts";
import { AuthctlError } from "../errors.ts";

/**
 * Contract: AUTHCTL_HOME, else $XDG_CONFIG_HOME/authctl, else ~/.config/authctl (%APPDATA% on
 * Windows). A relative XDG_CONFIG_HOME or HOME is ignored, as the XDG Base Directory spec says
 * ("If an implementation encounters a relative path in any of these variables it should consider
 * the path invalid and ignore it"): it would name a different store in every working directory.
 */
export function resolveHome(env: Env, platform: NodeJS.Platform, userHome: () => string): string {
  if (env.AUTHCTL_HOME) {
    // Only a shell expands `~`, and not inside quotes: systemd's Environment=, `docker run -e` and
    // `export AUTHCTL_HOME="~/x"` hand it over as it is. Used as a relative path, it put the store
    // in a directory named `~` under whatever the working directory was, while every message
    // showed `~/x`, and the next command run from elsewhere was "not logged in".
    if (env.AUTHCTL_HOME.startsWith("~")) throw tildeHome(env.AUTHCTL_HOME, env.HOME);
    return env.AUTHCTL_HOME;
  }
  if (platform === "win32" && env.APPDATA) return join(env.APPDATA, "authctl");
  if (env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME)) return join(env.XDG_CONFIG_HOME, "authctl");
  // The account's home from the password database (main.ts): os.homedir() would hand back $HOME itself.
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : userHome();
  return join(home, ".config", "authctl");
}

function tildeHome(value: string, home: string | undefined): AuthctlError {
  const expanded =
    value.startsWith("~/") && home && isAbsolute(home) ? join(home, value.slice(2)) : undefined;
  return new AuthctlError(
    "CONFIG_INVALID",
    `AUTHCTL_HOME=${value} starts with ~, which only a shell expands`,
    {
      hint: expanded
        ? `write the full path: AUTHCTL_HOME=${expanded}`
        : "write the full path of the directory, e.g. AUTHCTL_HOME=/var/lib/agent/authctl",
    },
  );
}
