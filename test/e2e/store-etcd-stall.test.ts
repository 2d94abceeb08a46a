/**
 * The team store on etcd (issue 21): a refresher that stalls, holding the lock, past its lease
 * before it sends the refresh request. Another machine takes the lock meanwhile and refreshes; the
 * stalled one must not then send the refresh token that was just rotated (oidc-provider, like any
 * server following RFC 9700 §4.14.2, revokes the grant on reuse). The stall is the binary's
 * test-only hook AUTHCTL_TEST_ETCD_STALL_BEFORE_REFRESH (src/store/etcd/_lock.ts): the process
 * blocks its thread (no timer runs, no lease renewal) until the test creates a file.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, expectOk, secret, writeFollowingBrowser } from "../helpers/binary.ts";
import { HAVE_ETCD } from "../helpers/etcd-cluster.ts";
import { etcdTeam } from "../helpers/etcd-team.ts";

const SEAL_KEY = secret(Buffer.alloc(32, 17).toString("base64"));
const PREFIX = "/authctl/stall/";

const team = etcdTeam({ prefix: PREFIX, sealKey: SEAL_KEY });
const { machine } = team;

describe.skipIf(!HAVE_ETCD)("team store on etcd, a refresher that stalls before its request", () => {
  team.register();

  test("does not send the refresh token once its lease lapsed: it takes the lock again and uses the other machine's token (one refresh request in all)", async () => {
    const oidc = await team.startOidc({ accessTokenTtl: 3600 });
    const [a, b, stalled] = [machine(), machine(), machine()];
    expectOk(await a.run(["login", "mycorp"], { env: { BROWSER: writeFollowingBrowser(a.root) } }));
    oidc.setAccessTokenTtl(3 * 3600);
    const release = join(stalled.root, "release");
    const proc = Bun.spawn([BINARY, "token", "mycorp", "--min-ttl", "2h"], {
      env: { ...stalled.env, AUTHCTL_TEST_ETCD_STALL_BEFORE_REFRESH: release },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      // Frozen holding the lock, the refresh due and not yet sent.
      for (let i = 0; !existsSync(`${release}.stalled`); i++) {
        expect(proc.exitCode).toBeNull();
        if (i > 600) throw new Error("the stalled machine never reached its refresh request");
        await Bun.sleep(50);
      }
      // Its lease is not renewed: it expires, and another machine takes the lock and refreshes.
      const other = await b.run(["token", "mycorp", "--min-ttl", "2h"]);
      expectOk(other);
      expect(oidc.counts.refresh).toBe(1);
      writeFileSync(release, "");
      const [stdout, stderr, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
      // The count at the OAuth server: the stalled machine sent nothing.
      expect(oidc.counts.refresh).toBe(1);
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(stdout.trim()).toBe(other.stdout.trim());
      expect(oidc.counts.refresh).toBe(1);
      // The grant is intact: a replayed refresh token would have revoked it.
      const userinfo = await fetch(`${oidc.issuer}/me`, {
        headers: { authorization: `Bearer ${stdout.trim()}` },
      });
      expect(userinfo.status).toBe(200);
      oidc.setAccessTokenTtl(5 * 3600);
      expectOk(await a.run(["token", "mycorp", "--min-ttl", "4h"]));
      expect(oidc.counts.refresh).toBe(2);
    } finally {
      writeFileSync(release, "");
      proc.kill("SIGKILL");
    }
  }, 90_000);
});
