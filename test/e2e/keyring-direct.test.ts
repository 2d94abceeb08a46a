/**
 * The direct Secret Service reader (src/io/dbus.ts, src/store/secret-service.ts) against a real
 * dbus-daemon and gnome-keyring: it reads exactly what `Bun.secrets` wrote, settles "absent" on its
 * own, and hands locked items and unreachable buses to libsecret. Skipped without the programs.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, DBusCallError, type DBusConnection } from "../../src/io/dbus.ts";
import { AuthctlError } from "../../src/errors.ts";
import { createBunKeyring, type SecretsApi } from "../../src/store/keyring.ts";
import { defaultCollectionState } from "../../src/store/secret-service.ts";
import { createSandbox, ensureBinary, expectOk, secret } from "../helpers/binary.ts";
import {
  missingSecretServicePrograms,
  type SecretService,
  startSecretService,
} from "../helpers/secret-service.ts";

const uid = process.getuid!();
const DBUS = {
  destination: "org.freedesktop.DBus",
  path: "/org/freedesktop/DBus",
  interface: "org.freedesktop.DBus",
};

/** Stores an item the way authctl's writes do: Bun.secrets in a process that sees the bus. */
function storeWithBunSecrets(service: SecretService, name: string, value: string): void {
  const script = `await Bun.secrets.set({ service: "authctl", name: process.argv[1], value: await Bun.stdin.text() });`;
  const run = Bun.spawnSync([process.execPath, "-e", script, name], {
    env: { ...process.env, ...service.env },
    stdin: new Blob([value]),
    stderr: "pipe",
  });
  if (run.exitCode !== 0) throw new Error(`Bun.secrets.set failed: ${run.stderr.toString()}`);
}

/** A stand-in for Bun.secrets that records being asked and answers `answer`. */
function recordingSecrets(answer: string | null = null): SecretsApi & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    get: async (options: { name: string }) => {
      asked.push(options.name);
      return answer;
    },
    set: async () => {},
    delete: async () => false,
  } as unknown as SecretsApi & { asked: string[] };
}

async function lockLoginCollection(service: SecretService): Promise<void> {
  const bus = await connectBus(service.env.DBUS_SESSION_BUS_ADDRESS, uid);
  try {
    const reply = await bus.call({
      destination: "org.freedesktop.secrets",
      path: "/org/freedesktop/secrets",
      interface: "org.freedesktop.Secret.Service",
      member: "Lock",
      signature: "ao",
      body: [["/org/freedesktop/secrets/collection/login"]],
    });
    expect(reply.body[0]).toEqual(["/org/freedesktop/secrets/collection/login"]);
    expect(await defaultCollectionState(bus)).toBe("locked");
  } finally {
    bus.close();
  }
}

if (missingSecretServicePrograms.length)
  console.warn(`SKIPPED: direct Secret Service tests need ${missingSecretServicePrograms.join(", ")}`);

