/**
 * The usual-case lane of `env`, `token` and `exec` (actions/usual-case.ts), from the arguments and
 * the texts main.ts read: loaded by main.ts with `import()` once its reads are under way, so the
 * module loading overlaps the file reads on Bun's thread pool (issue 18).
 */
import { answerUsualCase, type UsualAnswer } from "../actions/usual-case.ts";
import type { Env } from "../deps.ts";
import type { QuickText, USE_NODE_FS } from "../store/quick-read.ts";
import { usualRequest } from "./hot-args.ts";

export interface UsualFiles {
  home: string;
  configPath: string;
  storePath: string;
  config: QuickText | typeof USE_NODE_FS;
  store: QuickText | typeof USE_NODE_FS;
}

/** The answer to `argv`, or undefined where the full path must run. */
export async function usualCase(
  argv: string[],
  env: Env,
  files: UsualFiles,
  now: number,
  cwd: () => string,
): Promise<UsualAnswer | undefined> {
  const request = usualRequest(argv);
  if (!request) return undefined;
  const { config, store } = files;
  // Anything unusual about the files (another owner, a mode to tighten, no store at all) is the
  // full path's to refuse, repair or explain (store/quick-read.ts answers only the usual case).
  if (typeof config === "symbol" || typeof store === "symbol" || store.text === undefined) return undefined;
  if (((store.fileMode ?? 0) | (store.dirMode ?? 0)) & 0o077) return undefined;
  return answerUsualCase(request, {
    env,
    home: files.home,
    configPath: files.configPath,
    storePath: files.storePath,
    configText: config.text,
    storeText: store.text,
    now,
    cwd,
  });
}
