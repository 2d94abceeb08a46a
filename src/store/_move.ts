/**
 * The write transaction of the backend store, step by step, under the store's lock:
 *
 *   load     open every record, fetching external secrets (the keyring's)
 *   (the caller's change runs on the opened credentials)
 *   plan     what changed, which backend each credential goes to, which moves that makes
 *   apply    1. external items first, each read back: the file still points at the old place
 *            2. the new file (sealed, MACed), written atomically
 *   verify   3. what now points away from an external backend reads back from the file as written
 *   clean up 4. external items nobody needs any more are deleted
 *
 * Moves keep every secret in at least one place at every instant, so a kill -9 anywhere loses
 * nothing: a secret is written to its new place and read back before the file stops pointing at
 * the old one, and an external item is deleted only after the file no longer needs it. Ids whose
 * item still has to go are listed in `<backend>_cleanup` (`keyring_cleanup`) first, so an
 * interrupted delete is finished by the next write. Private to the store.
 */
import { AuthctlError } from "../errors.ts";
import { MAC_FIELD, recordMac } from "./_integrity.ts";
import {
  alteredRecord,
  DAMAGED_ORIGIN,
  type DocumentInfo,
  foreignItem,
  isDamagedValue,
  metadataOf,
  missingItem,
  openRecord,
} from "./_records.ts";
import { mergeItem, metaDigest } from "./_external-item.ts";
import {
  canonicalJson,
  listSecrets,
  parseSecretsJson,
  secretsJson,
  withoutSecrets,
} from "./_secret-fields.ts";
import { type ExternalBackend, SECRET_STORE_FIELD, type SecretVault } from "./backend.ts";
import { BACKEND_NAMES, type BackendName, backendFor } from "./backends.ts";
import type { CredentialsDocument } from "./credentials-file.ts";
import type { SealingKey } from "./encrypted.ts";
import { KEY_PARAM_FIELDS } from "./sealed.ts";
import type { LockedStoreFile } from "./file-store.ts";
import { type Availability, type BackendChoice, resolveBackend } from "./select-backend.ts";
import type { Credentials, StoreSnapshot, StoredCredential } from "./types.ts";

export interface Move {
  id: string;
  from: BackendName;
  to: BackendName;
}

/** What the steps share: the store's identity and effects, and its keys (loaded lazily). */
export interface MoveContext {
  path: string;
  /** This store's name in the items it writes to a backend shared by stores (its AUTHCTL_HOME). */
  owner: string;
  choice: BackendChoice;
  available: Availability;
  vaultFor(backend: ExternalBackend): SecretVault;
  notify(message: string): void;
  checkpoint(step: string): void;
  /** The key that opens the document's sealed values (throws when missing or wrong). */
  openingKey(): SealingKey;
  /** The opening key if it was loaded, else undefined. */
  openedKey(): SealingKey | undefined;
  /** The key new values are sealed with (created on first use: call under the lock). */
  sealingKey(): SealingKey;
  /** A fresh lock-free read, for the read-back. */
  read(): StoreSnapshot;
}

/** The records as the write found them, opened, and what could not be had. */
export interface Loaded {
  document: CredentialsDocument;
  info: DocumentInfo;
  /** The opened credentials handed to the caller's change (external secrets merged in). */
  plain: Credentials;
  /** Where each record's secrets were. */
  origin: Record<string, BackendName>;
  /** Secrets that cannot be had now: kept as they are unless the change replaces or deletes them. */
  unreadable: Set<string>;
  /** Secrets that are gone (a missing item, a damaged value): a new login or a logout must still work. */
  dangling: Set<string>;
  /** Items another store has taken over: never deleted from here. */
  foreign: Set<string>;
  /** Records that do not open or authenticate: kept byte for byte (never re-MACed) unless replaced. */
  damaged: Set<string>;
  warnings: string[];
  /** Canonical text of each credential before the change. */
  before: Map<string, string>;
}

