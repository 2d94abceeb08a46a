/**
 * A real three-member etcd cluster on loopback for one test file: free ports, temporary data
 * directories (in /dev/shm when there is one: under `stress-ng --hdd 1` every fsync on disk can
 * take long enough to look like a dead member), members started and health-checked together,
 * and a member killed, restarted, or two of them killed (quorum lost) on request.
 *
 * Timing is generous on purpose: the machine has 2 loaded cores, so the members get a 1.5 s
 * election timeout (etcd's default is 1 s) and the cluster waits for a leader, not a wall clock.
 * Optional: client TLS (a CA and a server certificate made with openssl for this cluster) and
 * auth (a root user and a `runner` user whose role may read and write one prefix).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ETCD = Bun.which("etcd") ?? "/usr/bin/etcd";
export const ETCDCTL = Bun.which("etcdctl") ?? "/usr/bin/etcdctl";
export const HAVE_ETCD = existsSync(ETCD) && existsSync(ETCDCTL);
/**
 * util-linux's setpriv, to start each member with PR_SET_PDEATHSIG = SIGKILL: a member dies with
 * the test process even when that is SIGKILLed (no exit or signal handler runs then, so the
 * handlers below cannot cover it). Installed in CI (util-linux is essential in Debian).
 */
const SETPRIV = Bun.which("setpriv");

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  proc?: ReturnType<typeof Bun.spawn>;
}

export interface EtcdTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A client certificate signed by the same CA (for --client-cert-auth clusters). */
  clientCertFile: string;
  clientKeyFile: string;
  /** A CA that signed nothing here: a client trusting it must refuse the cluster. */
  otherCaFile: string;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Client URLs, in member order. */
  endpoints: string[];
  tls?: EtcdTls;
  auth?: { rootPassword: string; user: string; password: string; prefix: string };
  /** SIGKILL one member (no clean shutdown: what a crashed machine does). */
  kill(index: number): Promise<void>;
  /** Starts a killed member again on its data directory and waits until it serves. */
  restart(index: number): Promise<void>;
  /** Kills two members: the one left has no quorum. */
  loseQuorum(): Promise<void>;
  /** Moves the leadership to one member (etcdctl move-leader) and waits until it leads. */
  makeLeader(index: number): Promise<void>;
  /** SIGSTOP / SIGCONT one member: a member that accepts connections and never answers (a slow one). */
  pause(index: number): void;
  resume(index: number): void;
  /** Runs etcdctl (as root when auth is on) against the live members. */
  etcdctl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Waits until a linearizable read succeeds on every live member. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every member and removes the data; afterwards no etcd of this cluster runs. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound and released; etcd binds it right after). */
function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

