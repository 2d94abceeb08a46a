/**
 * The composition root's first step (main.ts imports it before anything else): for `env`, `token`
 * and `exec`, the reads of config.toml and credentials.toml start while this module is evaluated,
 * so they run on Bun's thread pool while the modules after it (the usual-case lane, main.ts) are
 * evaluated. ES modules are evaluated in import order, and main.ts' own code runs last: started
 * there, the reads waited for all of it (issue 18). Reads `process.*` as main.ts and root.ts do.
 */
import { resolveHome } from "./config/paths.ts";
import { join } from "./lazy-path.ts";
import { CONFIG_FILE, CREDENTIALS_FILE, KEY_FILE, KEY_FILE_BYTES, LOCAL_STORE_NAMES } from "./store/files.ts";
import { startKeyringAhead } from "./store/keyring-backend.ts";
import { CONFIG_READ, readKeyShared, readShared, STORE_READ } from "./store/quick-read.ts";

/**
 * `env`, `token` and `exec`: the commands of the hot path, by the first word that is not an
 * option (as they have always been picked).
 */
function isHotCommand(argv: string[]): boolean {
  const command = argv.find((arg) => !arg.startsWith("-"));
  return command === "env" || command === "token" || command === "exec";
}

/**
 * Starts the reads `env`, `token` and `exec` make, as soon as the home is known: Bun's file API
 * answers on its thread pool, a round trip each, and the reads overlap the loading of the code
 * that uses them. Measured with scripts/bench.ts' method (issue 18): -0.4 ms median wall on the
 * file store. The usual case looks at them first; the full path's readers (config.ts,
 * file-store.ts, backend-store.ts) take the same reads (store/quick-read.ts). Undefined where the
 * home is not plain to see (no HOME: root.ts asks the password database, and says what to set).
 */
function startReads(env: Record<string, string | undefined>) {
  let home: string;
  try {
    home = resolveHome(env, process.platform, () => {
      throw new Error("no HOME");
    });
  } catch {
    return undefined;
  }
  const configPath = join(home, CONFIG_FILE);
  const storePath = join(home, CREDENTIALS_FILE);
  const config = readShared(home, configPath, CONFIG_READ);
  // The team store (etcd) keeps no credentials.toml; a name that is no store's is the full path's error.
  const local = !env.AUTHCTL_STORE || LOCAL_STORE_NAMES.includes(env.AUTHCTL_STORE);
  const store = local ? readShared(home, storePath, STORE_READ) : undefined;
  // The encrypted store's key file, when that store is chosen here and opened by its key file (a
  // passphrase derives the key instead): backend-store.ts openAhead takes it.
  if (env.AUTHCTL_STORE === "encrypted" && !env.AUTHCTL_PASSPHRASE)
    readKeyShared(join(home, KEY_FILE), KEY_FILE_BYTES);
  // With AUTHCTL_STORE=keyring, the keyring's connection, session and the named items' lookups
  // too (keyring-backend.ts; the module is light, the D-Bus code loads only then).
  startKeyringAhead(env, argv);
  return { home, configPath, storePath, config, store };
}

/** The command line after the binary's name. */
export const argv = process.argv.slice(2);
/** `env`, `token` or `exec`. */
export const hot = isHotCommand(argv);
/** The reads of a hot command, started; undefined for the other commands, or where the home is not plain to see. */
export const reads = hot ? startReads(process.env as Record<string, string | undefined>) : undefined;
