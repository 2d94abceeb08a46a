/**
 * The files authctl keeps in AUTHCTL_HOME, by name. A module of constants only: main.ts starts
 * reading them before anything else is loaded (issue 18).
 */

/** Settings and the user's own providers (config/config.ts). */
export const CONFIG_FILE = "config.toml";
/** The credential store's index, and its secrets where they are kept in the file (credentials-file.ts). */
export const CREDENTIALS_FILE = "credentials.toml";
/** The encrypted store's key, when no passphrase derives it (encrypted.ts). */
export const KEY_FILE = "key";
/** The key file holds an AES-256 key: 32 bytes. */
export const KEY_FILE_BYTES = 32;

/**
 * The stores that keep credentials.toml here, by the names AUTHCTL_STORE and `store` take
 * (store/backends.ts BACKEND_NAMES; test/unit/usual-case.test.ts holds the two lists equal). The
 * others (the team store on etcd) keep nothing here.
 */
export const LOCAL_STORE_NAMES: readonly string[] = ["keyring", "encrypted", "file"];
