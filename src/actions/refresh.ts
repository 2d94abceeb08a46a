import {
  AuthctlError,
  errorCode,
  HttpError,
  httpStatusOf,
  isAuthctlError,
  isServerTrouble,
  NetworkError,
  OAuthError,
} from "../errors.ts";
import {
  type ClientAuthMethod,
  clientAuthFor,
  discover,
  idTokenAfterRefresh,
  processTokenResponse,
  refreshTokenGrantRequest,
} from "../oauth/index.ts";
import { createHookDeps } from "../providers/hook-deps.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import { registerSecret } from "../redact.ts";
import type { StoredCredential } from "../store/types.ts";
import type { Context } from "../context.ts";
import { needsRefresh } from "../store/expiry.ts";

/** Below the store's stale-lock age by a wide margin: a refresh never outlives its lock. */
const REFRESH_TIMEOUT_MS = 20_000;
/** Server answers that mean the refresh token itself is dead (RFC 6749 §5.2, Codex's variants). */
const DEAD_GRANT = new Set([
  "invalid_grant",
  "refresh_token_reused",
  "refresh_token_expired",
  "refresh_token_invalidated",
  "invalid_token",
]);
/** Fetch failures that happen before a request can have reached the server: nothing was spent. */
const NOT_SENT =
  /^(ECONNREFUSED|ConnectionRefused|ENOTFOUND|EAI_AGAIN|EAI_NONAME|EHOSTUNREACH|ENETUNREACH|.*CERT.*|.*SSL.*|.*TLS.*|SELF_SIGNED.*|UNABLE_TO_.*)$/;
/** File-system errors that mean this store cannot be written at all (read-only mount, someone else's files). */
const UNWRITABLE = new Set(["EROFS", "EACCES", "EPERM"]);

export interface RefreshOptions {
  /** The token handed out must live at least this long (`token --min-ttl`); refused when it cannot. */
  minTtlMs?: number;
  /**
   * The access token the caller holds. When the store holds another one by the time the lock is
   * ours, another process refreshed meanwhile, and its token is used when it is good enough.
   */
  held?: string;
  /**
   * Refresh even though the token looks valid: the provider rejected `held` (the proxy after a
   * 401). No lifetime comparison decides this, so a new token that lives less than the old one
   * had left is still the answer.
   */
  force?: boolean;
  /** The account's store key (store/accounts.ts); the provider id (its account `default`) when absent. */
  key?: string;
}

/**
 * A refresh that failed for a reason that is not the grant's: the token endpoint could not be
 * reached, answered 5xx or 429, or its answer was lost; or the store cannot be written, so no
 * refresh was attempted. The stored credential is as good as it was: callers may hand out a
 * token that is still valid (with a warning) instead of failing.
 */
export class RefreshOutage extends AuthctlError {
  constructor(
    readonly kind: "unreachable" | "lost-answer" | "server-error" | "store-unwritable",
    message: string,
    options: { hint?: string; cause?: unknown },
  ) {
    super(kind === "store-unwritable" ? "STORE_IO" : "NETWORK", message, options);
  }
}

/**
 * Endpoints come from the provider's configuration each time (issue 11.16): a token endpoint the
 * issuer's discovery supplies is looked up again (once per process), so an endpoint the issuer
 * moved, or an issuer changed in config.toml, takes effect. The URL stored at login is used only
 * when discovery cannot be reached.
 */
async function tokenUrlFor(
  ctx: Context,
  provider: ProviderDefinition,
  credential: StoredCredential,
): Promise<{ url?: string; clientAuth?: ClientAuthMethod }> {
  const method = provider.methods.find((m) => m.id === credential.method);
  const oauth = method?.kind === "oauth" ? method.oauth : undefined;
  if (oauth?.tokenUrl) return { url: oauth.tokenUrl };
  if (oauth?.issuer) {
    try {
      const metadata = await discover(ctx.deps.http, oauth.issuer, { timeoutMs: 10_000 });
      // With it comes how the server wants the client secret (client_secret_basic, issue 14.10).
      return { url: metadata.token_endpoint, clientAuth: clientAuthFor(metadata) };
    } catch (error) {
      if (!isAuthctlError(error) || error.code !== "NETWORK") throw error;
    }
  }
  return { url: credential.extra?.token_url };
}

