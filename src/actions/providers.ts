import { describeProvider } from "../providers/describe.ts";
import type { Context } from "../context.ts";

export function providers(ctx: Context, options: { json: boolean; ids?: string[] }): void {
  // `authctl providers groq` lists groq alone (it listed every provider, the argument unread); an
  // unknown id is the usual error with its "did you mean". An account names its provider.
  const ids = [...new Set((options.ids ?? []).map((id) => id.split("@", 1)[0]!.toLowerCase()))];
  const list = ids.length ? ids.map((id) => ctx.registry.require(id)) : ctx.registry.list();
  const stored = ctx.store.read().credentials;
  if (options.json) {
    // The audit view (src/providers/describe.ts), plus what the short list shows.
    const out = list.map((p) => ({
      ...describeProvider(p),
      variables: p.keyVars,
      logged_in: Boolean(stored[p.id]),
      notes: p.hint ?? null,
    }));
    ctx.deps.writeStdout(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const width = Math.max(...list.map((p) => p.id.length));
  for (const p of list) {
    const methods = p.methods.map((m) => m.id).join(", ");
    const mark = stored[p.id] ? "✓" : " ";
    ctx.deps.ui.result(
      `${mark} ${p.id.padEnd(width)}  ${p.name} — ${methods} → ${p.keyVars.join(", ")}${p.hint ? ` (${p.hint})` : ""}`,
    );
  }
}
