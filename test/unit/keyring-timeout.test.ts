/**
 * The keyring's default bound (2 s, src/store/keyring.ts) with nothing passed in: a session bus
 * that accepts the connection and never answers must cost `env` two seconds, not a minute. The
 * other keyring tests pass their own short timeout, so a changed default went unseen (issue 12).
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBunKeyring, type SecretsApi } from "../../src/store/keyring.ts";

test("a silent session bus fails a keyring read after the default 2 s", async () => {
  const dir = mkdtempSync(join(tmpdir(), "authctl-silent-bus-"));
  const silent = Bun.listen({ unix: join(dir, "bus"), socket: { data() {} } });
  const secrets = {
    get: async () => null,
    set: async () => {},
    delete: async () => false,
  } as unknown as SecretsApi;
  try {
    const keyring = createBunKeyring(
      { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, "bus")}` },
      { platform: "linux", secrets },
    );
    const started = Date.now();
    await expect(keyring.get("x")).rejects.toThrow("the keyring did not answer within 2s");
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1_900);
    expect(elapsed).toBeLessThan(8_000);
  } finally {
    silent.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
}, 20_000);
