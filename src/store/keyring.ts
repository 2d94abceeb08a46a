/**
 * The OS keyring through `Bun.secrets` (macOS Keychain, libsecret / Secret Service on Linux,
 * Windows Credential Manager): service `authctl`, one item per provider (account = provider id)
 * holding the credential's secret fields as JSON. Every call is bounded by a timeout: a locked
 * keyring whose unlock prompt nobody answers, or a Secret Service that never replies, must not
 * hang a shell start-up.
 *
 * On Linux a read first asks the Secret Service directly over D-Bus (see secret-service.ts): the
 * same item, without the ~15 ms libsecret costs to load, which `authctl env` in a shell start-up
 * cannot afford. Whatever that reader cannot settle (a locked item that needs an unlock prompt, a
 * bus it cannot speak to) goes to `Bun.secrets`, which can. Writes always go through `Bun.secrets`.
 */
import { existsSync } from "../lazy-fs.ts";
import type { Env } from "../deps.ts";
import { AuthctlError, errorCode } from "../errors.ts";
import { connectBus, type DBusConnection, openBus } from "../io/dbus.ts";
import { osSecrets, type SecretsApi } from "../io/os-secrets.ts";
import type { SecretVault } from "./backend.ts";
import { KeyringItemError } from "./errors.ts";
import {
  bunSecretAttributes,
  defaultCollectionState,
  openSecretReader,
  type SecretLookup,
  type SecretReader,
} from "./secret-service.ts";

export const KEYRING_SERVICE = "authctl";
const PROBE_NAME = "__authctl_probe__";
export const DEFAULT_KEYRING_TIMEOUT_MS = 2_000;

/** The keyring as the store uses it: an external backend's vault (see backend.ts for the contract). */
export type Keyring = SecretVault;

/** The error of a call that `what` did not answer within `ms`. */
function timedOut(what: string, ms: number): AuthctlError {
  return new AuthctlError("TIMEOUT", `${what} did not answer within ${ms / 1000}s`);
}

/** Rejects with TIMEOUT after `ms`. The call itself may go on in Bun's thread pool; nobody waits for it. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut(what, ms)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function keyringError(what: string, error: unknown): AuthctlError {
  if (error instanceof AuthctlError) return error;
  const reason = error instanceof Error ? error.message.split("\n", 1)[0] : String(error);
  return new AuthctlError("STORE_IO", `the keyring could not ${what}: ${reason}`, {
    hint: "unlock the keyring, or set AUTHCTL_STORE=encrypted",
    cause: error,
  });
}

export interface KeyringOptions {
  timeoutMs?: number;
  platform?: NodeJS.Platform;
  uid?: number;
  /** How the direct Secret Service reader reaches the bus; tests point it at their own. */
  connectBus?: (address: string, uid: number) => Promise<DBusConnection>;
  /** `Bun.secrets` unless a test stands in for it. */
  secrets?: SecretsApi;
  /**
   * How long a read may wait for a person to answer the keyring's unlock dialog (libsecret shows
   * it on a desktop). Undefined: no one can answer, so a locked item gets the ordinary timeout.
   */
  unlockWaitMs?: number;
  /** Tells the person what is being waited for (stderr). */
  notify?: (message: string) => void;
}

export type { SecretsApi };

/** The session bus address, as GDBus finds it: the variable, else the systemd user bus socket. */
export function sessionBusAddress(env: Env): string | undefined {
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  const runtimeBus = env.XDG_RUNTIME_DIR ? `${env.XDG_RUNTIME_DIR}/bus` : undefined;
  return runtimeBus && existsSync(runtimeBus) ? `unix:path=${runtimeBus}` : undefined;
}

interface ReaderAhead {
  address: string;
  uid: number;
  reader: SecretReader;
  /** The lookups started with it, by item name (the store key): each is taken once. */
  lookups: Map<string, Promise<SecretLookup>>;
  /** Closes it if nobody has taken it within the keyring's timeout. */
  unused?: ReturnType<typeof setTimeout>;
}
let readerAhead: ReaderAhead | undefined;