export interface Plan {
  ids: string[];
  changed: Set<string>;
  dest: Record<string, BackendName>;
  moves: Move[];
  /** The backend changed credentials go to, when the write had to decide. */
  target?: BackendName;
  fellThrough?: { backend: BackendName; reason: string };
}

function external(name: BackendName | undefined): ExternalBackend | undefined {
  if (name === undefined) return undefined;
  const backend = backendFor(name);
  return backend.kind === "external" ? backend : undefined;
}

/**
 * Puts an external item's secrets into `credential`. "missing": no such item; `foreign`: another
 * store has written its own login there since; "altered": the record no longer matches its item.
 */
export async function fetchExternalSecrets(
  ctx: Pick<MoveContext, "owner" | "vaultFor">,
  backend: ExternalBackend,
  id: string,
  credential: StoredCredential,
): Promise<"found" | "missing" | "altered" | { foreign: string }> {
  const reading = ctx.vaultFor(backend).get(id, { expected: true });
  // Worked out while the keyring answers (its first call is on its way when get returns): the
  // digest is half a millisecond of a shell start-up that would otherwise wait idle (issue 18).
  const digest = metaDigest(credential);
  const json = await reading;
  if (json === null) return "missing";
  return mergeItem(credential, json, id, { owner: ctx.owner, shared: !!backend.sharedByStores, digest });
}

/**
 * The store that wrote the item `id`, when it is not this one and says so. An item that is not
 * authctl's JSON at all names no owner: it may be overwritten (or deleted if listed).
 */
async function foreignOwnerOf(
  ctx: MoveContext,
  backend: ExternalBackend,
  id: string,
): Promise<string | undefined> {
  if (!backend.sharedByStores) return undefined;
  const json = await ctx.vaultFor(backend).get(id);
  if (json === null) return undefined;
  let item: ReturnType<typeof parseSecretsJson>;
  try {
    item = parseSecretsJson(json, id);
  } catch {
    return undefined;
  }
  return item.owner !== undefined && item.owner !== ctx.owner ? item.owner : undefined;
}

/** Load: every record opened; a migration (`forceTo`) must be able to carry every secret. */
export async function loadRecords(
  ctx: MoveContext,
  document: CredentialsDocument,
  info: DocumentInfo,
  forceTo: BackendName | undefined,
): Promise<Loaded> {
  const loaded: Loaded = {
    document,
    info,
    plain: Object.create(null),
    origin: Object.create(null),
    unreadable: new Set(),
    dangling: new Set(),
    foreign: new Set(),
    damaged: new Set(),
    warnings: [],
    before: new Map(),
  };
  for (const [id, raw] of Object.entries(document.credentials)) {
    let opened: ReturnType<typeof openRecord>;
    try {
      opened = openRecord(ctx.path, id, raw, ctx.openingKey, info, loaded.warnings);
    } catch (error) {
      // A damaged sealed value: like a dangling keyring item, it may be replaced (log in
      // again) or deleted, and is kept as it is otherwise. A migration cannot carry it.
      if (forceTo || !isDamagedValue(error)) throw error;
      loaded.origin[id] = DAMAGED_ORIGIN;
      loaded.plain[id] = metadataOf(raw);
      loaded.dangling.add(id);
      loaded.damaged.add(id);
      continue;
    }
    const { credential, backend } = opened;
    loaded.origin[id] = backend;
    const outside = external(backend);
    if (outside) await loadExternal(ctx, loaded, outside, id, credential, forceTo);
    loaded.plain[id] = credential;
  }
  for (const [id, credential] of Object.entries(loaded.plain))
    loaded.before.set(id, canonicalJson(credential));
  return loaded;
}

