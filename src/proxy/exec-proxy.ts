import type { Context, ResolvedCredential } from "../context.ts";
import { AuthctlError, commandStartError } from "../errors.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import { createProxyCredential, type ProxyCredential, type Refresher } from "./credentials.ts";
import { applyClientGlue } from "./clients.ts";
import { buildChildEnv, buildRoutes } from "./routes.ts";
import { startProxyServer, type ProxyServer } from "./server.ts";

/**
 * `authctl exec --proxy`: the child gets a per-session placeholder and a base URL on a loopback
 * proxy; the proxy swaps the placeholder for the real credential on the way to the provider. The
 * proxy starts before the child (no proxy, no child) and stops when the child exits.
 */
export async function execWithProxy(
  ctx: Context,
  resolved: ResolvedCredential[],
  command: { file: string; argv: string[] },
  baseEnv: Record<string, string>,
  refresher: Refresher,
): Promise<number> {
  const { deps } = ctx;
  const routes = buildRoutes(resolved, (provider) => newPlaceholder(provider, deps.randomBytes(32)));
  const credentials = new Map<string, ProxyCredential>(
    resolved.map((r) => [r.provider.id, createProxyCredential(ctx, r, refresher)]),
  );
  let server: ProxyServer;
  try {
    server = await startProxyServer({
      routes,
      credentials,
      warn: (message) => deps.ui.warn(message),
      env: deps.env,
    });
  } catch (error) {
    throw new AuthctlError(
      "INTERNAL",
      `the proxy could not start on 127.0.0.1 (${(error as Error).message}); the command was not run`,
      { cause: error },
    );
  }
  const glue = applyClientGlue(command.argv, buildChildEnv(baseEnv, routes, server.origin), routes);
  for (const note of glue.notes) deps.ui.info(note);
  try {
    return await deps.spawnInherit(command.file, glue.argv, glue.env);
  } catch (error) {
    // As without --proxy: 126 for a file that cannot be run, 127 for one that is not there.
    throw commandStartError(command.argv[0] ?? command.file, error);
  } finally {
    glue.cleanup();
    await server.stop();
  }
}

/**
 * 256 random bits. The provider's usual key prefix comes first so tools that sanity-check a key's
 * shape accept it; the placeholder opens only its own provider's route, and only for this session.
 */
function newPlaceholder(provider: ProviderDefinition, bytes: Uint8Array): string {
  return `${provider.keyPrefixes?.[0] ?? ""}authctl-proxy-${Buffer.from(bytes).toString("base64url")}`;
}