/** Closes `ahead` after the keyring's timeout unless a read takes it first. */
function closeUnused(ahead: ReaderAhead): void {
  clearTimeout(ahead.unused);
  ahead.unused = setTimeout(() => {
    if (readerAhead !== ahead) return;
    readerAhead = undefined;
    ahead.reader.close();
  }, DEFAULT_KEYRING_TIMEOUT_MS);
  (ahead.unused as { unref?: () => void }).unref?.();
}

/**
 * Connects to the session bus, opens the Secret Service session and looks up the items `names`
 * now, while `env`, `token` or `exec` still read and check the config and credentials.toml (main.ts,
 * through keyring-backend.ts startKeyringAhead). A read of one of these items then takes its
 * lookup, done or under way, instead of starting the whole conversation once the store is read
 * (connect, authenticate, Hello, OpenSession, SearchItems, then GetSecret: two round trips
 * through dbus-daemon and the keyring daemon). The lookup is the one a read makes
 * (SecretReader.lookup), and everything the read checks afterwards (the record's owner and
 * digest, libsecret for what the direct reader cannot settle) applies to what it found; a read
 * repeated under the store lock (backend-store.ts readSecrets) looks again. Locked items are only
 * reported, never unlocked, so nothing here can show a prompt. A failure is the read's to report,
 * as it would have been. What nobody takes is closed after the keyring's timeout.
 *
 * Called again while that reader is not taken (the usual case, with the store keys the records
 * resolved to: a default account the command line did not spell), it adds the lookups not yet
 * started to the same reader, as the read would have made them on it (readDirectly).
 */
export function startReaderAhead(env: Env, names: string[]): void {
  const address = (process.platform === "linux" || process.platform === "freebsd") && sessionBusAddress(env);
  if (!address) return;
  const uid = process.getuid?.() ?? 0;
  let ahead = readerAhead;
  if (ahead && (ahead.address !== address || ahead.uid !== uid)) return;
  if (!ahead) {
    let reader: SecretReader;
    try {
      reader = openSecretReader(openBus(address, uid));
    } catch {
      return; // an address without a Unix socket: the read says so
    }
    ahead = readerAhead = { address, uid, reader, lookups: new Map() };
    closeUnused(ahead);
  }
  for (const name of names) {
    if (ahead.lookups.has(name)) continue;
    const lookup = ahead.reader.lookup(bunSecretAttributes(KEYRING_SERVICE, name));
    lookup.catch(() => {}); // the read that takes it hears of a failure
    ahead.lookups.set(name, lookup);
  }
}

/**
 * For the usual case of `env`, `token` and `exec` (keyring-backend.ts readAhead): what the lookups
 * started ahead for `names` found, waited for together, left in place for the store's read, which
 * takes them as it would have if the usual case hands over. Undefined when one of them was not
 * started ahead or failed (the store's read hears of it), and when they have not all answered
 * within `ms`, the keyring's bound on a read: the usual case never waits longer than the store's
 * read would have. Those still under way then answer the store's read with the timeout it would
 * have reported by now (readDirectly), so a handed-over `env` does not wait a second bound on the
 * same lookups. The reader is not closed as unused while this waits.
 */
export async function awaitLookupsAhead(
  names: string[],
  ms = DEFAULT_KEYRING_TIMEOUT_MS,
): Promise<SecretLookup[] | undefined> {
  const ahead = readerAhead;
  const lookups = names.map((name) => ahead?.lookups.get(name));
  if (!ahead || lookups.some((lookup) => lookup === undefined)) return undefined;
  const answered = new Set<string>();
  names.forEach((name, i) =>
    lookups[i]!.then(
      () => answered.add(name),
      () => answered.add(name),
    ),
  );
  clearTimeout(ahead.unused);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), ms);
  });
  try {
    const found = await Promise.race([Promise.all(lookups as Array<Promise<SecretLookup>>), bound]);
    if (found !== "expired") return found;
    for (const name of names) {
      if (answered.has(name)) continue;
      const expired = Promise.reject(timedOut("the keyring", ms));
      expired.catch(() => {}); // the read that takes it hears of it
      ahead.lookups.set(name, expired);
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    if (readerAhead === ahead) closeUnused(ahead);
  }
}