function openssl(args: string[], cwd: string): void {
  const proc = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${proc.stderr.toString()}`);
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all P-256 (fast to make). */
function makeTls(dir: string): EtcdTls {
  mkdirSync(dir, { recursive: true });
  const ca = (name: string) => {
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`], dir);
    openssl(
      ["req", "-x509", "-new", "-key", `${name}.key`, "-sha256", "-days", "2", "-subj", `/CN=${name}`].concat(
        ["-out", `${name}.pem`],
      ),
      dir,
    );
  };
  ca("ca");
  ca("other-ca");
  const leaf = (name: string, ext: string) => {
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`], dir);
    openssl(["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`], dir);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(
      ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"].concat([
        "-days",
        "2",
        "-sha256",
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.pem`,
      ]),
      dir,
    );
  };
  leaf("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  leaf("client", "extendedKeyUsage=clientAuth\n");
  return {
    caFile: join(dir, "ca.pem"),
    certFile: join(dir, "server.pem"),
    keyFile: join(dir, "server.key"),
    clientCertFile: join(dir, "client.pem"),
    clientKeyFile: join(dir, "client.key"),
    otherCaFile: join(dir, "other-ca.pem"),
  };
}

export interface EtcdClusterOptions {
  tls?: boolean;
  /** Requires client certificates signed by the cluster's CA (implies tls). */
  clientCertAuth?: boolean;
  /** Enables auth with a `runner` user that may read and write `prefix` (default "/authctl/"). */
  auth?: boolean;
  prefix?: string;
}

/**
 * Data directories of clusters whose test run ended without its handlers (SIGKILL, or `bun test
 * --bail`, which exits at the first failure without running afterAll or exit handlers; the
 * members die with it: setpriv below): etcd preallocates its WAL, about 370 MB per cluster, which
 * in /dev/shm is memory. One that no running etcd uses and that is two minutes old (a cluster
 * being started now has its members running within seconds; a live one always has one) is removed.
 */
function removeAbandoned(base: string): void {
  const running = Bun.spawnSync(["pgrep", "-a", "-x", "etcd"], { stdout: "pipe" }).stdout.toString();
  for (const name of readdirSync(base)) {
    if (!name.startsWith("authctl-etcd-")) continue;
    const dir = join(base, name);
    try {
      if (running.includes(dir) || Date.now() - statSync(dir).mtimeMs < 120_000) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
}

export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  removeAbandoned(base);
  const root = mkdtempSync(join(base, "authctl-etcd-"));
  const tls = options.tls || options.clientCertAuth ? makeTls(join(root, "tls")) : undefined;
  const scheme = tls ? "https" : "http";
  const members: EtcdMember[] = [1, 2, 3].map((n) => ({
    name: `m${n}`,
    clientUrl: `${scheme}://127.0.0.1:${freePort()}`,
    peerUrl: `http://127.0.0.1:${freePort()}`,
    dataDir: join(root, `m${n}`),
  }));
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
  const token = `authctl-test-${root.slice(-6)}`;

  const spawn = (member: EtcdMember) => {
    const args = [
      ETCD,
      "--name",
      member.name,
      "--data-dir",
      member.dataDir,
      "--listen-client-urls",
      member.clientUrl,
      "--advertise-client-urls",
      member.clientUrl,
      "--listen-peer-urls",
      member.peerUrl,
      "--initial-advertise-peer-urls",
      member.peerUrl,
      "--initial-cluster",
      initialCluster,
      "--initial-cluster-state",
      "new",
      "--initial-cluster-token",
      token,
      // Generous for 2 loaded cores: a missed heartbeat must not start an election.
      "--heartbeat-interval",
      "150",
      "--election-timeout",
      "1500",
      "--logger",
      "zap",
      "--log-outputs",
      join(root, `${member.name}.log`),
      "--log-level",
      "warn",
      // Small, so tests never trip the backend quota or write large snapshots.
      "--snapshot-count",
      "2000",
    ];
    if (tls) {
      args.push("--cert-file", tls.certFile, "--key-file", tls.keyFile);
      if (options.clientCertAuth) args.push("--client-cert-auth", "--trusted-ca-file", tls.caFile);
    }
    // setpriv sets the death signal and execs etcd, which keeps it (prctl(2): kept across execve
    // of a binary that is not set-user-ID); etcd's parent is then this process itself.
    const command = SETPRIV ? [SETPRIV, "--pdeathsig", "KILL", ...args] : args;
    member.proc = Bun.spawn(command, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  };

  const ctlBase = () => {
    const live = members.filter((m) => m.proc && m.proc.exitCode === null && m.proc.signalCode === null);
    const args = [ETCDCTL, `--endpoints=${live.map((m) => m.clientUrl).join(",")}`, "--dial-timeout=3s"];
    if (tls) {
      args.push(`--cacert=${tls.caFile}`);
      if (options.clientCertAuth) args.push(`--cert=${tls.clientCertFile}`, `--key=${tls.clientKeyFile}`);
    }
    return args;
  };
  let authOn = false;
  const auth = options.auth
    ? { rootPassword: "root-pw-for-tests", user: "runner", password: "runner-pw-for-tests" }
    : undefined;
  const etcdctl = async (args: string[]) => {
    const full = [...ctlBase()];
    if (authOn && auth) full.push(`--user=root:${auth.rootPassword}`);
    const proc = Bun.spawn([...full, ...args], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ETCDCTL_API: "3" },
    });
    const [stdout, stderr] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ]);
    await proc.exited;
    return { code: proc.exitCode, stdout, stderr };
  };

  const fetchOptions = () =>
    tls
      ? {
          tls: {
            ca: Bun.file(tls.caFile),
            ...(options.clientCertAuth
              ? { cert: Bun.file(tls.clientCertFile), key: Bun.file(tls.clientKeyFile) }
              : {}),
          },
        }
      : {};

  /** One linearizable read: answered only by a member that has a leader and a quorum behind it. */
  const serves = async (member: EtcdMember): Promise<boolean> => {
    try {
      const response = await fetch(`${member.clientUrl}/health`, {
        signal: AbortSignal.timeout(3000),
        ...fetchOptions(),
      } as RequestInit);
      const body = (await response.json()) as { health?: string };
      return body.health === "true";
    } catch {
      return false;
    }
  };

  const waitHealthy = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = members.filter((m) => m.proc && m.proc.exitCode === null && m.proc.signalCode === null);
      const dead = members.filter((m) => m.proc && (m.proc.exitCode !== null || m.proc.signalCode !== null));
      if (dead.length && dead.some((m) => !killed.has(m.name))) {
        const which = dead.filter((m) => !killed.has(m.name)).map((m) => m.name);
        throw new Error(`etcd member(s) ${which.join(", ")} exited; logs in ${root}`);
      }
      const ok = await Promise.all(live.map(serves));
      if (ok.every(Boolean)) return;
      if (Date.now() > deadline)
        throw new Error(`etcd cluster not healthy after ${timeoutMs} ms; logs in ${root}`);
      await Bun.sleep(100);
    }
  };

  const killed = new Set<string>();
  const kill = async (index: number) => {
    const member = members[index]!;
    killed.add(member.name);
    member.proc?.kill("SIGKILL");
    await member.proc?.exited;
  };

  for (const member of members) spawn(member);
  // A test file that crashes must not leave members running: kill them as this process exits.
  const killAll = () => {
    for (const member of members) member.proc?.kill("SIGKILL");
  };
  process.on("exit", killAll);
  // A run stopped by a signal (Ctrl-C, a CI timeout) runs no exit handlers: kill them here too.
  const onSignal = (signal: NodeJS.Signals) => {
    killAll();
    rmSync(root, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const stop = async () => {
    for (const member of members) {
      killed.add(member.name);
      member.proc?.kill("SIGKILL");
    }
    await Promise.all(members.map((m) => m.proc?.exited));
    process.off("exit", killAll);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await waitHealthy(60_000);
    if (auth) {
      const prefix = options.prefix ?? "/authctl/";
      const steps = [
        ["user", "add", `root:${auth.rootPassword}`],
        ["role", "add", "runner"],
        ["role", "grant-permission", "runner", "--prefix=true", "readwrite", prefix],
        ["user", "add", `${auth.user}:${auth.password}`],
        ["user", "grant-role", auth.user, "runner"],
        ["auth", "enable"],
      ];
      for (const step of steps) {
        const result = await etcdctl(step);
        if (result.code !== 0) throw new Error(`etcdctl ${step.join(" ")}: ${result.stderr}`);
      }
      authOn = true;
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    members,
    endpoints: members.map((m) => m.clientUrl),
    tls,
    auth: auth ? { ...auth, prefix: options.prefix ?? "/authctl/" } : undefined,
    kill,
    async restart(index) {
      const member = members[index]!;
      if (member.proc && member.proc.exitCode === null && member.proc.signalCode === null) return;
      killed.delete(member.name);
      // The data directory holds the membership: a restart rejoins (the flags about the initial
      // cluster are ignored once it exists).
      spawn(member);
      await waitHealthy();
    },
    async loseQuorum() {
      await kill(1);
      await kill(2);
    },
    async makeLeader(index) {
      // Simple output: endpoint, member id (hex), version, db size, is leader, …
      const status = async () =>
        (await etcdctl(["endpoint", "status"])).stdout
          .trim()
          .split("\n")
          .map((line) => line.split(", "));
      const rows = await status();
      const target = rows.find((row) => row[0] === members[index]!.clientUrl);
      const leader = rows.find((row) => row[4] === "true");
      if (!target || !leader) throw new Error(`etcd endpoint status said: ${JSON.stringify(rows)}`);
      if (leader === target) return;
      const moved = await etcdctl(["move-leader", target[1]!, `--endpoints=${leader[0]}`]);
      if (moved.code !== 0) throw new Error(`etcdctl move-leader: ${moved.stderr}`);
      for (let i = 0; i < 100; i++) {
        if ((await status()).find((row) => row[0] === members[index]!.clientUrl)?.[4] === "true") return;
        await Bun.sleep(100);
      }
      throw new Error(`${members[index]!.name} did not become the leader`);
    },
    pause(index) {
      members[index]!.proc?.kill("SIGSTOP");
    },
    resume(index) {
      members[index]!.proc?.kill("SIGCONT");
    },
    etcdctl,
    waitHealthy,
    stop,
  };
}

/** The pids of every etcd process whose data directory is under one of this machine's test roots. */
export function strayEtcdPids(cluster: EtcdCluster): number[] {
  const proc = Bun.spawnSync(["pgrep", "-a", "-x", "etcd"], { stdout: "pipe" });
  const dirs = cluster.members.map((m) => m.dataDir);
  return proc.stdout
    .toString()
    .split("\n")
    .filter((line) => dirs.some((dir) => line.includes(dir)))
    .map((line) => Number(line.split(" ")[0]));
}
