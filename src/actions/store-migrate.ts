import { existsSync } from "node:fs";
import { join } from "node:path";
import { AuthctlError } from "../errors.ts";
import { KEY_FILE } from "../store/sealed.ts";
import { backendFor, isBackendName, isWholeStoreName } from "../store/backends.ts";
import { describeStore } from "../store/stores.ts";
import type { StoreName } from "../store/types.ts";
import type { Context } from "../context.ts";

const label = (name: StoreName) => describeStore(name).label;

/**
 * `authctl store migrate --to <backend>`. Every write is read back before its source is removed,
 * and every step leaves each secret in at least one place (see store/backend-store.ts).
 */
export async function storeMigrate(ctx: Context, to: StoreName): Promise<void> {
  // Into or out of a whole store (the team store on etcd): a move between two stores, not between backends.
  if (!isBackendName(to) || isWholeStoreName(ctx.store.backend)) {
    const team = await import("./store-team.ts");
    if (!isBackendName(to)) return team.migrateToWholeStore(ctx, to);
    return team.migrateFromWholeStore(ctx, to);
  }
  const { ui } = ctx.deps;
  const ids = Object.keys(ctx.store.read().credentials);
  const moves = await ctx.store.migrate(to);
  for (const move of moves) ui.info(`moved ${move.id} from ${label(move.from)} to ${label(move.to)}`);
  const stayed = ids.length - moves.length;
  if (ids.length === 0) ui.info("nothing is stored: nothing to migrate");
  else
    ui.success(
      `${ids.length} credential${ids.length === 1 ? "" : "s"} in ${label(to)}${stayed ? ` (${stayed} already there)` : ""}`,
    );
  if (ctx.store.backend !== to) {
    ui.info(
      `new secrets still go to ${label(ctx.store.backend)}: set AUTHCTL_STORE=${to} (or store = "${to}" in config.toml) to keep them in ${label(to)}`,
    );
  }
  if (backendFor(to).inClear) ui.warn(`secrets are now in clear in ${ctx.store.path} (mode 0600)`);
  // Kept, not deleted: an old backup of credentials.toml is sealed with it.
  const keyFile = join(ctx.deps.home, KEY_FILE);
  if (!backendFor(to).usesStoreKey && moves.length > 0 && existsSync(keyFile)) {
    ui.info(
      `${keyFile} no longer seals anything here; keep it only while old backups of credentials.toml may need it`,
    );
  }
}

/** What seals a store, in words a person can act on. */
function sealLabel(ctx: Context, source: "file" | "passphrase"): string {
  return source === "passphrase" ? "AUTHCTL_PASSPHRASE" : `the key file ${join(ctx.deps.home, KEY_FILE)}`;
}

/**
 * `authctl store seal --with passphrase|key-file`: the one way to change what seals the encrypted
 * credentials (AUTHCTL_PASSPHRASE being set never does it on its own: that is an error naming both).
 */
export async function storeSeal(ctx: Context, to: "file" | "passphrase"): Promise<void> {
  const { ui } = ctx.deps;
  const { count, before } = await ctx.store.reseal(to);
  if (before === undefined) {
    ui.info(
      "nothing is sealed yet: the first sealed login uses AUTHCTL_PASSPHRASE when it is set, else the key file",
    );
    return;
  }
  if (before === to) {
    ui.info(`the store is already sealed with ${sealLabel(ctx, to)}`);
    return;
  }
  ui.success(
    `re-sealed ${count} credential${count === 1 ? "" : "s"} with ${sealLabel(ctx, to)} (they were sealed with ${sealLabel(ctx, before)})`,
  );
  if (to === "passphrase") {
    ui.info(
      `${join(ctx.deps.home, KEY_FILE)} no longer seals anything here; keep it only while old backups of credentials.toml may need it`,
    );
  } else {
    ui.info("unset AUTHCTL_PASSPHRASE: the store no longer uses it, and it being set is now an error");
  }
}

/**
 * `authctl store reset`: the way out when the key file or the passphrase is lost. The store is
 * moved aside, not deleted (it opens again if the key turns up), after saying which logins go.
 */
export async function storeReset(ctx: Context, yes: boolean): Promise<void> {
  const { ui } = ctx.deps;
  let ids: string[] | undefined;
  let exists = true;
  try {
    const snapshot = ctx.store.readMetadata();
    ids = Object.keys(snapshot.credentials).sort();
    exists = snapshot.exists;
  } catch {
    ids = undefined; // It does not parse: everything in it is what goes.
  }
  if (!exists) {
    ui.info(`nothing is stored in ${ctx.store.path}: nothing to reset`);
    return;
  }
  const what =
    ids === undefined
      ? "everything in it"
      : ids.length
        ? `the logins of ${ids.join(", ")}`
        : "nothing (it holds no login)";
  if (!yes) {
    if (!ctx.deps.interactive) {
      throw new AuthctlError(
        "USAGE",
        `store reset starts a new, empty store in place of ${ctx.store.path}: ${what} would be lost`,
        {
          hint: "run 'authctl store reset --yes' to do it (the old file is kept aside)",
        },
      );
    }
    const prompter = await ctx.deps.prompter();
    if (
      !(await prompter.confirm(
        `Start a new, empty store? ${what[0]!.toUpperCase()}${what.slice(1)} will be lost.`,
        false,
      ))
    ) {
      throw new AuthctlError("CANCELLED", "nothing was reset");
    }
  }
  const aside = await ctx.store.reset(new Date(ctx.deps.now()));
  if (!aside) {
    ui.info(`nothing is stored in ${ctx.store.path}: nothing to reset`);
    return;
  }
  ui.success(`started a new, empty store at ${ctx.store.path}`);
  if (ids === undefined || ids.length) ui.warn(`lost ${what}: run 'authctl login <provider>' for each`);
  ui.info(`the old store is kept as ${aside}; it opens again if its key file or passphrase turns up`);
}
