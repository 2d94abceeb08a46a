import { appendFileSync } from "../lazy-fs.ts";
import { describeLocation } from "../store/trust.ts";
import { AuthctlError } from "../errors.ts";
import { formatEnv, formatGithubEnv, type EnvFormat } from "../format/env-format.ts";
import type { Context } from "../context.ts";
import { projectSelection } from "./project.ts";
import {
  prefetchKeyringSecrets,
  resolveForUse,
  shareSnapshot,
  storedProviders,
  type ResolvedCredential,
} from "./resolve.ts";

export interface EnvOptions {
  providerIds: string[];
  format: EnvFormat;
}

/**
 * Named providers, else the project file's selection, else every stored one; "nothing at all"
 * says how to start. Named providers are all-or-nothing: the caller asked for each of them. Without names, one login that cannot be used
 * (its server down, its grant dead) must not cost the others: every credential that works is
 * handed out, and each one that does not gets one warning naming it, why, and what to run.
 */
export async function resolveMany(ctx: Context, providerIds: string[]): Promise<ResolvedCredential[]> {
  // An explicit provider wins over a project file, which is then not even looked for. The file's
  // selection is a list of names like any other: all-or-nothing, and exactly those.
  const selected = providerIds.length > 0 ? providerIds : projectSelection(ctx);
  if (selected?.length === 0) return [];
  const named = selected !== undefined;
  // One parse of credentials.toml serves the list, every record and every keyring read.
  const shared = shareSnapshot(ctx);
  const ids = selected ?? storedProviders(ctx, await shared.read()).map((p) => p.id);
  if (ids.length === 0) {
    throw new AuthctlError(
      "NOT_LOGGED_IN",
      `no provider is logged in (nothing stored in ${describeLocation(ctx.store.path)})`,
      { hint: "run 'authctl login' to add one" },
    );
  }
  const unique = [...new Set(ids)];
  const prefetched = unique.length > 1 ? prefetchKeyringSecrets(ctx, unique, await shared.read()) : undefined;
  const out: ResolvedCredential[] = [];
  const failures: unknown[] = [];
  for (const id of unique) {
    try {
      out.push(await resolveForUse(ctx, id, { prefetched: prefetched?.get(id), snapshot: shared }));
    } catch (error) {
      // Ctrl-C during a login started for one of them ends the whole command.
      if (named || unique.length === 1 || (error instanceof AuthctlError && error.code === "CANCELLED"))
        throw error;
      failures.push(error);
      const why = error instanceof Error ? error.message : String(error);
      const hint = error instanceof AuthctlError && error.hint ? ` (${error.hint})` : "";
      ctx.deps.ui.warn(`skipped ${id}: ${why}${hint}`);
    }
  }
  if (out.length === 0) {
    const first = failures[0];
    throw new AuthctlError(
      first instanceof AuthctlError ? first.code : "INTERNAL",
      "none of the logged-in providers could be used (see above)",
      { cause: first },
    );
  }
  return out;
}

export function collectVars(resolved: ResolvedCredential[]): Array<[string, string]> {
  const vars = new Map<string, string>();
  for (const r of resolved) for (const [name, value] of r.vars) vars.set(name, value);
  return [...vars];
}

export async function env(ctx: Context, options: EnvOptions): Promise<void> {
  const vars = collectVars(await resolveMany(ctx, options.providerIds));
  if (options.format !== "github-env") {
    ctx.deps.writeStdout(formatEnv(vars, options.format));
    return;
  }
  // $GITHUB_ENV is a file the runner reads after the step; the masks must reach the runner on
  // stdout, and must not end up in that file, so the two halves go to different places.
  const file = ctx.deps.env.GITHUB_ENV;
  if (!file) {
    throw new AuthctlError("USAGE", "--format github-env appends to $GITHUB_ENV, which is not set", {
      hint: "run it inside a GitHub Actions step, or use --format dotenv",
    });
  }
  const { masks, block } = formatGithubEnv(vars, () =>
    Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex"),
  );
  ctx.deps.writeStdout(masks);
  appendFileSync(file, block, { mode: 0o600 });
  ctx.deps.ui.info(`added ${vars.map(([name]) => name).join(", ")} to $GITHUB_ENV`);
}