/**
 * RFC 6749 §5.1 makes expires_in optional. An answer without it does not make the new token
 * immortal: when the token it replaces had a known lifetime, the server's default is taken to be
 * that lifetime again, so the token is still refreshed in time. Without any known lifetime it stays
 * unknown (handed out as it is; `--min-ttl` and a proxy 401 refresh it).
 */
function expiryOf(
  tokens: { expires_at?: number },
  previous: StoredCredential,
  now: number,
): number | undefined {
  if (tokens.expires_at !== undefined) {
    // Beyond what the store can hold exactly (expires_in: 1e13): a broken answer, not a lifetime.
    if (!Number.isSafeInteger(tokens.expires_at))
      throw new AuthctlError("PROTOCOL", 'token endpoint answered an invalid "expires_in" (out of range)');
    return tokens.expires_at;
  }
  if (previous.expires_at === undefined) return undefined;
  const lifetime = previous.expires_at - (previous.obtained_at ?? previous.updated_at);
  return lifetime > 0 ? now + lifetime : undefined;
}

/** The OAuth `error` of a refusal that kills the grant; a 5xx is server trouble whatever it says. */
function deadGrantError(error: unknown): string | undefined {
  if (!(error instanceof OAuthError)) return undefined;
  const status = error.status;
  return DEAD_GRANT.has(error.error) && (status === undefined || status < 500) ? error.error : undefined;
}

/** A failure of the token request that leaves the grant as it was (or, for a lost answer, unknown). */
function asOutage(error: unknown, provider: ProviderDefinition): RefreshOutage | undefined {
  if (!isAuthctlError(error)) return undefined;
  const what = `could not refresh the ${provider.name} login`;
  if (error instanceof NetworkError) {
    const cause = error.cause;
    const code = errorCode(cause) ?? errorCode((cause as { cause?: unknown } | null)?.cause) ?? "";
    if (error.timeoutMs === undefined && NOT_SENT.test(code)) {
      return new RefreshOutage("unreachable", `${what}: ${error.message}`, {
        hint: error.hint,
        cause: error,
      });
    }
    // The request may have arrived and the server may have rotated the refresh token: say so
    // rather than "nothing changed". Not retried: a replay now could revoke the whole grant.
    const host = error.timeoutMs === undefined ? error.host : undefined;
    const lost = host
      ? `the connection to the token endpoint at ${host} ended before its answer arrived`
      : error.message;
    return new RefreshOutage(
      "lost-answer",
      `${what}: ${lost}; the server may have refreshed without authctl receiving the answer`,
      {
        hint: `run the command again; if the refresh is then refused, run 'authctl login ${provider.id}'`,
        cause: error,
      },
    );
  }
  if ((error instanceof OAuthError || error instanceof HttpError) && isServerTrouble(error)) {
    return new RefreshOutage("server-error", `${what}: ${error.message}`, {
      hint: "run the command again in a few minutes",
      cause: error,
    });
  }
  return undefined;
}

/** The store could not even be locked for writing: nothing was sent, so nothing was spent. */
function asUnwritable(error: unknown, ctx: Context, provider: ProviderDefinition): RefreshOutage | undefined {
  if (!isAuthctlError(error) || error.code !== "STORE_IO") return undefined;
  const code = errorCode(error.cause) ?? "";
  if (!UNWRITABLE.has(code)) return undefined;
  const why = code === "EROFS" ? "is read-only" : "cannot be written";
  return new RefreshOutage(
    "store-unwritable",
    `the credential store ${ctx.store.path} ${why} (${code}): the ${provider.name} token was not refreshed`,
    {
      hint: "let authctl write AUTHCTL_HOME (systemd: ReadWritePaths=) so that it can refresh; a copy elsewhere would spend the same grant",
      cause: error,
    },
  );
}

