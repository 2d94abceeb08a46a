/**
 * A real Secret Service for tests: a private D-Bus session bus started by `dbus-run-session`,
 * with `gnome-keyring-daemon --unlock --components=secrets` fed a test password on stdin. Absent
 * programs are listed in `missingSecretServicePrograms` so suites can skip with a line saying why
 * (apt: dbus gnome-keyring libsecret-tools).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connectBus } from "../../src/io/dbus.ts";
import { memoryTmpdir } from "./binary.ts";

const PROGRAMS = ["dbus-run-session", "dbus-daemon", "gnome-keyring-daemon", "secret-tool"];
export const missingSecretServicePrograms = PROGRAMS.filter((p) => !Bun.which(p));

export interface SecretService {
  /** The bus address, as an environment to run programs with. */
  env: { DBUS_SESSION_BUS_ADDRESS: string };
  stop(): void;
}

/**
 * `activated`: no daemon is started; the first call to org.freedesktop.secrets starts one through
 * D-Bus activation, as on a headless machine with gnome-keyring installed: it has no login
 * collection and nobody to unlock one.
 */
export async function startSecretService(options: { activated?: boolean } = {}): Promise<SecretService> {
  // In memory where the machine has a tmpfs: gnome-keyring syncs its keyring file to disk on every
  // write, and under disk load (stress-ng --hdd 1) that took it past authctl's 2 s keyring bound,
  // so keyring tests failed with "the keyring did not answer within 2s".
  const dir = mkdtempSync(join(memoryTmpdir(), "authctl-keyring-"));
  // The bus passes its environment to the daemons it activates: keep them out of the real HOME.
  const home = {
    HOME: dir,
    XDG_DATA_HOME: join(dir, "data"),
    XDG_CONFIG_HOME: join(dir, "config"),
    PATH: process.env.PATH ?? "/usr/bin:/bin",
  };
  // dbus-run-session starts the bus and ends it when its command ends: the command reports the
  // address and its pid, then waits to be killed by stop().
  const session = Bun.spawn(
    ["dbus-run-session", "--", "sh", "-c", 'echo "$$ $DBUS_SESSION_BUS_ADDRESS"; exec sleep 3600'],
    { env: home, stdout: "pipe", stderr: "ignore" },
  );
  const reader = session.stdout.getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("dbus-run-session did not start a bus");
    first += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const [pid, address] = first.trim().split(" ");
  if (!pid || !address) throw new Error(`dbus-run-session printed "${first.trim()}"`);
  const env = { ...home, DBUS_SESSION_BUS_ADDRESS: address };
  const stop = () => {
    // The bus goes with dbus-run-session, and gnome-keyring-daemon with its bus.
    process.kill(Number(pid), "SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
  if (options.activated) return { env: { DBUS_SESSION_BUS_ADDRESS: address }, stop };
  const daemon = Bun.spawn(["gnome-keyring-daemon", "--unlock", "--components=secrets"], {
    env,
    stdin: new Blob(["test-password"]),
    stdout: "pipe",
    stderr: "ignore",
  });
  await daemon.exited;
  // The daemon forks and its first process leaves before the name is surely on the bus.
  const client = await connectBus(address, process.getuid!());
  try {
    for (let waited = 0; ; waited += 20) {
      const owned = await client.call({
        destination: "org.freedesktop.DBus",
        path: "/org/freedesktop/DBus",
        interface: "org.freedesktop.DBus",
        member: "NameHasOwner",
        signature: "s",
        body: ["org.freedesktop.secrets"],
      });
      if (owned.body[0] === true) break;
      if (waited > 5_000) throw new Error("gnome-keyring-daemon did not take org.freedesktop.secrets");
      await Bun.sleep(20);
    }
  } finally {
    client.close();
  }
  return { env: { DBUS_SESSION_BUS_ADDRESS: address }, stop };
}

/** What `secret-tool` (libsecret) finds under service authctl, account `id`; null when nothing. */
export function lookupWithSecretTool(service: SecretService, id: string): string | null {
  const result = Bun.spawnSync(["secret-tool", "lookup", "service", "authctl", "account", id], {
    env: { ...process.env, ...service.env },
  });
  return result.exitCode === 0 ? result.stdout.toString() : null;
}
