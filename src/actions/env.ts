import { appendFileSync } from "../lazy-fs.ts";
import { describeLocation } from "../store/trust.ts";
import { AuthctlError } from "../errors.ts";
import { formatEnv, formatGithubEnv, type EnvFormat } from "../format/env-format.ts";
import type { Context } from "../context.ts";
import {
  accountTarget,
  prefetchKeyringSecrets,
  resolveForUse,
  shareSnapshot,
  storedProviders,
  type ResolvedCredential,
  type SharedSnapshot,
} from "./resolve.ts";
import { collectVars } from "./vars.ts";

export { collectVars };

export interface EnvOptions {
  providerIds: string[];
  format: EnvFormat;
}

/**
 * Named providers, else the project file's selection, else every stored one; "nothing at all"
 * says how to start. Named providers are all-or-nothing: the caller asked for each of them.
 * Without names, one login that cannot be used (its server down, its grant dead) must not cost
 * the others: every credential that works is handed out, and each one that does not gets one
 * warning naming it, why, and what to run.
 */
export async function resolveMany(ctx: Context, providerIds: string[]): Promise<ResolvedCredential[]> {
  // An explicit provider wins over a project file, which is then not even looked for (nor its
  // module loaded). The file's selection is a list of names like any other: all-or-nothing, and
  // exactly those.
  const selected =
    providerIds.length > 0
      ? providerIds
      : await (require("./project.ts") as typeof import("./project.ts")).projectSelectionQuickly(ctx);
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
  const unique = await oneAccountPerProvider(ctx, [...new Set(ids)], shared);
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

/**
 * Two accounts of one provider would fight over the same variables (the last one silently
 * winning): a usage error, before anything is resolved. The same account named twice
 * (`openrouter` and the default `openrouter@work`) counts once.
 */
async function oneAccountPerProvider(ctx: Context, ids: string[], shared: SharedSnapshot): Promise<string[]> {
  // One name cannot clash: nothing more to read.
  if (ids.length < 2) return ids;
  const { credentials } = await shared.read();
  const byProvider = new Map<string, { key: string; id: string }>();
  const out: string[] = [];
  for (const id of ids) {
    const target = accountTarget(ctx, id, credentials);
    const seen = byProvider.get(target.provider.id);
    if (seen && seen.key !== target.key)
      throw new AuthctlError(
        "USAGE",
        `${seen.id} and ${id} are two accounts of ${target.provider.id}: both would set ${target.provider.keyVars.join(", ") || "the same variables"}`,
        { hint: `name one account per provider, e.g. -p ${seen.id}` },
      );
    if (seen) continue;
    byProvider.set(target.provider.id, { key: target.key, id });
    out.push(id);
  }
  return out;
}

export async function env(ctx: Context, options: EnvOptions): Promise<void> {
  const resolved = await resolveMany(ctx, options.providerIds);
  const vars = collectVars(resolved);
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
  const { masks, block } = formatGithubEnv(
    vars,
    () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex"),
    constantVars(resolved),
  );
  ctx.deps.writeStdout(masks);
  try {
    appendFileSync(file, block, { mode: 0o600 });
  } catch (error) {
    // A runner always hands the step a file it may append to; anything else is a $GITHUB_ENV set
    // by hand (or left over from another job), and the runtime's bare ENOENT named neither.
    throw new AuthctlError(
      "CONFIG_INVALID",
      `cannot append to $GITHUB_ENV (${file}): ${(error as Error).message.split(",", 1)[0]}`,
      {
        hint: "set GITHUB_ENV to a writable file (the runner sets it in each step); nothing was added",
        cause: error,
      },
    );
  }
  ctx.deps.ui.info(`added ${vars.map(([name]) => name).join(", ")} to $GITHUB_ENV`);
}

/** The variables a login method sets to a constant (`literal:` in its env map), not to a credential field. */
function constantVars(resolved: ResolvedCredential[]): Map<string, string> {
  const constants = new Map<string, string>();
  for (const r of resolved) {
    const method = r.provider.methods.find((m) => m.id === r.credential?.method);
    if (method?.kind !== "oauth") continue;
    for (const [name, field] of Object.entries(method.env))
      if (field.startsWith("literal:")) constants.set(name, field.slice("literal:".length));
  }
  return constants;
}