describe.skipIf(missingSecretServicePrograms.length > 0)(
  "against a real dbus-daemon and gnome-keyring",
  () => {
    let service: SecretService;
    beforeAll(async () => {
      service = await startSecretService();
    });
    afterAll(() => service?.stop());

    describe("the D-Bus client", () => {
      test("authenticates, says Hello and gets answers from the bus and from the keyring daemon", async () => {
        const bus = await connectBus(service.env.DBUS_SESSION_BUS_ADDRESS, uid);
        try {
          const id = await bus.call({ ...DBUS, member: "GetId" });
          expect(id.signature).toBe("s");
          expect(id.body[0]).toMatch(/^[0-9a-f]{32}$/);
          const owner = await bus.call({
            ...DBUS,
            member: "GetNameOwner",
            signature: "s",
            body: ["org.freedesktop.secrets"],
          });
          expect(owner.body[0]).toMatch(/^:\d+\.\d+$/);
          // Calls made together come back to the right callers.
          const [a, b] = await Promise.all([
            bus.call({ ...DBUS, member: "NameHasOwner", signature: "s", body: ["org.freedesktop.secrets"] }),
            bus.call({ ...DBUS, member: "NameHasOwner", signature: "s", body: ["org.example.Nobody"] }),
          ]);
          expect([a.body[0], b.body[0]]).toEqual([true, false]);
        } finally {
          bus.close();
        }
      });

      test("the default collection of a freshly unlocked keyring reads as unlocked", async () => {
        const bus = await connectBus(service.env.DBUS_SESSION_BUS_ADDRESS, uid);
        try {
          expect(await defaultCollectionState(bus)).toBe("unlocked");
        } finally {
          bus.close();
        }
      });

      test("an error reply rejects with the D-Bus error name and message", async () => {
        const bus = await connectBus(service.env.DBUS_SESSION_BUS_ADDRESS, uid);
        try {
          const error = await bus.call({ ...DBUS, member: "NoSuchMethod" }).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(DBusCallError);
          expect((error as DBusCallError).dbusName).toBe("org.freedesktop.DBus.Error.UnknownMethod");
          expect((error as DBusCallError).message).toContain("NoSuchMethod");
        } finally {
          bus.close();
        }
      });

      test("a claim to be another user is refused, and calls on that connection fail", async () => {
        const bus = await connectBus(service.env.DBUS_SESSION_BUS_ADDRESS, uid + 4242);
        try {
          await expect(bus.call({ ...DBUS, member: "GetId" })).rejects.toThrow(
            "the bus refused authentication (REJECTED)",
          );
        } finally {
          bus.close();
        }
      });

      test("a bus on an abstract socket (older distributions' unix:tmpdir) is reached too", async () => {
        const name = `/tmp/authctl-abstract-${process.pid}-${Date.now()}`;
        const started = Bun.spawnSync(
          [
            "dbus-daemon",
            "--session",
            `--address=unix:abstract=${name}`,
            "--fork",
            "--nopidfile",
            "--print-address=1",
            "--print-pid=1",
          ],
          { stderr: "ignore" },
        );
        const [address, pid] = started.stdout.toString().trim().split("\n");
        expect(address).toStartWith(`unix:abstract=${name},guid=`);
        try {
          const bus = await connectBus(address!, uid);
          try {
            expect((await bus.call({ ...DBUS, member: "GetId" })).body[0]).toMatch(/^[0-9a-f]{32}$/);
          } finally {
            bus.close();
          }
        } finally {
          process.kill(Number(pid), "SIGTERM");
        }
      });

      test("an address without a Unix socket, or with a missing one, fails to connect", async () => {
        await expect(connectBus("tcp:host=127.0.0.1,port=1", uid)).rejects.toThrow("no Unix socket");
        await expect(connectBus("unix:path=/nonexistent/bus", uid)).rejects.toThrow();
      });
    });

    describe("reading authctl's items", () => {
      test("an item Bun.secrets stored is read without libsecret, byte for byte", async () => {
        const value = JSON.stringify({
          key: secret("sk-or-v1-direct0123456789abcdef"),
          note: "ключ ✓ 'quoted' \\ \n",
        });
        storeWithBunSecrets(service, "direct-one", value);
        const secrets = recordingSecrets("libsecret was asked");
        const keyring = createBunKeyring(service.env, { platform: "linux", secrets });
        expect(await keyring.get("direct-one")).toBe(value);
        expect(secrets.asked).toEqual([]);
      });

      test("an absent item is null without asking libsecret; a similar name does not match", async () => {
        storeWithBunSecrets(service, "direct-two", "two");
        const secrets = recordingSecrets("libsecret was asked");
        const keyring = createBunKeyring(service.env, { platform: "linux", secrets });
        expect(await keyring.get("direct-tw")).toBeNull();
        expect(await keyring.get("nobody")).toBeNull();
        expect(secrets.asked).toEqual([]);
        expect(await keyring.get("direct-two")).toBe("two");
      });

      test("an item the index lists that the direct reader cannot find is asked of libsecret before it is missing", async () => {
        // Stored under another schema name, as a Bun that renamed its private schema would: the
        // direct reader (which searches by Bun's schema) does not see it.
        const stored = Bun.spawnSync(
          [
            "secret-tool",
            "store",
            "--label=authctl/renamed",
            "xdg:schema",
            "com.oven-sh.bun.Secret2",
            "service",
            "authctl",
            "account",
            "renamed",
          ],
          {
            env: { ...process.env, ...service.env },
            stdin: new Blob(["from another schema"]),
            stderr: "pipe",
          },
        );
        expect(stored.exitCode, stored.stderr.toString()).toBe(0);
        const plain = recordingSecrets("libsecret was asked");
        expect(
          await createBunKeyring(service.env, { platform: "linux", secrets: plain }).get("renamed"),
        ).toBeNull();
        expect(plain.asked).toEqual([]);
        const libsecret = recordingSecrets("from libsecret");
        const keyring = createBunKeyring(service.env, { platform: "linux", secrets: libsecret });
        expect(await keyring.get("renamed", { expected: true })).toBe("from libsecret");
        expect(libsecret.asked).toEqual(["renamed"]);
        // libsecret's "absent" is the answer, and an item the direct reader finds never gets there.
        const none = recordingSecrets(null);
        const confirmed = createBunKeyring(service.env, { platform: "linux", secrets: none });
        expect(await confirmed.get("renamed", { expected: true })).toBeNull();
        storeWithBunSecrets(service, "direct-listed", "listed");
        expect(await confirmed.get("direct-listed", { expected: true })).toBe("listed");
        expect(none.asked).toEqual(["renamed"]);
      });

      test("an overwritten item reads as its newest value", async () => {
        storeWithBunSecrets(service, "direct-three", "old");
        storeWithBunSecrets(service, "direct-three", "new");
        expect(
          await createBunKeyring(service.env, { platform: "linux", secrets: recordingSecrets() }).get(
            "direct-three",
          ),
        ).toBe("new");
      });

      test("reads share one connection, are pipelined when concurrent, and reconnect after idling or a dropped bus", async () => {
        for (const name of ["shared-a", "shared-b", "shared-c"])
          storeWithBunSecrets(service, name, `value of ${name}`);
        const opened: DBusConnection[] = [];
        const counting = async (address: string, id: number) => {
          const bus = await connectBus(address, id);
          opened.push(bus);
          return bus;
        };
        const secrets = recordingSecrets("from libsecret");
        const keyring = createBunKeyring(service.env, { platform: "linux", secrets, connectBus: counting });
        expect(
          await Promise.all(["shared-a", "shared-b", "shared-c", "nobody"].map((id) => keyring.get(id))),
        ).toEqual(["value of shared-a", "value of shared-b", "value of shared-c", null]);
        expect(await keyring.get("shared-b")).toBe("value of shared-b");
        expect(opened.length).toBe(1);

        await Bun.sleep(400); // idle: closed, and the next read connects again
        expect(await keyring.get("shared-c")).toBe("value of shared-c");
        expect(opened.length).toBe(2);

        opened[1]!.close(); // the bus goes away under a live reader: libsecret answers, then a new connection
        await Bun.sleep(50);
        expect(await keyring.get("shared-a")).toBe("from libsecret");
        expect(secrets.asked).toEqual(["shared-a"]);
        expect(await keyring.get("shared-a")).toBe("value of shared-a");
        expect(opened.length).toBe(3);
      });

      test("a bus that is not there is a stale address; one it cannot speak to goes to libsecret; other platforms use libsecret's peers", async () => {
        const gone = recordingSecrets("from libsecret");
        const stale = createBunKeyring(
          { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus" },
          { platform: "linux", secrets: gone },
        );
        const error = (await stale.get("x").catch((e: unknown) => e)) as AuthctlError;
        expect(error.message).toBe(
          "the keyring's session bus (unix:path=/nonexistent/bus) is not there (ENOENT)",
        );
        expect(error.hint).toContain("DBUS_SESSION_BUS_ADDRESS may be stale");
        expect(gone.asked).toEqual([]);

        const dir = mkdtempSync(join(tmpdir(), "authctl-rude-bus-"));
        const rude = Bun.listen({
          unix: join(dir, "bus"),
          socket: { open: (socket) => void socket.end(), data() {} },
        });
        try {
          const unreachable = recordingSecrets("from libsecret");
          expect(
            await createBunKeyring(
              { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, "bus")}` },
              { platform: "linux", secrets: unreachable },
            ).get("x"),
          ).toBe("from libsecret");
          expect(unreachable.asked).toEqual(["x"]);
        } finally {
          rude.stop(true);
          rmSync(dir, { recursive: true, force: true });
        }
        const mac = recordingSecrets("from the Keychain");
        expect(await createBunKeyring({}, { platform: "darwin", secrets: mac }).get("y")).toBe(
          "from the Keychain",
        );
        expect(mac.asked).toEqual(["y"]);
      });

      test("a bus that accepts the connection but never answers gives a timeout error, not a hang", async () => {
        const dir = mkdtempSync(join(tmpdir(), "authctl-silent-bus-"));
        let connections = 0;
        const silent = Bun.listen({
          unix: join(dir, "bus"),
          socket: { open: () => void connections++, data() {} },
        });
        try {
          const keyring = createBunKeyring(
            { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, "bus")}` },
            { platform: "linux", timeoutMs: 300, secrets: recordingSecrets() },
          );
          const started = Date.now();
          await expect(keyring.get("x")).rejects.toThrow("the keyring did not answer within 0.3s");
          expect(Date.now() - started).toBeLessThan(2_000);
          expect(connections).toBe(1);
          // The check before a write is bounded the same way.
          const probing = Date.now();
          expect(await keyring.probe()).toBe("it did not answer within 0.3s");
          expect(Date.now() - probing).toBeLessThan(2_000);
        } finally {
          silent.stop(true);
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });
  },
);

describe.skipIf(missingSecretServicePrograms.length > 0)("a locked keyring", () => {
  let service: SecretService;
  beforeAll(async () => {
    await ensureBinary();
    service = await startSecretService();
  });
  afterAll(() => service?.stop());
  const box = createSandbox();
  afterAll(() => box.cleanup());

  test("is handed to libsecret, and when that cannot unlock it the error says locked, not logged out", async () => {
    const KEY = secret("sk-or-v1-locked0123456789abcdef0123456789abcdef0123456789abcdef0123");
    const env = { ...service.env, AUTHCTL_STORE: "keyring" };
    expectOk(await box.run(["login", "openrouter", "--with-key", "--no-verify"], { stdin: KEY, env }));
    expect((await box.run(["env", "openrouter"], { env })).stdout).toBe(
      `export OPENROUTER_API_KEY='${KEY}'\n`,
    );
    const before = readFileSync(join(box.home, "credentials.toml"), "utf8");
    await lockLoginCollection(service);

    const unlocking = recordingSecrets("unlocked by libsecret");
    expect(
      await createBunKeyring(service.env, { platform: "linux", secrets: unlocking }).get("openrouter"),
    ).toBe("unlocked by libsecret");
    expect(unlocking.asked).toEqual(["openrouter"]);
    await expect(
      createBunKeyring(service.env, { platform: "linux", secrets: recordingSecrets(null) }).get("openrouter"),
    ).rejects.toThrow("the keyring holding authctl/openrouter is locked");

    // A person answering the unlock dialog takes longer than the timeout for a silent keyring.
    const slowUnlock = {
      ...recordingSecrets(),
      get: () => Bun.sleep(500).then(() => "unlocked after a while"),
    } as unknown as SecretsApi;
    await expect(
      createBunKeyring(service.env, { platform: "linux", timeoutMs: 200, secrets: slowUnlock }).get(
        "openrouter",
      ),
    ).rejects.toThrow("the keyring did not answer within 0.2s");
    const told: string[] = [];
    const waiting = createBunKeyring(service.env, {
      platform: "linux",
      timeoutMs: 200,
      unlockWaitMs: 5_000,
      notify: (m) => told.push(m),
      secrets: slowUnlock,
    });
    expect(await waiting.get("openrouter")).toBe("unlocked after a while");
    expect(told).toEqual(["the keyring is locked: unlock it in its dialog to go on (waiting up to 5 s)"]);

    // The binary, with the real libsecret behind it (no prompter on this headless bus).
    const run = await box.run(["env", "openrouter"], { env });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("the keyring holding authctl/openrouter is locked");
    expect(run.stderr).toContain("gnome-keyring-daemon --unlock");
    expect(readFileSync(join(box.home, "credentials.toml"), "utf8")).toBe(before);
  });

  test("a login chosen automatically goes to the encrypted file with a notice; one that asks for the keyring fails and keeps the store", async () => {
    const ANT = secret("sk-ant-api03-locked0123456789abcdef0123456789abcdef0123");
    const asked = await box.run(["login", "anthropic", "--with-key", "--no-verify"], {
      stdin: ANT,
      env: { ...service.env, AUTHCTL_STORE: "keyring" },
    });
    expect(asked.code).toBe(1);
    expect(asked.stderr).toContain(
      "the keyring is not available (it is locked), and AUTHCTL_STORE asks for it",
    );
    expect(readFileSync(join(box.home, "credentials.toml"), "utf8")).not.toContain("[anthropic]");

    const auto = await box.run(["login", "anthropic", "--with-key", "--no-verify"], {
      stdin: ANT,
      env: { ...service.env, AUTHCTL_STORE: undefined },
    });
    expectOk(auto);
    expect(auto.stderr).toContain(
      "the keyring is not available (it is locked): secrets go to the encrypted file",
    );
    const text = readFileSync(join(box.home, "credentials.toml"), "utf8");
    expect(text).toContain("[anthropic]");
    expect(text).not.toContain(ANT);
    expect((await box.run(["token", "anthropic"], { env: service.env })).stdout).toBe(`${ANT}\n`);
  });
});

describe.skipIf(missingSecretServicePrograms.length > 0)(
  "a keyring daemon started by D-Bus activation (headless, no login collection)",
  () => {
    let service: SecretService;
    beforeAll(async () => {
      await ensureBinary();
      service = await startSecretService({ activated: true });
    });
    afterAll(() => service?.stop());
    const box = createSandbox();
    afterAll(() => box.cleanup());

    test("has no default collection; an automatic login goes to the encrypted file, an explicit one fails", async () => {
      const bus = await connectBus(service.env.DBUS_SESSION_BUS_ADDRESS, uid);
      try {
        expect(await defaultCollectionState(bus)).toBe("none");
      } finally {
        bus.close();
      }
      const KEY = secret("sk-or-v1-activated0123456789abcdef0123456789abcdef0123456789abcdef0");
      const asked = await box.run(["login", "openrouter", "--with-key", "--no-verify"], {
        stdin: KEY,
        env: { ...service.env, AUTHCTL_STORE: "keyring" },
      });
      expect(asked.code).toBe(1);
      expect(asked.stderr).toContain(
        "the keyring is not available (it has no default collection to store into), and AUTHCTL_STORE asks for it",
      );

      const auto = await box.run(["login", "openrouter", "--with-key", "--no-verify"], {
        stdin: KEY,
        env: { ...service.env, AUTHCTL_STORE: undefined },
      });
      expectOk(auto);
      expect(auto.stderr).toContain(
        "the keyring is not available (it has no default collection to store into): secrets go to the encrypted file",
      );
      expect(readFileSync(join(box.home, "credentials.toml"), "utf8")).not.toContain(KEY);
      expect((await box.run(["env", "openrouter"], { env: service.env })).stdout).toBe(
        `export OPENROUTER_API_KEY='${KEY}'\n`,
      );

      const before = readFileSync(join(box.home, "credentials.toml"), "utf8");
      const migrate = await box.run(["store", "migrate", "--to", "keyring"], { env: service.env });
      expect(migrate.code).toBe(1);
      expect(migrate.stderr).toContain(
        "the keyring is not available (it has no default collection to store into): nothing was moved",
      );
      expect(readFileSync(join(box.home, "credentials.toml"), "utf8")).toBe(before);
    });
  },
);