async function loadExternal(
  ctx: MoveContext,
  loaded: Loaded,
  backend: ExternalBackend,
  id: string,
  credential: StoredCredential,
  forceTo: BackendName | undefined,
): Promise<void> {
  let found: Awaited<ReturnType<typeof fetchExternalSecrets>>;
  try {
    found = await fetchExternalSecrets(ctx, backend, id, credential);
  } catch (error) {
    // A migration must move every secret; an ordinary write may leave this one alone.
    if (forceTo) throw error;
    loaded.unreadable.add(id);
    return;
  }
  if (found === "found") return;
  if (found === "altered") {
    // Like a damaged sealed value: kept byte for byte unless replaced or deleted.
    if (forceTo) throw alteredRecord(ctx.path, backend, id);
    loaded.dangling.add(id);
    loaded.damaged.add(id);
    return;
  }
  if (forceTo) throw found === "missing" ? missingItem(backend, id) : foreignItem(backend, id, found.foreign);
  loaded.dangling.add(id);
  if (found !== "missing") loaded.foreign.add(id);
}

/**
 * Plan: what the change did, and where each credential goes. A changed credential goes to the
 * chosen backend (decided for certain now, the keyring asked); a plain-file secret moves to a
 * better backend on any write; a migration moves everything.
 */
export async function planWrite(
  ctx: MoveContext,
  loaded: Loaded,
  forceTo: BackendName | undefined,
): Promise<Plan> {
  const { plain, origin, unreadable, dangling } = loaded;
  const ids = Object.keys(plain).filter((id) => plain[id] !== undefined);
  const changed = new Set(ids.filter((id) => canonicalJson(plain[id]) !== loaded.before.get(id)));
  for (const id of dangling) {
    if (!changed.has(id)) unreadable.add(id);
    // Replacing (a new login) is the way out; a change that keeps the lost secret lost is not.
    else if (listSecrets(plain[id]!).length === 0) {
      throw new AuthctlError("STORE_IO", `cannot change ${id}: its stored secret cannot be read`, {
        hint: `run 'authctl login ${id}' to store it again`,
      });
    }
  }
  for (const id of unreadable) {
    // Deleting is allowed: the item goes on the cleanup list, deleted once the backend answers.
    if (changed.has(id)) {
      const backend = backendFor(origin[id]!);
      throw new AuthctlError(
        "STORE_IO",
        `cannot change ${id}: its secrets are in ${backend.label}, which is not available`,
        { hint: `${backend.unavailableHint ?? "make it available"}, then run the command again` },
      );
    }
  }
  const inClear = (name: BackendName | undefined) => name !== undefined && backendFor(name).inClear;
  const hasPlainFile = ids.some((id) => inClear(origin[id]) && listSecrets(plain[id]!).length > 0);
  const choseClear = ctx.choice.backend !== "auto" && inClear(ctx.choice.backend);
  let target: BackendName | undefined = forceTo;
  let fellThrough: Plan["fellThrough"];
  if (!target && (changed.size > 0 || (hasPlainFile && !choseClear))) {
    const resolved = await resolveBackend(ctx.choice, ctx.available);
    target = resolved.backend;
    fellThrough = resolved.fellThrough;
  }
  const dest: Record<string, BackendName> = Object.create(null);
  const moves: Move[] = [];
  for (const id of ids) {
    const from = origin[id];
    let to: BackendName = from ?? target!;
    if (unreadable.has(id)) to = from!;
    else if (forceTo || changed.has(id)) to = target!;
    else if (inClear(from) && target && !inClear(target) && listSecrets(plain[id]!).length > 0) {
      to = target;
      ctx.notify(`moved ${id}'s secret from the plain file to ${backendFor(target).label}`);
    }
    dest[id] = to;
    if (from && from !== to) moves.push({ id, from, to });
  }
  return {
    ids,
    changed,
    dest,
    moves,
    ...(target ? { target } : {}),
    ...(fellThrough ? { fellThrough } : {}),
  };
}

