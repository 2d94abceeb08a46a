import { join } from "node:path";
import type { Env } from "../deps.ts";

/** Contract: AUTHCTL_HOME, else $XDG_CONFIG_HOME/authctl, else ~/.config/authctl (%APPDATA% on Windows). */
export function resolveHome(env: Env, platform: NodeJS.Platform, userHome: string): string {
  if (env.AUTHCTL_HOME) return env.AUTHCTL_HOME;
  if (platform === "win32" && env.APPDATA) return join(env.APPDATA, "authctl");
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, "authctl");
  return join(env.HOME || userHome, ".config", "authctl");
}