/**
 * Single-flight refresh across processes: inside the store's lock the store is read again, and
 * if another process already refreshed, its result is used and the token endpoint is not called.
 * The lock comes first, so a store that cannot be written is never refreshed (a rotated refresh
 * token that cannot be saved must not be asked for). A rotated refresh token is kept as soon as a
 * success answer carries it, even when the rest of that answer is refused (RFC 9700 §4.14.2), and
 * is on disk before the new access token is handed out. A network failure is not retried: the
 * server may have rotated already, and replaying the old token would revoke the whole grant. No
 * failure blanks a credential.
 */
export async function refreshCredential(
  ctx: Context,
  provider: ProviderDefinition,
  options: RefreshOptions = {},
): Promise<StoredCredential> {
  const { deps } = ctx;
  const minTtlMs = options.minTtlMs ?? 0;
  // One account's record: `openrouter` (the account `default`) or `openrouter@work`.
  const key = options.key ?? provider.id;
  type Outcome =
    | { kind: "ok"; credential: StoredCredential }
    | { kind: "failed"; error: unknown }
    | { kind: "gone" };
  let locked = false;
  let outcome: Outcome;
  try {
    outcome = await ctx.store.update(async (credentials, lock): Promise<Outcome> => {
      locked = true;
      const current = credentials[key];
      if (!current) return { kind: "gone" };
      const due = needsRefresh(current, deps.now(), minTtlMs);
      const replaced = options.held !== undefined && current.access_token !== options.held;
      // Another process refreshed while this one waited for the lock: its token is as fresh as ours
      // would be (a token of unknown lifetime cannot be compared, only known to be new).
      if (replaced && (!due || current.expires_at === undefined)) return { kind: "ok", credential: current };
      if (!due && !options.force) return { kind: "ok", credential: current };
      if (!current.refresh_token) {
        return {
          kind: "failed",
          error: new AuthctlError(
            "NOT_LOGGED_IN",
            `the ${provider.name} access token has expired and there is no refresh token`,
            {
              hint: `run 'authctl login ${key}'`,
            },
          ),
        };
      }
      const { url: tokenUrl, clientAuth } = await tokenUrlFor(ctx, provider, current);
      if (!tokenUrl)
        throw new AuthctlError("CONFIG_INVALID", `${provider.name} has no token_url to refresh with`, {
          hint: `run 'authctl login ${key}' again`,
        });
      const method = provider.methods.find((m) => m.id === current.method);
      const settings = method?.kind === "oauth" ? method.oauth : undefined;
      const used = current.refresh_token;
      // MiniMax answers refreshes in its own shape (a millisecond `expired_in`): without its reader
      // the expiry is lost after the first refresh and the token is never refreshed again.
      const processAnswer = method?.kind === "oauth" ? method.hooks?.processTokenAnswer : undefined;
      let rotated: string | undefined;
      // A lock that can lapse (the team store's lease): this process may have stalled past it, and
      // another machine may have spent this refresh token meanwhile. Confirmed held just before
      // the token is sent; when it is not, update() takes the lock again and this runs again on
      // what the store holds then (RFC 9700 §4.14.2: a server may revoke the grant on reuse).
      await lock?.confirm();
      try {
        const answer = await refreshTokenGrantRequest(deps.http, {
          tokenUrl,
          clientId: settings?.clientId,
          clientSecret: settings?.clientSecret,
          clientAuth,
          refreshToken: used,
          body: settings?.refreshBody ?? settings?.tokenBody ?? "form",
          timeoutMs: REFRESH_TIMEOUT_MS,
          headers:
            method?.kind === "oauth" ? method.hooks?.headers?.(createHookDeps(deps, provider)) : undefined,
        });
        const onRefreshToken = (token: string) => {
          registerSecret(token);
          rotated = token;
        };
        const tokens = processAnswer
          ? await processAnswer(answer, deps.now())
          : await processTokenResponse(answer, { now: deps.now(), onRefreshToken });
        registerSecret(tokens.access_token);
        registerSecret(tokens.refresh_token);
        const now = deps.now();
        const next: StoredCredential = {
          ...current,
          access_token: tokens.access_token,
          refresh_token: tokens.refresh_token ?? used,
          id_token: idTokenAfterRefresh(tokens.id_token, current.id_token, now),
          scope: tokens.scope ?? current.scope,
          expires_at: expiryOf(tokens, current, now),
          obtained_at: now,
          updated_at: now,
        };
        if (next.refresh_token !== used) next.rotated_at = now;
        delete next.needs_login;
        if (next.id_token === undefined) delete next.id_token;
        if (next.expires_at === undefined) delete next.expires_at;
        credentials[key] = next;
        return { kind: "ok", credential: next };
      } catch (error) {
        if (rotated !== undefined && rotated !== used) {
          // The server has spent the old refresh token; the new one is all the grant has left.
          // Keep it (and the access token that is still ours) before reporting the bad answer.
          credentials[key] = {
            ...current,
            refresh_token: rotated,
            rotated_at: deps.now(),
            updated_at: deps.now(),
          };
          return {
            kind: "failed",
            error: new AuthctlError(
              isAuthctlError(error) ? error.code : "PROTOCOL",
              `${provider.name} refreshed, but its answer was refused: ${(error as Error).message}; the new refresh token was kept`,
              {
                hint: "run the command again",
                cause: error,
              },
            ),
          };
        }
        const dead = deadGrantError(error);
        if (!dead) throw asOutage(error, provider) ?? error;
        // Another writer outside this lock (an older authctl, a restored backup) may have stored a
        // newer grant meanwhile: prefer it over declaring the login dead.
        const onDisk = ctx.store.read().credentials[key];
        if (
          onDisk?.refresh_token &&
          onDisk.refresh_token !== used &&
          !needsRefresh(onDisk, deps.now(), minTtlMs)
        ) {
          credentials[key] = onDisk;
          return { kind: "ok", credential: onDisk };
        }
        // Keep every secret: the user may still want to inspect or revoke it. Only mark it.
        credentials[key] = { ...current, needs_login: true, updated_at: deps.now() };
        // A server that rotates refresh tokens spends each one on use: a copy of this store that
        // refreshed first (a restored backup, a synced home) leaves this one holding a spent token.
        const copies =
          current.rotated_at !== undefined
            ? "; another copy of this store (a restored backup, a synced home directory) probably refreshed first"
            : "";
        return {
          kind: "failed",
          error: new AuthctlError(
            "NOT_LOGGED_IN",
            `${provider.name} refused to refresh the login (${(error as AuthctlError).message})${copies}`,
            {
              hint: `run 'authctl login ${key}'`,
              cause: error,
            },
          ),
        };
      }
    });
  } catch (error) {
    throw (!locked && asUnwritable(error, ctx, provider)) || error;
  }
  if (outcome.kind === "gone")
    throw new AuthctlError("NOT_LOGGED_IN", `${key} was logged out meanwhile`, {
      hint: `run 'authctl login ${key}'`,
    });
  if (outcome.kind === "failed") throw outcome.error;
  // A token refreshed just now is the freshest there is, whatever its (unknown) lifetime; a known
  // one must meet --min-ttl. A forced refresh promises nothing about lifetimes.
  const credential = outcome.credential;
  if (
    !options.force &&
    minTtlMs &&
    credential.expires_at !== undefined &&
    credential.expires_at - deps.now() < minTtlMs
  ) {
    throw new AuthctlError(
      "AUTH_FAILED",
      `${provider.name} issues tokens that live less than the requested --min-ttl`,
      {
        hint: "ask for a shorter --min-ttl",
      },
    );
  }
  return credential;
}
