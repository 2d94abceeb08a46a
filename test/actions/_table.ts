/**
 * What the action-level tables share: an action run as `authctl` would run it (the exit code its
 * error maps to, in the one exit-code function), stored credentials written out shortly, and the
 * stderr check the binary tests get from their harness (no test secret on stderr).
 */
import { expect } from "bun:test";
import { exitCodeFor } from "../../src/errors.ts";
import type { StoredCredential } from "../../src/store/types.ts";
import type { TestDeps } from "../helpers/deps.ts";

export const HOUR = 3_600_000;

/** Runs an action; the exit code is what main.ts would exit with (a returned number, or the error's). */
export async function run(
  t: TestDeps,
  action: () => Promise<number | void>,
): Promise<{ code: number; error?: Error; stdout: string; stderr: string }> {
  let code = 0;
  let error: Error | undefined;
  try {
    const result = await action();
    if (typeof result === "number") code = result;
  } catch (caught) {
    error = caught as Error;
    code = exitCodeFor(caught);
  }
  for (const secret of SECRETS)
    if (t.stderr().includes(secret)) throw new Error(`a secret reached stderr: …${secret.slice(-4)}`);
  return { code, error, stdout: t.stdout(), stderr: t.stderr() };
}

const SECRETS = new Set<string>();
/** A test secret: the run fails if it ever reaches stderr. */
export function secret(value: string): string {
  SECRETS.add(value);
  return value;
}

/** An API key as `login --with-key` stores it. */
export function keyCredential(key: string, at: number): StoredCredential {
  return { method: "key", type: "api_key", key, created_at: at, updated_at: at };
}

/** An OAuth login that expires `expiresIn` after `now`, obtained `lifetime` before it expires. */
export function oauthCredential(
  now: number,
  fields: {
    method?: string;
    access: string;
    refresh?: string;
    expiresIn: number;
    lifetime?: number;
    needsLogin?: boolean;
    account?: string;
  },
): StoredCredential {
  const expires = now + fields.expiresIn;
  const credential: StoredCredential = {
    method: fields.method ?? "oauth",
    type: "oauth",
    access_token: fields.access,
    expires_at: expires,
    obtained_at: expires - (fields.lifetime ?? HOUR),
    created_at: now - 2 * HOUR,
    updated_at: now - HOUR,
  };
  if (fields.refresh) credential.refresh_token = fields.refresh;
  if (fields.needsLogin) credential.needs_login = true;
  if (fields.account) credential.account = fields.account;
  return credential;
}

/** The ids a store holds, sorted. */
export async function storedIds(t: TestDeps): Promise<string[]> {
  return Object.keys(await t.stored()).sort();
}

export function expectLines(text: string, lines: string[]): void {
  for (const line of lines) expect(text).toContain(line);
}
