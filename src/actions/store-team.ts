/**
 * `store migrate --to etcd` (the local store's credentials into a whole store: the team store) and
 * `--to keyring|encrypted|file` while a whole store is chosen (its credentials into the local store).
 * The same rule as moves inside the local store: every credential is written to its new place and
 * read back from there before the old place lets go of it, so an interruption anywhere leaves each
 * credential in at least one of the two (possibly both, which the next run resolves: an identical
 * copy is not a conflict).
 */
import { AuthctlError } from "../errors.ts";
import type { BackendStore } from "../store/backend-store.ts";
import { canonicalJson } from "../store/_secret-fields.ts";
import { isWholeStoreName, type WholeStoreName } from "../store/backends.ts";
import { describeStore } from "../store/stores.ts";
import type { BackendName, Credentials, StoreName } from "../store/types.ts";
import type { Context } from "../context.ts";

/** Every credential of a store with its secrets (fetched from the keyring where they live there). */
async function readWhole(store: BackendStore): Promise<Credentials> {
  const snapshot = store.read();
  const out: Credentials = Object.create(null);
  for (const [id, credential] of Object.entries(snapshot.credentials)) {
    if (snapshot.damaged?.[id]) throw snapshot.damaged[id];
    const backend = snapshot.backends[id];
    const whole = backend && describeStore(backend).asyncReads ? await store.readSecrets(id) : credential;
    if (!whole)
      throw new AuthctlError("STORE_IO", `${id} could not be read from ${store.path}: nothing was moved`);
    out[id] = whole;
  }
  return out;
}

/** Copies every credential into `target` (refusing a different one already there), then reads it back. */
async function copyAll(
  source: BackendStore,
  target: BackendStore,
  credentials: Credentials,
  reopen: () => Promise<BackendStore>,
): Promise<string[]> {
  const ids = Object.keys(credentials);
  await target.update((existing) => {
    for (const id of ids) {
      const there = existing[id];
      if (there && canonicalJson(there) !== canonicalJson(credentials[id])) {
        throw new AuthctlError(
          "STORE_IO",
          `${target.path} already holds another ${id} login: nothing was moved`,
          {
            hint: `keep one of the two: 'authctl logout ${id}' in ${target.path} or in ${source.path}, then migrate again`,
          },
        );
      }
      existing[id] = credentials[id]!;
    }
  });
  // Read back from a fresh view of the target: what another process would read.
  const check = await readWhole(await reopen());
  for (const id of ids) {
    if (canonicalJson(check[id]) !== canonicalJson(credentials[id])) {
      throw new AuthctlError(
        "INTERNAL",
        `${id} did not read back from ${target.path} as written; it is kept in ${source.path}`,
      );
    }
  }
  return ids;
}

async function removeAll(store: BackendStore, ids: string[], copied: Credentials): Promise<void> {
  await store.update((credentials) => {
    // Only what was copied: a login changed here meanwhile (a refresh) stays.
    for (const id of ids)
      if (canonicalJson(credentials[id]) === canonicalJson(copied[id])) delete credentials[id];
  });
}

export async function migrateToWholeStore(ctx: Context, to: WholeStoreName): Promise<void> {
  const { deps } = ctx;
  const local = isWholeStoreName(ctx.store.backend)
    ? ctx.stores.local({ backend: "auto", from: "default" })
    : ctx.store;
  const openTeam = async () => {
    const store = ctx.stores.whole(to);
    await store.open?.();
    return store;
  };
  const team = ctx.store.backend === to ? ctx.store : await openTeam();
  team.assertWritable();
  const credentials = await readWhole(local);
  const ids = await copyAll(local, team, credentials, openTeam);
  await removeAll(local, ids, credentials);
  report(ctx, ids, local, to);
  if (ctx.store.backend !== to)
    deps.ui.info(
      `new logins still go to the local store: set store = "${to}" in config.toml (or AUTHCTL_STORE=${to}) to keep them in ${describeStore(to).label}`,
    );
}

export async function migrateFromWholeStore(ctx: Context, to: BackendName): Promise<void> {
  const { deps } = ctx;
  const team = ctx.store;
  const openLocal = async () => ctx.stores.local({ backend: to, from: "config.toml" });
  const local = await openLocal();
  const credentials = await readWhole(team);
  const ids = await copyAll(team, local, credentials, openLocal);
  await removeAll(team, ids, credentials);
  report(ctx, ids, team, to);
  deps.ui.info(
    `new logins still go to ${describeStore(team.backend).label}: set store = "${to}" in config.toml (and unset AUTHCTL_STORE) to keep them in ${describeStore(to).label}`,
  );
  if (describeStore(to).inClear) deps.ui.warn(`secrets are now in clear in ${local.path} (mode 0600)`);
}

function report(ctx: Context, ids: string[], from: BackendStore, to: StoreName): void {
  const { ui } = ctx.deps;
  if (ids.length === 0) {
    ui.info(`nothing is stored in ${from.path}: nothing to migrate`);
    return;
  }
  for (const id of ids) ui.info(`moved ${id} from ${from.path} to ${describeStore(to).label}`);
  ui.success(`${ids.length} credential${ids.length === 1 ? "" : "s"} in ${describeStore(to).label}`);
}
