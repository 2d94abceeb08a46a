/**
 * The one-line mutants of scripts/mutants.ts: realistic bugs in the modules where a slip is a
 * security problem. `from` must occur exactly once in `file`; `tests` are the test files that
 * should catch the mutant (kept short so one mutant costs seconds, not the whole suite).
 */
export interface Mutant {
  id: string;
  file: string;
  from: string;
  to: string;
  tests: string[];
  why: string;
}

export const MUTANTS: Mutant[] = [
  // PKCE and state (RFC 7636).
  {
    id: "pkce-plain",
    file: "src/oauth/pkce.ts",
    from: 'return { verifier, challenge: computeS256Challenge(verifier), method: "S256" };',
    to: 'return { verifier, challenge: verifier, method: "S256" };',
    tests: ["test/oauth/pkce.test.ts", "test/oauth/oidc-provider.test.ts"],
    why: "the challenge is the verifier itself (plain, sent under an S256 label)",
  },
  {
    id: "pkce-short-random",
    file: "src/oauth/pkce.ts",
    from: "const RANDOM_LENGTH = 32;",
    to: "const RANDOM_LENGTH = 8;",
    tests: ["test/oauth/pkce.test.ts"],
    why: "a 64-bit verifier and state",
  },
  {
    id: "state-is-verifier",
    file: "src/oauth/pkce.ts",
    from: "export function createState(randomBytes: RandomBytes): string {\n  return base64url(draw(randomBytes));",
    to: "export function createState(randomBytes: RandomBytes): string {\n  return base64url(new Uint8Array(32));",
    tests: ["test/oauth/pkce.test.ts"],
    why: "a constant state (no CSRF protection)",
  },
  // Files: modes, atomic replacement.
  {
    id: "atomic-write-mode",
    file: "src/store/atomic-write.ts",
    from: "if (!IS_WINDOWS) fchmodSync(fd, 0o600);",
    to: "if (!IS_WINDOWS) fchmodSync(fd, 0o644);",
    tests: ["test/unit/store.test.ts"],
    why: "the credential file readable by everyone",
  },
  {
    id: "atomic-write-no-excl",
    file: "src/store/atomic-write.ts",
    from: 'fd = openSync(temp, "wx", 0o600);',
    to: 'fd = openSync(temp, "w", 0o600);',
    tests: ["test/e2e/store-syscalls.test.ts"],
    why: "the temp file may already exist (a planted symlink or a file with other modes)",
  },
  {
    id: "private-dir-mode",
    file: "src/store/atomic-write.ts",
    from: "if (created !== undefined && !IS_WINDOWS) chmodSync(dir, 0o700);",
    to: "if (created !== undefined && !IS_WINDOWS) chmodSync(dir, 0o755);",
    tests: ["test/unit/store.test.ts"],
    why: "the store directory open to other users",
  },
  {
    id: "atomic-write-no-fsync",
    file: "src/store/atomic-write.ts",
    from: "    fsyncSync(fd);\n    closeSync(fd);",
    to: "    closeSync(fd);",
    tests: ["test/e2e/store-syscalls.test.ts"],
    why: "a crash after rename can leave an empty credentials file",
  },
  // The lock.
  {
    id: "lock-other-host-broken",
    file: "src/store/lock.ts",
    from: "  if (info.owner.host !== fx.hostname()) return false;\n",
    to: "",
    tests: ["test/unit/store.test.ts"],
    why: "a lock held by another host on a shared home is broken when its pid is unknown here",
  },
  {
    id: "lock-own-pid-alive",
    file: "src/store/lock.ts",
    from: "if (info.owner.pid === fx.pid) return !heldLocks.has(info.owner.nonce);",
    to: "if (info.owner.pid === fx.pid) return false;",
    tests: ["test/unit/store.test.ts"],
    why: "a dead process's lock with our recycled pid is never broken",
  },
  // Redaction.
  {
    id: "redact-known-off",
    file: "src/redact.ts",
    from: "if (value && value.length >= MIN_SECRET_LENGTH) knownSecrets.add(value);",
    to: "if (value && value.length >= MIN_SECRET_LENGTH) void knownSecrets;",
    tests: ["test/unit/redact.test.ts", "test/e2e/store-syscalls.test.ts"],
    why: "secrets authctl knows are no longer masked by value (opaque tokens leak)",
  },
  {
    id: "redact-bearer-off",
    file: "src/redact.ts",
    from: "  /(\\bBearer\\s+)[A-Za-z0-9._~+/=-]{8,}/gi,\n",
    to: "",
    tests: ["test/unit/redact.test.ts"],
    why: "a bearer token echoed in an error body is printed",
  },
  // Shell quoting.
  {
    id: "env-sh-quote",
    file: "src/format/env-format.ts",
    from: "sh: (name, value) => `export ${name}='${value.replaceAll(\"'\", `'\\\\''`)}'`,",
    to: "sh: (name, value) => `export ${name}='${value}'`,",
    tests: ["test/unit/shell-roundtrip.test.ts"],
    why: "a single quote in a value breaks out of the quoting and runs code",
  },
  {
    id: "env-fish-quote",
    file: "src/format/env-format.ts",
    from: "fish: (name, value) => `set -gx ${name} '${value.replace(/[\\\\']/g, \"\\\\$&\")}'`,",
    to: "fish: (name, value) => `set -gx ${name} '${value.replace(/[']/g, \"\\\\$&\")}'`,",
    tests: ["test/unit/shell-roundtrip.test.ts"],
    why: "a trailing backslash escapes fish's closing quote",
  },
  // OAuth authorization responses (RFC 6749 §10.12, RFC 9207).
  {
    id: "callback-state-unchecked",
    file: "src/oauth/callback.ts",
    from: 'if (expectedState !== undefined && state !== expectedState) return { kind: "bad-state" };',
    to: 'if (expectedState !== undefined && state === undefined) return { kind: "bad-state" };',
    tests: ["test/oauth/callback.test.ts"],
    why: "a callback carrying another attempt's state is accepted (login CSRF)",
  },
  {
    id: "callback-iss-unchecked",
    file: "src/oauth/callback.ts",
    from: "return iss === undefined ? expected.required : iss !== expected.issuer;",
    to: "return iss === undefined ? expected.required : false;",
    tests: ["test/oauth/callback.test.ts", "test/e2e/oauth-attacks.test.ts"],
    why: "an iss naming another server is accepted (mix-up, RFC 9207)",
  },
  {
    id: "callback-iss-optional",
    file: "src/oauth/callback.ts",
    from: "return iss === undefined ? expected.required : iss !== expected.issuer;",
    to: "return iss === undefined ? false : iss !== expected.issuer;",
    tests: ["test/oauth/callback.test.ts", "test/e2e/oauth-attacks.test.ts"],
    why: "a missing iss is accepted although the metadata promises it",
  },
  // The exec proxy.
  {
    id: "proxy-host-check",
    file: "src/proxy/admission.ts",
    from: 'if (!allowedHosts.has(host.toLowerCase())) return { status: 403, message: "unexpected Host header" };',
    to: 'if (host && !allowedHosts.has(host.toLowerCase())) return { status: 403, message: "unexpected Host header" };',
    tests: ["test/e2e/proxy-contract.test.ts"],
    why: "a request without Host (HTTP/1.0) is forwarded",
  },
  {
    id: "proxy-any-header-key",
    file: "src/proxy/admission.ts",
    from: 'for (const value of candidates) if (typeof value === "string" && sameSecret(value, placeholder)) ok = true;',
    to: 'for (const value of candidates) if (typeof value === "string" && value.length > 0) ok = true;',
    tests: ["test/e2e/proxy-contract.test.ts", "test/e2e/proxy.test.ts"],
    why: "any credential opens the proxy (another provider's placeholder, or a guess)",
  },
  {
    id: "proxy-replay-limit",
    file: "src/proxy/server.ts",
    from: "const REPLAY_LIMIT = 1 << 20;",
    to: "const REPLAY_LIMIT = 1 << 30;",
    tests: ["test/e2e/proxy-contract.test.ts"],
    why: "bodies of any size are buffered in memory for a replay",
  },
  {
    id: "proxy-cl-and-te",
    file: "src/proxy/http1.ts",
    from: 'if (length !== undefined) throw new WireError(400, "both Content-Length and Transfer-Encoding");',
    to: 'if (length !== undefined) framing = { kind: "none" };',
    tests: ["test/e2e/proxy-wire.test.ts"],
    why: "Content-Length next to Transfer-Encoding is accepted (request smuggling: CL.TE / TE.CL)",
  },
  {
    id: "proxy-duplicate-cl",
    file: "src/proxy/http1.ts",
    from: 'if (all.length > 1 || !/^\\d{1,15}$/.test(all[0]!)) throw new WireError(400, "invalid Content-Length");',
    to: 'if (!/^\\d{1,15}$/.test(all[0]!)) throw new WireError(400, "invalid Content-Length");',
    tests: ["test/e2e/proxy-wire.test.ts"],
    why: "a second Content-Length is ignored (request smuggling)",
  },
  {
    id: "proxy-obs-fold",
    file: "src/proxy/http1.ts",
    from: 'if (first === 32 || first === 9) throw new WireError(400, "obsolete line folding");',
    to: 'if (first === 9) throw new WireError(400, "obsolete line folding");',
    tests: ["test/e2e/proxy-wire.test.ts"],
    why: "a folded header line is accepted",
  },
  {
    id: "proxy-head-limit",
    file: "src/proxy/server.ts",
    from: "if (end > MAX_HEAD_BYTES || (end < 0 && this.buf.length > MAX_HEAD_BYTES))",
    to: "if (end < 0 && this.buf.length > MAX_HEAD_BYTES)",
    tests: ["test/e2e/proxy-wire.test.ts"],
    why: "a head over the limit that arrives in one read is forwarded",
  },
  // Refresh timing and bounds.
  {
    id: "refresh-margin-1m",
    file: "src/store/expiry.ts",
    from: "export const REFRESH_MARGIN_MS = 5 * 60_000;",
    to: "export const REFRESH_MARGIN_MS = 1 * 60_000;",
    tests: ["test/e2e/refresh.test.ts"],
    why: "tokens are refreshed one minute before expiry instead of five",
  },
  {
    id: "refresh-proxy-no-early-refresh",
    file: "src/proxy/credentials.ts",
    from: "if (credential.expires_at === undefined) return false;",
    to: "return false;",
    tests: ["test/e2e/refresh.test.ts"],
    why: "the proxy never refreshes before expiry (the 401 replay hides it; bodies over 1 MB then fail)",
  },
  {
    id: "refresh-network-retried",
    file: "src/actions/refresh.ts",
    from: "const answer = await refreshTokenGrantRequest(deps.fetch, {",
    to: "const answer = await ((input: Parameters<typeof refreshTokenGrantRequest>[1]) => refreshTokenGrantRequest(deps.fetch, input).catch(() => refreshTokenGrantRequest(deps.fetch, input)))({",
    tests: ["test/e2e/refresh.test.ts"],
    why: "a refresh whose answer was lost is sent again, replaying a refresh token the server may have rotated",
  },
  {
    id: "refresh-renew-min-ttl",
    file: "src/proxy/credentials.ts",
    from: "const next = await refresh({ held: rejected, force: true });",
    to: "const next = await refresh({ held: rejected, minTtlMs: Math.max(1, (credential.expires_at ?? 0) - ctx.deps.now() + 1) });",
    tests: ["test/e2e/refresh.test.ts"],
    why: "the proxy's 401 renewal compares lifetimes again (issue 12's race: a shorter new token is refused)",
  },
  {
    id: "refresh-rotation-dropped",
    file: "src/actions/refresh.ts",
    from: "if (rotated !== undefined && rotated !== used) {",
    to: "if (false) {",
    tests: ["test/e2e/refresh.test.ts"],
    why: "a rotated refresh token in a refused answer is thrown away; the next refresh replays the spent one",
  },
  {
    id: "refresh-outage-fails",
    file: "src/actions/resolve.ts",
    from: "if (error instanceof RefreshOutage && stillSatisfies(current, now, minTtlMs)) {",
    to: "if (false) {",
    tests: ["test/e2e/refresh.test.ts"],
    why: "an identity-provider outage or a read-only store breaks every token 5 minutes before it expires",
  },
  {
    id: "refresh-unknown-lifetime-kept",
    file: "src/store/expiry.ts",
    from: "if (credential.expires_at === undefined) return minTtlMs > 0 && credential.refresh_token !== undefined;",
    to: "if (credential.expires_at === undefined) return false;",
    tests: ["test/e2e/refresh.test.ts"],
    why: "a token without expires_in is never refreshed: --min-ttl prints it forever",
  },
  {
    id: "oauth-timeout-1h",
    file: "src/oauth/_http.ts",
    from: "export const DEFAULT_TIMEOUT_MS = 30_000;",
    to: "export const DEFAULT_TIMEOUT_MS = 3_600_000;",
    tests: ["test/unit/http-timeout.test.ts"],
    why: "a token or device request that never answers holds a login for an hour (issue 12)",
  },
  {
    id: "keyring-timeout-60s",
    file: "src/store/keyring.ts",
    from: "export const DEFAULT_KEYRING_TIMEOUT_MS = 2_000;",
    to: "export const DEFAULT_KEYRING_TIMEOUT_MS = 60_000;",
    tests: ["test/unit/keyring-timeout.test.ts"],
    why: "a silent session bus stalls env for a minute",
  },
  // The installer's checksum.
  {
    id: "install-no-checksum-compare",
    file: "install.sh",
    from: 'if [ "$actual" != "$expected" ]; then',
    to: 'if [ -z "$actual" ]; then',
    tests: ["test/e2e/install.test.ts"],
    why: "a binary whose hash differs from SHA256SUMS is installed",
  },
  {
    id: "install-no-entry",
    file: "install.sh",
    from: '[ -n "$expected" ] || fail "SHA256SUMS has no entry for $asset; nothing was installed"',
    to: '[ -n "$expected" ] || expected=$(sha256_of /dev/null)',
    tests: ["test/e2e/install.test.ts"],
    why: "a binary with no entry in SHA256SUMS gets a made-up expectation",
  },
];