/** The reader started ahead for this bus and uid, with its lookups, once. */
function takeReaderAhead(address: string, uid: number): ReaderAhead | undefined {
  const ahead = readerAhead;
  if (ahead?.address !== address || ahead.uid !== uid) return undefined;
  readerAhead = undefined;
  return ahead;
}

export function createBunKeyring(env: Env, options: KeyringOptions = {}): Keyring {
  const timeoutMs = options.timeoutMs ?? DEFAULT_KEYRING_TIMEOUT_MS;
  const platform = options.platform ?? process.platform;
  const uid = options.uid ?? process.getuid?.() ?? 0;
  const connect = options.connectBus ?? connectBus;
  // Bun.secrets is read on first use: the getter sets up its native side (about 0.6 MB of memory
  // in a compiled binary), and every command builds this object, `env` on a plain file store too.
  let secretsApi: SecretsApi | undefined;
  let secretsRead = false;
  const secrets = (): SecretsApi | undefined => {
    if (!secretsRead) (secretsApi = options.secrets ?? osSecrets()), (secretsRead = true);
    return secretsApi;
  };
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    const reason = quickUnavailableReason();
    if (reason)
      throw new AuthctlError("STORE_IO", `the keyring is not available: ${reason}`, {
        hint: "set AUTHCTL_STORE=encrypted",
      });
    try {
      return await withTimeout(run(), timeoutMs, "the keyring");
    } catch (error) {
      throw keyringError(what, error);
    }
  };
  function quickUnavailableReason(): string | undefined {
    if (!secrets()) return "this build of Bun has no Bun.secrets";
    // libsecret talks to the Secret Service over the session bus; without one it would try to
    // autolaunch a bus through X11, which fails (or worse, starts one nobody unlocks).
    if ((platform === "linux" || platform === "freebsd") && !sessionBusAddress(env))
      return "no D-Bus session bus";
    return undefined;
  }
  /** `use` run on a direct connection to the session bus; undefined when that fails in any way. */
  async function overBus<T>(use: (bus: DBusConnection) => Promise<T>): Promise<T | undefined> {
    if (platform !== "linux" && platform !== "freebsd") return undefined;
    let bus: DBusConnection | undefined;
    try {
      bus = await connect(sessionBusAddress(env)!, uid);
      return await use(bus);
    } catch {
      return undefined;
    } finally {
      bus?.close();
    }
  }
  // One connection and session serve every read of this process (`env a b c` reads three items,
  // concurrently when prefetched); it is closed once no read has used it for a moment.
  let reader: Promise<SecretReader> | SecretReader | undefined;
  /** Lookups started ahead with the reader (startReaderAhead), by item name; each taken once. */
  let lookupsAhead: Map<string, Promise<SecretLookup>> | undefined;
  let reading = 0;
  let idle: ReturnType<typeof setTimeout> | undefined;
  const dropReader = () => {
    if (reader instanceof Promise)
      reader.then(
        (r) => r.close(),
        () => {},
      );
    else reader?.close();
    reader = undefined;
    lookupsAhead = undefined;
  };
  /** The item's value, null when there is none, "locked", or undefined when only libsecret can tell. */
  async function readDirectly(id: string): Promise<string | null | "locked" | undefined> {
    if (platform !== "linux" && platform !== "freebsd") return undefined;
    clearTimeout(idle);
    reading++;
    const address = sessionBusAddress(env)!;
    try {
      // The default connection is opened without waiting (io/dbus.ts openBus): SearchItems is
      // sent (or queued behind the authentication, to go out with it in one write) before this
      // returns, so the caller's own work (the item's digest, _move.ts) overlaps the bus's answer.
      if (!reader) {
        const ahead = options.connectBus ? undefined : takeReaderAhead(address, uid);
        lookupsAhead = ahead?.lookups;
        reader =
          ahead?.reader ??
          (options.connectBus
            ? options.connectBus(address, uid).then(openSecretReader)
            : openSecretReader(openBus(address, uid)));
      }
      const early = lookupsAhead?.get(id);
      lookupsAhead?.delete(id);
      const ready = early ? undefined : reader instanceof Promise ? await reader : reader;
      const found = await (early ?? ready!.lookup(bunSecretAttributes(KEYRING_SERVICE, id)));
      if (found.status === "found") return found.value;
      return found.status === "absent" ? null : "locked";
    } catch (error) {
      dropReader();
      // A lookup started ahead that the usual case waited for as long as this read would have
      // (awaitLookupsAhead): the timeout this read would have reported, now rather than after a
      // second wait, and not libsecret's turn (it would wait as long on the same keyring daemon).
      if (error instanceof AuthctlError && error.code === "TIMEOUT") throw error;
      // Nobody listens where the variable points: libsecret would fail the same way, and the
      // likely cause is a shell (tmux, screen) that outlived the desktop session it came from.
      const code = errorCode(error);
      if (code === "ENOENT" || code === "ECONNREFUSED") {
        throw new AuthctlError("STORE_IO", `the keyring's session bus (${address}) is not there (${code})`, {
          hint: "this shell's DBUS_SESSION_BUS_ADDRESS may be stale (a tmux or screen session older than your login?): update or unset it, or set AUTHCTL_STORE=encrypted",
        });
      }
      return undefined;
    } finally {
      if (--reading === 0) {
        idle = setTimeout(dropReader, 200);
        (idle as { unref?: () => void }).unref?.();
      }
    }
  }
  return {
    quickUnavailableReason,
    async probe() {
      // A locked default collection takes writes only after an unlock prompt, which a headless
      // session cannot show and which would outlast the timeout on a desktop: say so up front.
      let state: Awaited<ReturnType<typeof defaultCollectionState>> | undefined;
      try {
        state = await withTimeout(overBus(defaultCollectionState), timeoutMs, "the keyring");
      } catch (error) {
        return (error as Error).message.replace(/^the keyring /, "it ");
      }
      if (state === "locked") return "it is locked";
      if (state === "none") return "it has no default collection to store into";
      try {
        await call("be reached", () => secrets()!.get({ service: KEYRING_SERVICE, name: PROBE_NAME }));
        return undefined;
      } catch (error) {
        return error instanceof Error
          ? error.message.replace(/^the keyring (is not available|could not be reached): /, "")
          : String(error);
      }
    },
    async get(id, getOptions) {
      const direct = await call(`read ${id}`, () => readDirectly(id));
      const fromLibsecret = () => secrets()!.get({ service: KEYRING_SERVICE, name: id });
      if (direct === null && getOptions?.expected) {
        // The index lists this item and the direct reader found none. It searches by the
        // attributes Bun.secrets files items under, Bun's schema name among them (secret-service.ts),
        // which is Bun's private detail: libsecret looks the item up the way Bun.secrets stored it,
        // so only its "absent" makes the item missing.
        return call(`read ${id}`, fromLibsecret);
      }
      if (direct !== undefined && direct !== "locked") return direct;
      if (direct === undefined) return call(`read ${id}`, fromLibsecret);
      // Locked. libsecret asks the keyring to unlock, which on a desktop shows its dialog: a person
      // needs longer than the timeout meant for a keyring that does not answer at all.
      if (options.unlockWaitMs !== undefined) {
        options.notify?.(
          `the keyring is locked: unlock it in its dialog to go on (waiting up to ${options.unlockWaitMs / 1000} s)`,
        );
      }
      let value: string | null;
      try {
        value = await withTimeout(fromLibsecret(), options.unlockWaitMs ?? timeoutMs, "the keyring");
      } catch (error) {
        throw keyringError(`read ${id}`, error);
      }
      // Where it cannot unlock, libsecret answers as if there were no item: that must not read as
      // "not logged in".
      if (value === null) {
        throw new KeyringItemError("locked", id, `the keyring holding authctl/${id} is locked`, {
          hint: "unlock it (log in to the desktop session, or run gnome-keyring-daemon --unlock), or move to AUTHCTL_STORE=encrypted",
        });
      }
      return value;
    },
    put: (id, value) =>
      call(`store ${id}`, () => secrets()!.set({ service: KEYRING_SERVICE, name: id, value })),
    remove: (id) => call(`delete ${id}`, () => secrets()!.delete({ service: KEYRING_SERVICE, name: id })),
  };
}
