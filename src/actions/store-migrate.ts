import { existsSync } from "node:fs";
import { join } from "node:path";
import { KEY_FILE } from "../store/encrypted.ts";
import type { BackendName } from "../store/types.ts";
import type { Context } from "./context.ts";

const LABEL: Record<BackendName, string> = { keyring: "the keyring", encrypted: "the encrypted file", file: "the plain file" };

/**
 * `authctl store migrate --to <backend>`. Every write is read back before its source is removed,
 * and every step leaves each secret in at least one place (see store/backend-store.ts).
 */
export async function storeMigrate(ctx: Context, to: BackendName): Promise<void> {
  const { ui } = ctx.deps;
  const ids = Object.keys(ctx.store.read().credentials);
  const moves = await ctx.store.migrate(to);
  for (const move of moves) ui.info(`moved ${move.id} from ${LABEL[move.from]} to ${LABEL[move.to]}`);
  const stayed = ids.length - moves.length;
  if (ids.length === 0) ui.info("nothing is stored: nothing to migrate");
  else ui.success(`${ids.length} credential${ids.length === 1 ? "" : "s"} in ${LABEL[to]}${stayed ? ` (${stayed} already there)` : ""}`);
  if (ctx.store.backend !== to) {
    ui.info(`new secrets still go to ${LABEL[ctx.store.backend]}: set AUTHCTL_STORE=${to} (or store = "${to}" in config.toml) to keep them in ${LABEL[to]}`);
  }
  if (to === "file") ui.warn(`secrets are now in clear in ${ctx.store.path} (mode 0600)`);
  // Kept, not deleted: an old backup of credentials.toml is sealed with it.
  const keyFile = join(ctx.deps.home, KEY_FILE);
  if (to !== "encrypted" && moves.length > 0 && existsSync(keyFile)) {
    ui.info(`${keyFile} no longer seals anything here; keep it only while old backups of credentials.toml may need it`);
  }
}
