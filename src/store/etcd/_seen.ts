/**
 * The newest state of each team store this machine has seen: `<AUTHCTL_HOME>/etcd-seen.json`
 * (0600, replaced atomically), per cluster and prefix the manifest's store id and the highest
 * generation read or written here. A whole-prefix rollback (manifest and records put back
 * together) verifies in etcd; only a machine that saw the newer generation can tell, and this
 * file is how it remembers. It is written only when the generation grows (or the store is a new
 * one), so the hot path, when nothing changed, reads it and writes nothing.
 *
 * It also remembers the ids of the stores it saw replaced at that place (the prefix emptied and
 * the team started again): a new id is a new store, but an id seen before it is an earlier store
 * put back whole, as much a rollback as an older generation of the current one.
 *
 * `env`, `token` and `exec` read it on every read of the store: the store's open() reads it with
 * Bun's file API right after its request (readSeenQuickly), and the check takes that text; in
 * any case but the usual one (see quick-read.ts readTextQuickly) the check reads it with node:fs,
 * as it always did, so a missing, unreadable or foreign file means what it meant before (issue 18:
 * node:fs costs `env` on the team store about 1 MiB of peak memory, measured, beside what fetch
 * already loads; a bare program pays about 5).
 */
import { readFileSync } from "../../lazy-fs.ts";
import { describeIoError, writeFileAtomic } from "../atomic-write.ts";
import { readTextQuickly, USE_NODE_FS } from "../quick-read.ts";

export interface Seen {
  store: string;
  generation: number;
  /** Stores seen here before this one, oldest first (the last RETIRED_KEPT). */
  retired?: string[];
}

/** Enough for a team that starts its store again now and then; an id this old is long spent. */
const RETIRED_KEPT = 32;

interface SeenFile {
  v: 1;
  stores: Record<string, Seen>;
}

/** Where a team store lives: its endpoints (in any order) and its prefix. */
export function seenKey(endpoints: string[], prefix: string): string {
  return `${[...endpoints].sort().join(",")} ${prefix}`;
}

/**
 * The file's text as Bun's file API read it, in the usual case; undefined otherwise (the check then
 * reads it with node:fs). Read after the store's request, never before: a generation another
 * process of this machine recorded while the request was out is then in it, as it was when the
 * check read the file itself.
 */
export async function readSeenQuickly(file: string): Promise<string | undefined> {
  const text = await readTextQuickly(file);
  return text === USE_NODE_FS ? undefined : text;
}

function load(file: string, early?: string): SeenFile {
  let text: string;
  if (early !== undefined) text = early;
  else
    try {
      text = readFileSync(file, "utf8");
    } catch {
      // Never written (or unreadable): nothing seen yet. Losing it only weakens the check.
      return { v: 1, stores: {} };
    }
  try {
    const parsed = JSON.parse(text) as SeenFile;
    if (parsed?.v === 1 && typeof parsed.stores === "object" && parsed.stores !== null) return parsed;
  } catch {}
  return { v: 1, stores: {} };
}

/** What the file holds for `key`; `early`: its text from readSeenQuickly, when that read it. */
export function readSeen(file: string, key: string, early?: string): Seen | undefined {
  const seen = load(file, early).stores[key];
  if (typeof seen?.store !== "string" || !Number.isSafeInteger(seen.generation)) return undefined;
  const retired = Array.isArray(seen.retired) ? seen.retired.filter((id) => typeof id === "string") : [];
  return { store: seen.store, generation: seen.generation, retired };
}

/**
 * Records `now` for `key` if it is newer than what the file holds (a higher generation, or another
 * store id: the prefix was emptied and started again). Two processes of this machine may race:
 * after writing, the file is read back and written again if the other one's lower value won.
 */
export function recordSeen(file: string, key: string, now: Seen, notify: (message: string) => void): void {
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = load(file);
      const before = current.stores[key];
      if (before && before.store === now.store && before.generation >= now.generation) return;
      let retired = Array.isArray(before?.retired) ? before.retired : [];
      if (before && before.store !== now.store)
        retired = [...retired.filter((id) => id !== now.store), before.store].slice(-RETIRED_KEPT);
      current.stores[key] = {
        store: now.store,
        generation: now.generation,
        ...(retired.length ? { retired } : {}),
      };
      writeFileAtomic(file, `${JSON.stringify(current)}\n`);
    }
  } catch (error) {
    // A read-only AUTHCTL_HOME (a sandboxed service) must not stop reads of the team store, or a
    // write that already landed: the check is weaker there, and the person is told.
    notify(
      `could not record the team store's generation in ${file} (${describeIoError((error as Error).cause ?? error)}); a rollback of the whole store would not be noticed on this machine`,
    );
  }
}
