/**
 * The team store against a cluster that speaks TLS to clients and has auth on (a `runner` user
 * whose role may read and write the prefix): the working case, then a wrong password, a missing
 * password, no user at all, and a CA that did not sign the members' certificates, each a named
 * one-line error with exit 1.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { createSandbox, ensureBinary, expectOk, type Sandbox, secret } from "../helpers/binary.ts";
import { type EtcdCluster, HAVE_ETCD, startEtcdCluster } from "../helpers/etcd-cluster.ts";

const SEAL_KEY = secret(Buffer.alloc(32, 3).toString("base64"));
const KEY = secret("sk-or-v1-tls0123456789abcdef0123456789abcdef0123456789abcdef012345678");
const PREFIX = "/authctl/";

let cluster: EtcdCluster;
const boxes: Sandbox[] = [];

function machine(options: { caFile?: string; username?: string | null } = {}): Sandbox {
  const box = createSandbox();
  boxes.push(box);
  box.env.AUTHCTL_STORE = "etcd";
  box.env.AUTHCTL_ETCD_KEY = SEAL_KEY;
  box.env.AUTHCTL_ETCD_PASSWORD = secret(cluster.auth!.password);
  const user = options.username === null ? "" : `username = "${options.username ?? cluster.auth!.user}"\n`;
  box.writeConfig(
    `[etcd]\nendpoints = ${JSON.stringify(cluster.endpoints)}\nprefix = "${PREFIX}"\nca_file = "${options.caFile ?? cluster.tls!.caFile}"\ntimeout = 5\n${user}`,
  );
  return box;
}

describe.skipIf(!HAVE_ETCD)("team store on etcd over TLS with auth", () => {
  beforeAll(async () => {
    await ensureBinary();
    cluster = await startEtcdCluster({ tls: true, auth: true, prefix: PREFIX });
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  afterEach(() => {
    for (const box of boxes.splice(0)) box.cleanup();
  });

  test("with the cluster's CA and the runner's password, a login is stored and served over https", async () => {
    const [a, b] = [machine(), machine()];
    expectOk(await a.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    expect((await b.run(["token", "openrouter"])).stdout).toBe(`${KEY}\n`);
    const status = await b.run(["status"]);
    expect(status.stdout).toContain(`answered by ${cluster.endpoints[0]}`);
    expect(cluster.endpoints[0]).toStartWith("https://");
  }, 60_000);

  test("a wrong password, a missing one, and no user: each a named one-line error", async () => {
    const box = machine();
    const wrong = await box.run(["token", "openrouter"], {
      env: { AUTHCTL_ETCD_PASSWORD: "not-the-password" },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toStartWith(
      `authctl: etcd at ${cluster.endpoints[0]} refused user 'runner': wrong username or password\n`,
    );
    const missing = await box.run(["token", "openrouter"], { env: { AUTHCTL_ETCD_PASSWORD: undefined } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toStartWith("authctl: [etcd] username 'runner' has no password\n");
    expect(missing.stderr).toContain("AUTHCTL_ETCD_PASSWORD");
    const anonymous = machine({ username: null });
    const none = await anonymous.run(["token", "openrouter"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toStartWith(`authctl: etcd at ${cluster.endpoints[0]} requires a user`);
  }, 60_000);

  test("a CA that did not sign the members' certificates: a TLS error naming ca_file, NODE_TLS_REJECT_UNAUTHORIZED=0 or not", async () => {
    const box = machine({ caFile: cluster.tls!.otherCaFile });
    // NODE_TLS_REJECT_UNAUTHORIZED=0 (exported for some Node tool) would otherwise have Bun's fetch
    // accept any certificate, and the etcd client's requests bring TLS settings of their own
    // (ca_file): the password and the sealed records must still go to no untrusted member.
    for (const env of [{}, { NODE_TLS_REJECT_UNAUTHORIZED: "0" }]) {
      const result = await box.run(["token", "openrouter"], { env });
      expect({ env, code: result.code }).toEqual({ env, code: 1 });
      expect(result.stderr).toStartWith("authctl: TLS with the etcd cluster failed:");
      expect(result.stderr).toContain("ca_file");
    }
    const unreadable = machine({ caFile: `${cluster.tls!.caFile}.missing` });
    const noFile = await unreadable.run(["token", "openrouter"]);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toContain(`cannot read [etcd] ca_file ${cluster.tls!.caFile}.missing: ENOENT`);
  }, 60_000);

  test("http is refused for an endpoint that is not loopback", async () => {
    const box = machine();
    box.writeConfig('[etcd]\nendpoints = ["http://etcd-1.corp:2379"]\n');
    const result = await box.run(["status"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'etcd.endpoints: "http://etcd-1.corp:2379" is http but not loopback; use https',
    );
  });
});

describe.skipIf(!HAVE_ETCD)("team store on etcd with client certificates", () => {
  let mtls: EtcdCluster;
  beforeAll(async () => {
    await ensureBinary();
    mtls = await startEtcdCluster({ clientCertAuth: true });
  }, 90_000);
  afterAll(async () => {
    await mtls?.stop();
  });
  afterEach(() => {
    for (const box of boxes.splice(0)) box.cleanup();
  });

  test("cert_file and key_file present the client certificate; without them, a TLS error naming them", async () => {
    const box = createSandbox();
    boxes.push(box);
    box.env.AUTHCTL_STORE = "etcd";
    box.env.AUTHCTL_ETCD_KEY = SEAL_KEY;
    const base = `[etcd]\nendpoints = ${JSON.stringify(mtls.endpoints)}\nca_file = "${mtls.tls!.caFile}"\ntimeout = 5\n`;
    box.writeConfig(base);
    const refused = await box.run(["token", "openrouter"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toStartWith("authctl: TLS with the etcd cluster failed:");
    expect(refused.stderr).toContain("cert_file and key_file");
    box.writeConfig(
      `${base}cert_file = "${mtls.tls!.clientCertFile}"\nkey_file = "${mtls.tls!.clientKeyFile}"\n`,
    );
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY }));
    expect((await box.run(["token", "openrouter"])).stdout).toBe(`${KEY}\n`);
    box.writeConfig(`${base}cert_file = "${mtls.tls!.clientCertFile}"\n`);
    const half = await box.run(["token", "openrouter"]);
    expect(half.code).toBe(1);
    expect(half.stderr).toContain("etcd.cert_file and etcd.key_file go together");
  }, 60_000);
});
