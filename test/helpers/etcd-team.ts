/**
 * The scaffolding the etcd test files share: one real cluster per describe block (started after
 * the binary is built, stopped at the end), and for the end-to-end files the team store's
 * "machines" (sandboxes sharing one prefix and seal key), the oidc-provider server of the test
 * that started one, and a clean slate after every test (sandboxes removed, the OAuth server
 * stopped, the prefix deleted in etcd).
 */
import { afterAll, afterEach, beforeAll, expect } from "bun:test";
import {
  type OidcServer,
  type StartOidcServerOptions,
  startOidcServer,
  TEST_CLIENT_ID,
} from "../fakes/oidc-server.ts";
import { createSandbox, ensureBinary, type Sandbox } from "./binary.ts";
import {
  type EtcdCluster,
  type EtcdClusterOptions,
  startEtcdCluster,
  strayEtcdPids,
} from "./etcd-cluster.ts";

export interface UseEtcdClusterOptions {
  /** How the cluster is started (TLS, client certificates, auth). */
  start?: EtcdClusterOptions;
  /** Builds the binary first (end-to-end files). */
  binary?: boolean;
  /** After stopping the cluster, checks that none of its members outlives it. */
  noStrays?: boolean;
}

/**
 * Registers, in the describe block it is called in, a beforeAll that starts a three-member
 * cluster (90 s: three members on 2 loaded cores) and an afterAll that stops it. The cluster is
 * read through the returned object, once the block's tests run.
 */
export function useEtcdCluster(options: UseEtcdClusterOptions = {}): { readonly cluster: EtcdCluster } {
  let cluster: EtcdCluster | undefined;
  beforeAll(async () => {
    if (options.binary) await ensureBinary();
    cluster = await startEtcdCluster(options.start);
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
    if (options.noStrays && cluster) expect(strayEtcdPids(cluster)).toEqual([]);
  });
  return {
    get cluster() {
      if (!cluster)
        throw new Error("the etcd cluster is not started: call useEtcdCluster in a describe block");
      return cluster;
    },
  };
}

export interface EtcdTeamOptions {
  /** The team's prefix in etcd, written into every machine's config. */
  prefix: string;
  /** The seal key every machine gets in AUTHCTL_ETCD_KEY. */
  sealKey: string;
  /** What is deleted after each test (`etcdctl del --prefix`); the team's prefix unless set. */
  cleanPrefix?: string;
  /** After each test, starts again every member a test killed, before deleting the prefix. */
  restartMembers?: boolean;
  /** After the block, checks that no member of its cluster outlives it. */
  noStrays?: boolean;
}

export interface MachineOptions {
  /** Another prefix (or seal key) than the team's. */
  prefix?: string;
  sealKey?: string;
  /** Lines added to the [etcd] table. */
  etcd?: string;
  /** Lines added to the mycorp provider's table (written only while an OIDC server runs). */
  provider?: string;
}

export interface EtcdTeam {
  /** Registers the cluster's and the clean-up hooks in the describe block it is called in. */
  register(): void;
  readonly cluster: EtcdCluster;
  /** The OIDC server the current test started, if any (stopped after the test). */
  readonly server: OidcServer | undefined;
  /** Starts oidc-provider for the current test: machines made afterwards get a `mycorp` provider on it. */
  startOidc(options?: StartOidcServerOptions): Promise<OidcServer>;
  /** A machine: its own AUTHCTL_HOME sharing the team store. */
  machine(options?: MachineOptions): Sandbox;
}

/** The team store of one test file; call `register()` in its describe block. */
export function etcdTeam(options: EtcdTeamOptions): EtcdTeam {
  let etcd: { readonly cluster: EtcdCluster } | undefined;
  let server: OidcServer | undefined;
  const boxes: Sandbox[] = [];
  const team: EtcdTeam = {
    register() {
      etcd = useEtcdCluster({ binary: true, noStrays: options.noStrays });
      afterEach(async () => {
        for (const box of boxes.splice(0)) box.cleanup();
        await server?.stop();
        server = undefined;
        const cluster = team.cluster;
        if (options.restartMembers) {
          // Every test starts from an empty prefix on a whole cluster.
          await cluster.restart(0);
          await cluster.restart(1);
          await cluster.restart(2);
        }
        await cluster.etcdctl(["del", "--prefix", options.cleanPrefix ?? options.prefix]);
      });
    },
    get cluster() {
      if (!etcd) throw new Error("etcdTeam: call register() in the describe block");
      return etcd.cluster;
    },
    get server() {
      return server;
    },
    async startOidc(oidcOptions) {
      server = await startOidcServer(oidcOptions);
      return server;
    },
    machine(machineOptions = {}) {
      const box = createSandbox();
      boxes.push(box);
      box.env.AUTHCTL_STORE = "etcd";
      box.env.AUTHCTL_ETCD_KEY = machineOptions.sealKey ?? options.sealKey;
      const prefix = machineOptions.prefix ?? options.prefix;
      box.writeConfig(
        `store = "etcd"\n[etcd]\nendpoints = ${JSON.stringify(team.cluster.endpoints)}\nprefix = "${prefix}"\nlock_ttl = 2\n${machineOptions.etcd ?? ""}` +
          (server
            ? `[providers.mycorp]\nname = "MyCorp"\nissuer = "${server.issuer}"\nclient_id = "${TEST_CLIENT_ID}"\n` +
              `scopes = ["openid", "offline_access"]\nenv = { MYCORP_TOKEN = "access_token" }\n${machineOptions.provider ?? ""}`
            : ""),
      );
      return box;
    },
  };
  return team;
}