/** Apply, step 1: external items first, each read back, while the file still points at the old place. */
export async function putExternalItems(
  ctx: MoveContext,
  loaded: Loaded,
  plan: Plan,
  forceTo: BackendName | undefined,
): Promise<void> {
  const { plain, origin, unreadable, dangling } = loaded;
  for (const id of plan.ids) {
    const backend = external(plan.dest[id]);
    if (!backend || unreadable.has(id)) continue;
    if (origin[id] === backend.name && !plan.changed.has(id) && !forceTo) continue;
    // An item this store does not own yet may hold another store's login: say so, not silently.
    if (origin[id] !== backend.name || dangling.has(id)) {
      const other = await foreignOwnerOf(ctx, backend, id);
      if (other)
        ctx.notify(
          `replaced ${backend.label} item ${backend.itemName(id)}, which held the ${id} login of the authctl store at ${other} (it will ask to log in again)`,
        );
    }
    const json = secretsJson(plain[id]!, ctx.owner, metaDigest(plain[id]!));
    const vault = ctx.vaultFor(backend);
    await vault.put(id, json);
    if ((await vault.get(id, { expected: true })) !== json) {
      throw new AuthctlError(
        "STORE_IO",
        `${backend.label} did not return what was stored for ${id}; nothing was moved`,
      );
    }
    ctx.checkpoint(`${backend.name}-set:${id}`);
  }
}

/** The preserved field listing the items of `backend` still to delete. */
const cleanupField = (backend: BackendName) => `${backend}_cleanup`;

/** Apply, step 2: the new document — records sealed or pointing at their items, cleanup lists, MACs. */
export function buildDocument(
  ctx: MoveContext,
  loaded: Loaded,
  plan: Plan,
  locked: LockedStoreFile,
): CredentialsDocument {
  const { document, info, plain, origin, unreadable, dangling, damaged } = loaded;
  const { ids, dest } = plan;
  const needsSealing = ids.some((id) => sealsWith(dest[id]!));
  // A sealed store keeps its key: the one that opens it is loaded first, so sealing reuses it.
  if (needsSealing && info.keyed) ctx.openingKey();
  const sealing = needsSealing ? ctx.sealingKey() : undefined;
  const next: CredentialsDocument = {
    version: sealing ? 2 : 1,
    credentials: Object.create(null),
    preserved: { ...document.preserved },
  };
  const preserved = next.preserved;
  for (const id of ids) {
    const credential = plain[id]!;
    const backend = backendFor(dest[id]!);
    if (unreadable.has(id) && damaged.has(id)) {
      next.credentials[id] = document.credentials[id]!;
    } else if (backend.kind === "external") {
      // An unreadable external record is unchanged (see planWrite): its metadata is all it has here.
      next.credentials[id] = {
        ...withoutSecrets(credential),
        [SECRET_STORE_FIELD]: backend.name,
      } as StoredCredential;
    } else {
      const raw = document.credentials[id];
      const opening = ctx.openedKey();
      const reuse =
        backend.seals &&
        origin[id] === backend.name &&
        !dangling.has(id) &&
        raw !== undefined &&
        opening !== undefined &&
        sealing!.key.equals(opening.key);
      const previous = reuse
        ? { raw, opened: openRecord(ctx.path, id, raw, ctx.openingKey, info, []).credential }
        : undefined;
      next.credentials[id] = backend.sealRecord(id, credential, sealing, previous);
    }
  }
  for (const name of KEY_PARAM_FIELDS) delete preserved[name];
  if (sealing) Object.assign(preserved, sealing.params);
  for (const name of BACKEND_NAMES) {
    if (!external(name)) continue;
    const listed = preserved[cleanupField(name)];
    const cleanup = new Set(
      Array.isArray(listed) ? (listed.filter((v) => typeof v === "string") as string[]) : [],
    );
    for (const [id, from] of Object.entries(origin)) {
      if (from === name && dest[id] !== name && !loaded.foreign.has(id)) cleanup.add(id);
    }
    for (const id of ids) if (dest[id] === name) cleanup.delete(id);
    setCleanup(preserved, name, cleanup);
  }
  // Format 2: every record the store can vouch for gets a MAC bound to the generation, which
  // grows only when the file really changes (an unchanged store is not rewritten).
  delete preserved.generation;
  if (sealing) {
    const vouched = ids.filter((id) => !damaged.has(id) || !unreadable.has(id));
    const seal = (generation: number) => {
      preserved.generation = generation;
      for (const id of vouched) {
        const { [MAC_FIELD]: _old, ...record } = next.credentials[id] as unknown as Record<string, unknown>;
        const body = record as unknown as StoredCredential;
        next.credentials[id] = {
          ...body,
          [MAC_FIELD]: recordMac(sealing.macKey, id, generation, body),
        } as StoredCredential;
      }
    };
    seal(info.generation);
    if (!locked.unchanged(next)) seal(info.generation + 1);
  }
  return next;
}

function sealsWith(name: BackendName): boolean {
  const backend = backendFor(name);
  return backend.kind === "index" && backend.seals;
}

function setCleanup(preserved: Record<string, unknown>, backend: BackendName, ids: Set<string>): void {
  if (ids.size) preserved[cleanupField(backend)] = [...ids].sort();
  else delete preserved[cleanupField(backend)];
}

/** Notices that belong with the written file: format-1 fields dropped, a backend that fell through (once). */
export function noticeWrite(ctx: MoveContext, loaded: Loaded, plan: Plan, next: CredentialsDocument): void {
  for (const warning of loaded.warnings) ctx.notify(warning);
  const fell = plan.fellThrough;
  if (!fell || !plan.target) return;
  const shown = `${fell.backend}_notice`;
  if (next.preserved[shown] === true) return;
  ctx.notify(
    `${backendFor(fell.backend).label} is not available (${fell.reason}): secrets go to ${backendFor(plan.target).label} ${ctx.path} instead`,
  );
  next.preserved[shown] = true;
}

/** Verify, step 3: what now points away from an external backend reads back from the file as written. */
export function verifyReadBack(ctx: MoveContext, loaded: Loaded, plan: Plan): void {
  if (plan.moves.length === 0) return;
  const check = ctx.read();
  for (const id of plan.ids) {
    if (external(plan.dest[id]) || loaded.unreadable.has(id)) continue;
    if (canonicalJson(check.credentials[id]) !== canonicalJson(loaded.plain[id])) {
      throw new AuthctlError(
        "INTERNAL",
        `${id} did not read back from ${ctx.path} as written; its keyring item is kept`,
      );
    }
  }
}

/**
 * Clean up, step 4: items nobody needs any more. One that cannot be deleted now stays listed for
 * the next write; the secret is stored elsewhere already.
 */
export async function cleanUpItems(
  ctx: MoveContext,
  next: CredentialsDocument,
  locked: LockedStoreFile,
): Promise<void> {
  let touched = false;
  for (const name of BACKEND_NAMES) {
    const backend = external(name);
    const listed = backend && next.preserved[cleanupField(name)];
    if (!backend || !Array.isArray(listed) || listed.length === 0) continue;
    const vault = ctx.vaultFor(backend);
    if (vault.quickUnavailableReason() !== undefined) continue;
    touched = true;
    const left = new Set(listed as string[]);
    for (const id of listed as string[]) {
      try {
        // Listed by this store, but another may have logged in there since.
        if (!(await foreignOwnerOf(ctx, backend, id))) await vault.remove(id);
        left.delete(id);
      } catch {
        // Kept on the list.
      }
      ctx.checkpoint(`${name}-deleted:${id}`);
    }
    setCleanup(next.preserved, name, left);
  }
  if (!touched) return;
  locked.write(next);
  ctx.checkpoint("cleanup-written");
}
