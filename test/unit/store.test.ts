import { afterEach, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { AuthctlError } from "../../src/errors.ts";
import { writeFileAtomic } from "../../src/store/atomic-write.ts";
import { createBackendStore } from "../../src/store/backend-store.ts";
import { breakStaleLock, readLock } from "../../src/store/lock.ts";
import type { StoreEffects } from "../../src/store/effects.ts";
import type { FileStoreOptions, StoredCredential } from "../../src/store/types.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const BUN = process.execPath;
const LOOPER_TOKEN_PAD = 512 * 1024;
const TMP_PREFIX = "credentials.toml.tmp-";

/** The store on the plain-file backend, as with AUTHCTL_STORE=file. */
function fileStore(home: string, options: FileStoreOptions = {}) {
  return createBackendStore(home, {
    choice: { backend: "file", from: "AUTHCTL_STORE" },
    notify: () => {},
    ...options,
  });
}

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A path in a fresh temporary directory; the home itself does not exist yet. */
function freshHome(): string {
  const dir = mkdtempSync(join(tmpdir(), "authctl-store-"));
  scratch.push(dir);
  return join(dir, "home");
}

/** A fresh home that exists (0700) and holds `text` as its credentials.toml (0600). */
function homeWithStore(text: string | Uint8Array): string {
  const home = freshHome();
  mkdirSync(home, { mode: 0o700 });
  writeFileSync(join(home, "credentials.toml"), text, { mode: 0o600 });
  return home;
}

function apiKey(key: string, at = 1_732_000_000_000): StoredCredential {
  return { method: "key", type: "api_key", key, created_at: at, updated_at: at };
}

/** Runs a fixture with `umask 000` (exec keeps the pid, so kill() reaches bun itself). */
function spawnFixture(script: string, args: string[], umask = "022") {
  return Bun.spawn(["sh", "-c", `umask ${umask} && exec "$@"`, "sh", BUN, join(FIXTURES, script), ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
}

async function waitForOutput(
  stream: ReadableStream<Uint8Array>,
  text: string,
  timeoutMs = 60_000,
): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    while (!seen.includes(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`child ended before printing "${text}" (saw: ${JSON.stringify(seen)})`);
      seen += decoder.decode(value);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}

async function deadPid(): Promise<number> {
  const child = Bun.spawn(["true"]);
  await child.exited;
  return child.pid;
}

function writeLock(
  home: string,
  owner: { pid: number; host?: string; time?: number; nonce?: string },
): string {
  const path = join(home, "credentials.toml.lock");
  const lock = { host: hostname(), time: Date.now(), nonce: "someone-else", ...owner };
  writeFileSync(path, JSON.stringify(lock), { mode: 0o600 });
  return path;
}

async function rejection(promise: Promise<unknown>): Promise<AuthctlError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AuthctlError);
    return error as AuthctlError;
  }
  throw new Error("expected a rejection");
}

function thrown(fn: () => unknown): AuthctlError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AuthctlError);
    return error as AuthctlError;
  }
  throw new Error("expected an error");
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

test("a missing store reads as empty and creates nothing", () => {
  const home = freshHome();
  const snapshot = fileStore(home).read();
  expect(Object.keys(snapshot.credentials)).toEqual([]);
  expect(snapshot).toMatchObject({ exists: false, warnings: [], path: join(home, "credentials.toml") });
  expect(existsSync(home)).toBe(false);
});

test("a credential with every field round-trips, numbers stay numbers", async () => {
  const home = freshHome();
  const store = fileStore(home);
  const full: StoredCredential = {
    method: "device",
    type: "oauth",
    key: "sk-unused-but-kept",
    access_token: 'at-"quoted"\nnewline',
    refresh_token: "rt-1",
    id_token: "eyJ.id.token",
    token_type: "Bearer",
    scope: "openid offline_access",
    expires_at: 1_732_350_000_123,
    obtained_at: 1_732_346_400_123,
    account: "me@example.com",
    label: "work",
    needs_login: true,
    extra: { account_id: "acct_1", "enterprise host": "ghe.example.com" },
    created_at: 1_732_000_000_000,
    updated_at: 1_732_346_400_123,
  };
  await store.update((credentials) => {
    credentials["github-copilot"] = full;
  });
  const snapshot = store.read();
  expect(snapshot.exists).toBe(true);
  expect({ ...snapshot.credentials["github-copilot"] }).toEqual(full);
  expect(typeof snapshot.credentials["github-copilot"]?.expires_at).toBe("number");
  const text = readFileSync(store.path, "utf8");
  expect(
    text.startsWith(
      "# authctl credential store. Managed by authctl: use 'authctl login/logout'.\nversion = 1\n",
    ),
  ).toBe(true);
  expect(text).toContain("\n[github-copilot]\n");
  expect(text).toContain("\nexpires_at = 1732350000123\n");
});

test("a fractional expiry is stored as whole milliseconds", async () => {
  const store = fileStore(freshHome());
  await store.update((credentials) => {
    credentials.openai = { ...apiKey("sk-1"), type: "oauth", expires_at: 1_732_350_000_123.6 };
  });
  expect(store.read().credentials.openai?.expires_at).toBe(1_732_350_000_124);
});

test("fields and top-level keys this version does not know are preserved on rewrite", async () => {
  const home = homeWithStore(
    [
      "version = 1",
      'future_top = "kept"',
      "[openrouter]",
      'method = "key"',
      'type = "api_key"',
      'key = "sk-or-1"',
      "created_at = 1",
      "updated_at = 2",
      'future_field = "x"',
      "future_list = [1, 2]",
      "future_inline = { a = 1 }",
      "",
    ].join("\n"),
  );
  const store = fileStore(home);
  await store.update((credentials) => {
    credentials.anthropic = apiKey("sk-ant-1");
    const openrouter = credentials.openrouter;
    if (openrouter) openrouter.label = "relabelled";
  });
  const text = readFileSync(store.path, "utf8");
  expect(text).toContain('future_top = "kept"');
  const openrouter = store.read().credentials.openrouter as unknown as Record<string, unknown>;
  expect(openrouter.label).toBe("relabelled");
  expect(openrouter.future_field).toBe("x");
  expect(openrouter.future_list).toEqual([1, 2]);
  expect({ ...(openrouter.future_inline as object) }).toEqual({ a: 1 });
});

test("files are 0600 in a 0700 directory even under umask 000, and no temporary file is ever wider", async () => {
  const home = join(freshHome(), "nested", "authctl");
  const writer = spawnFixture("store-writer.ts", [home, "openrouter"], "000");
  expect(await writer.exited).toBe(0);
  expect(mode(home)).toBe(0o700);
  expect(mode(join(home, "credentials.toml"))).toBe(0o600);

  // Watch a writer that rewrites a large file 150 times and stat every temporary file we catch.
  const looper = spawnFixture("store-looper.ts", [home, "150"], "000");
  let finished = false;
  void looper.exited.then(() => (finished = true));
  const modes = new Set<number>();
  while (!finished) {
    for (const name of readdirSync(home)) {
      if (!name.startsWith(TMP_PREFIX)) continue;
      try {
        modes.add(mode(join(home, name)));
      } catch {
        // Renamed away between readdir and stat.
      }
    }
    await Bun.sleep(0);
  }
  expect(await looper.exited).toBe(0);
  expect([...modes].filter((m) => m !== 0o600)).toEqual([]);
  expect(readdirSync(home).filter((name) => name.startsWith(TMP_PREFIX))).toEqual([]);
  expect(mode(join(home, "credentials.toml"))).toBe(0o600);
}, 120_000);

test("a failed write leaves no temporary file and reports STORE_IO", () => {
  const home = freshHome();
  const target = join(home, "occupied");
  mkdirSync(join(target, "child"), { recursive: true });
  const error = thrown(() => writeFileAtomic(target, "secret = 1\n"));
  expect(error.code).toBe("STORE_IO");
  expect(error.message).toContain(target);
  expect(readdirSync(home)).toEqual(["occupied"]);
});

const SECRET = "sk-or-v1-THISISASECRETVALUE0123456789";
const corruptStores: { name: string; text: string; line: number; says: string; hint: string }[] = [
  {
    name: "invalid TOML",
    text: `# hand edited\nversion = 1\n\n[openrouter]\nmethod = "key"\ntype = "api_key"\nkey = ${SECRET}\n`,
    line: 7,
    says: "does not parse (line 7, column 7): invalid value",
    hint: "fix or move the file aside; authctl will not overwrite it",
  },
  {
    name: "a string where a number belongs",
    text: `version = 1\n[openrouter]\nmethod = "key"\ntype = "api_key"\nkey = "x"\nexpires_at = "${SECRET}"\ncreated_at = 1\nupdated_at = 1\n`,
    line: 6,
    says: "openrouter.expires_at must be an integer (epoch milliseconds), found a string",
    hint: "fix or move the file aside; authctl will not overwrite it",
  },
  {
    name: "a provider table that is not a provider id",
    text: `version = 1\n[Open_Router]\nkey = "${SECRET}"\n`,
    line: 2,
    says: "[Open_Router] is not a provider id",
    hint: "fix or move the file aside; authctl will not overwrite it",
  },
  {
    name: "a newer format version",
    text: `# written by authctl 9\n\nversion = 3\n[openrouter]\nmethod = "key"\ntype = "api_key"\nkey = "${SECRET}"\ncreated_at = 1\nupdated_at = 1\n`,
    line: 3,
    says: "has format version 3",
    hint: "upgrade authctl; it will not overwrite a store written by a newer version",
  },
];

for (const corrupt of corruptStores) {
  test(`a store with ${corrupt.name} is left byte-for-byte untouched, and the error names file and line but no secret`, async () => {
    const home = homeWithStore(corrupt.text);
    const store = fileStore(home);
    const before = readFileSync(store.path);
    let called = false;
    const error = await rejection(
      store.update((credentials) => {
        called = true;
        credentials.anthropic = apiKey("sk-ant-new");
      }),
    );
    for (const e of [error, thrown(() => store.read())]) {
      expect(e.code).toBe("STORE_CORRUPT");
      expect(e.message).toContain(store.path);
      expect(e.message).toContain(`line ${corrupt.line}`);
      expect(e.message).toContain(corrupt.says);
      expect(e.message).not.toContain("THISISASECRET");
      expect(e.message).not.toContain("\n");
      expect(e.hint).toBe(corrupt.hint);
    }
    expect(called).toBe(false);
    expect(readFileSync(store.path).equals(before)).toBe(true);
    expect(readdirSync(home).sort()).toEqual(["credentials.toml"]);
  });
}

test("a store that is not UTF-8 is refused, not rewritten", async () => {
  const bytes = new Uint8Array([0x76, 0x3d, 0x22, 0xff, 0xfe, 0x22, 0x0a]);
  const store = fileStore(homeWithStore(bytes));
  const error = await rejection(store.update(() => undefined));
  expect(error.code).toBe("STORE_CORRUPT");
  expect(error.message).toContain(store.path);
  expect(new Uint8Array(readFileSync(store.path))).toEqual(bytes);
});

test("an invalid provider id is refused before anything is written", async () => {
  const store = fileStore(freshHome());
  for (const id of ["version", "Bad_Id", "-x"]) {
    const error = await rejection(store.update((credentials) => void (credentials[id] = apiKey("sk-1"))));
    expect(error.code).toBe("INTERNAL");
  }
  expect(existsSync(store.path)).toBe(false);
});

test("a store readable by group or others is tightened to 0600/0700 once, with one warning each (issue 15.10)", async () => {
  const home = freshHome();
  const store = fileStore(home);
  await store.update((credentials) => void (credentials.openrouter = apiKey("sk-1")));
  expect(store.read().warnings).toEqual([]);
  chmodSync(store.path, 0o640);
  chmodSync(home, 0o750);
  expect(store.read().warnings).toEqual([
    `${store.path} was open to other users (mode 0640): changed to 0600`,
    `${home} was open to other users (mode 0750): changed to 0700`,
  ]);
  expect(mode(store.path)).toBe(0o600);
  expect(mode(home)).toBe(0o700);
  // Said once: the next command has nothing to say.
  expect(store.read().warnings).toEqual([]);
});

test("a store, or its directory, that other users may write is refused with the fix, not used (issue 13.11)", async () => {
  const home = freshHome();
  const store = fileStore(home);
  await store.update((credentials) => void (credentials.openrouter = apiKey("sk-1")));
  chmodSync(store.path, 0o622);
  expect(() => store.read()).toThrow(
    `credentials.toml ${store.path} is writable by other users (mode 0622); authctl will not use it`,
  );
  chmodSync(store.path, 0o600);
  chmodSync(home, 0o777);
  expect(() => store.read()).toThrow(
    `authctl's directory ${home} is writable by other users (mode 0777); authctl will not use it`,
  );
  const error = await rejection(store.update(() => undefined));
  expect(error.hint).toBe(`run chmod 700 ${home}, and check that nobody changed it`);
});

test("20 writer processes at once all land in one valid file", async () => {
  const home = freshHome();
  const providers = Array.from({ length: 20 }, (_, i) => `provider-${i}`);
  const started = performance.now();
  const children = providers.map((id) => spawnFixture("store-writer.ts", [home, id]));
  const codes = await Promise.all(children.map((child) => child.exited));
  const elapsed = performance.now() - started;
  const errors = await Promise.all(children.map((child) => new Response(child.stderr).text()));
  expect(errors.filter(Boolean)).toEqual([]);
  expect(codes).toEqual(providers.map(() => 0));
  const snapshot = fileStore(home).read();
  expect(Object.keys(snapshot.credentials).sort()).toEqual([...providers].sort());
  for (const id of providers) expect(snapshot.credentials[id]?.key).toBe(`sk-test-${id}`);
  expect(readdirSync(home)).toEqual(["credentials.toml"]);
  console.error(`20 parallel writer processes: ${Math.round(elapsed)} ms`);
}, 120_000);

test("kill -9 mid-update never leaves a broken store, and the next update recovers from the dead lock", async () => {
  const home = freshHome();
  const store = fileStore(home, { lockTimeoutMs: 60_000, staleLockMs: 600_000 });
  const recoveries: number[] = [];
  let locksLeft = 0;
  let tempsLeft = 0;
  for (let round = 0; round < 5; round++) {
    const looper = spawnFixture("store-looper.ts", [home], "000");
    await waitForOutput(looper.stdout, "ready");
    await Bun.sleep(300);
    looper.kill("SIGKILL");
    await looper.exited;

    const big = store.read().credentials.big;
    expect(big).toBeDefined();
    expect(big?.access_token?.length).toBe(`${big?.label}:`.length + LOOPER_TOKEN_PAD);
    expect(big?.access_token?.startsWith(`${big?.label}:x`)).toBe(true);
    expect(big?.refresh_token).toBe(`${big?.label}:refresh`);
    for (const name of readdirSync(home).filter((n) => n.startsWith(TMP_PREFIX))) {
      tempsLeft++;
      expect(mode(join(home, name))).toBe(0o600);
    }
    if (existsSync(join(home, "credentials.toml.lock"))) locksLeft++;

    const started = performance.now();
    await store.update((credentials) => void (credentials.parent = apiKey(`sk-round-${round}`)));
    recoveries.push(Math.round(performance.now() - started));
    expect(store.read().credentials.parent?.key).toBe(`sk-round-${round}`);
    expect(readdirSync(home).sort()).toEqual(["credentials.toml"]);
  }
  console.error(
    `kill -9: lock left ${locksLeft}/5, temp file left ${tempsLeft}/5, recovery ms ${recoveries.join(", ")}`,
  );
}, 180_000);

test("a stale lock whose holder is dead on this host is broken", async () => {
  const home = freshHome();
  mkdirSync(home, { mode: 0o700 });
  const lock = writeLock(home, { pid: await deadPid() });
  const store = fileStore(home, { lockTimeoutMs: 30_000 });
  await store.update((credentials) => void (credentials.openrouter = apiKey("sk-1")));
  expect(existsSync(lock)).toBe(false);
  expect(store.read().credentials.openrouter?.key).toBe("sk-1");
});

test.skipIf(process.platform !== "linux")(
  "a lock whose holder was killed but not yet reaped (a zombie) is broken",
  async () => {
    const home = freshHome();
    const lock = join(home, "credentials.toml.lock");
    // `exec sleep` leaves the holder a child of sleep, which never reaps it: once killed it stays a zombie.
    const script = join(FIXTURES, "store-writer.ts");
    const parent = Bun.spawn([
      "sh",
      "-c",
      `"$0" "$1" "$2" holder 60000 >/dev/null & exec sleep 60`,
      BUN,
      script,
      home,
    ]);
    try {
      let pid: number | undefined;
      for (let i = 0; i < 600 && pid === undefined; i++) {
        pid = readLock(lock)?.owner?.pid;
        if (pid === undefined) await Bun.sleep(50);
      }
      expect(pid).toBeDefined();
      process.kill(pid!, "SIGKILL");
      for (let i = 0; i < 100 && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z"); i++)
        await Bun.sleep(20);
      expect(readFileSync(`/proc/${pid}/stat`, "utf8")).toContain(") Z");
      const store = fileStore(home, { lockTimeoutMs: 10_000, staleLockMs: 600_000 });
      await store.update((credentials) => void (credentials.after = apiKey("sk-1")));
      expect(Object.keys(store.read().credentials)).toEqual(["after"]);
    } finally {
      parent.kill("SIGKILL");
      await parent.exited;
    }
  },
  60_000,
);

test("ten processes racing to break the same stale lock all get their turn", async () => {
  const home = freshHome();
  mkdirSync(home, { mode: 0o700 });
  writeLock(home, { pid: await deadPid() });
  const providers = Array.from({ length: 10 }, (_, i) => `racer-${i}`);
  const children = providers.map((id) => spawnFixture("store-writer.ts", [home, id]));
  expect(await Promise.all(children.map((child) => child.exited))).toEqual(providers.map(() => 0));
  expect(Object.keys(fileStore(home).read().credentials).sort()).toEqual([...providers].sort());
}, 120_000);

test("a lock left empty by a holder killed before writing it is broken after two seconds", async () => {
  const home = freshHome();
  mkdirSync(home, { mode: 0o700 });
  const lock = join(home, "credentials.toml.lock");
  writeFileSync(lock, "", { mode: 0o600 });
  const fresh = await rejection(fileStore(home, { lockTimeoutMs: 200 }).update(() => undefined));
  expect(fresh.code).toBe("STORE_LOCKED");
  const old = new Date(Date.now() - 10_000);
  utimesSync(lock, old, old);
  await fileStore(home, { lockTimeoutMs: 30_000 }).update(
    (credentials) => void (credentials.x = apiKey("sk-1")),
  );
  expect(existsSync(lock)).toBe(false);
});

test("a lock from another host is broken only once it is older than staleLockMs, even past a leftover guard", async () => {
  const home = freshHome();
  mkdirSync(home, { mode: 0o700 });
  const lock = writeLock(home, { pid: 1, host: "elsewhere.example" });
  const error = await rejection(fileStore(home, { lockTimeoutMs: 200 }).update(() => undefined));
  expect(error.code).toBe("STORE_LOCKED");
  expect(error.message).toContain("pid 1 on elsewhere.example");
  expect(error.hint).toBe(`if no authctl is running, delete ${lock}`);

  const old = new Date(Date.now() - 60_000);
  utimesSync(lock, old, old);
  const guard = `${lock}.break`;
  writeFileSync(guard, "");
  utimesSync(guard, old, old);
  const store = fileStore(home, { lockTimeoutMs: 30_000, staleLockMs: 30_000 });
  await store.update((credentials) => void (credentials.x = apiKey("sk-1")));
  expect(readdirSync(home)).toEqual(["credentials.toml"]);
});

// pid 1 above is alive on every host, so that test cannot tell whether the host was looked at.
// A pid that is dead here says nothing about a process on another machine sharing the home
// (NFS): only age may free such a lock.
test("a young lock from another host is kept even when its pid does not exist on this one", async () => {
  const home = freshHome();
  mkdirSync(home, { mode: 0o700 });
  const pid = await deadPid();
  writeLock(home, { pid, host: "elsewhere.example" });
  const error = await rejection(fileStore(home, { lockTimeoutMs: 300 }).update(() => undefined));
  expect(error.code).toBe("STORE_LOCKED");
  expect(error.message).toContain(`pid ${pid} on elsewhere.example`);
});

test("a guard file left by a process killed while breaking or releasing a lock does not hold others up", async () => {
  const home = freshHome();
  mkdirSync(home, { mode: 0o700 });
  const lock = writeLock(home, { pid: await deadPid() });
  const guard = `${lock}.break`;
  writeFileSync(
    guard,
    JSON.stringify({ pid: await deadPid(), host: hostname(), time: Date.now(), nonce: "g" }),
  );
  // Dated in the future, so that only the dead pid, not the guard's five-second age limit, can free it.
  const future = new Date(Date.now() + 3_600_000);
  utimesSync(guard, future, future);
  await fileStore(home, { lockTimeoutMs: 10_000 }).update(
    (credentials) => void (credentials.x = apiKey("sk-1")),
  );
  expect(readdirSync(home)).toEqual(["credentials.toml"]);
});

test("a lock naming this process but not held by it is a dead earlier process's", async () => {
  const home = freshHome();
  mkdirSync(home, { mode: 0o700 });
  writeLock(home, { pid: process.pid, nonce: "not-mine" });
  await fileStore(home, { lockTimeoutMs: 30_000 }).update(
    (credentials) => void (credentials.x = apiKey("sk-1")),
  );
  expect(readdirSync(home)).toEqual(["credentials.toml"]);
});

test("a waiter that judged a lock stale does not delete the live lock that replaced it", async () => {
  const home = freshHome();
  mkdirSync(home, { mode: 0o700 });
  const lock = writeLock(home, { pid: await deadPid(), nonce: "dead" });
  const observed = readLock(lock);
  expect(observed).toBeDefined();
  // Another waiter breaks the dead lock and takes a new one before this waiter acts.
  rmSync(lock);
  writeLock(home, { pid: process.ppid, nonce: "live" });
  expect(breakStaleLock(lock, observed!, 120_000)).toBe(false);
  expect(readLock(lock)?.owner?.nonce).toBe("live");
});

test("a holder whose lock was taken over writes nothing and leaves the new lock alone", async () => {
  const home = freshHome();
  const store = fileStore(home);
  await store.update((credentials) => void (credentials.openrouter = apiKey("sk-1")));
  const before = readFileSync(store.path);
  const error = await rejection(
    store.update((credentials) => {
      // As if we had stalled past staleLockMs and another process broke our lock and took its own.
      writeLock(home, { pid: process.ppid, nonce: "usurper" });
      credentials.openrouter = apiKey("sk-2");
    }),
  );
  expect(error.code).toBe("STORE_LOCKED");
  expect(readFileSync(store.path).equals(before)).toBe(true);
  expect(readLock(join(home, "credentials.toml.lock"))?.owner?.nonce).toBe("usurper");
});

test("a lock held by a live process makes a second process wait for it", async () => {
  const home = freshHome();
  const holder = spawnFixture("store-writer.ts", [home, "holder", "1500"]);
  await waitForOutput(holder.stdout, "locked");
  const store = fileStore(home, { lockTimeoutMs: 60_000 });
  const asked = Date.now();
  const seen = await store.update((credentials) => ({ holder: credentials.holder, at: Date.now() }));
  expect(await holder.exited).toBe(0);
  // The holder wrote only after its pause, so seeing its credential proves we waited for it.
  expect(seen.holder?.key).toBe("sk-test-holder");
  expect(seen.holder?.updated_at).toBeLessThanOrEqual(seen.at);
  expect(seen.at).toBeGreaterThanOrEqual(asked);
}, 60_000);

test("a short lockTimeoutMs gives STORE_LOCKED naming the holder and the lock file", async () => {
  const home = freshHome();
  const holder = spawnFixture("store-writer.ts", [home, "holder", "30000"]);
  await waitForOutput(holder.stdout, "locked");
  const lock = join(home, "credentials.toml.lock");
  let called = false;
  const error = await rejection(fileStore(home, { lockTimeoutMs: 300 }).update(() => void (called = true)));
  expect(error.code).toBe("STORE_LOCKED");
  expect(error.message).toContain(`pid ${holder.pid} on ${hostname()}`);
  expect(error.hint).toBe(`if no authctl is running, delete ${lock}`);
  expect(called).toBe(false);
  holder.kill("SIGKILL");
  await holder.exited;
  await fileStore(home, { lockTimeoutMs: 30_000 }).update(
    (credentials) => void (credentials.after = apiKey("sk-1")),
  );
  expect(Object.keys(fileStore(home).read().credentials)).toEqual(["after"]);
}, 60_000);

test("concurrent updates within one process are serialised too", async () => {
  const store = fileStore(freshHome());
  const ids = Array.from({ length: 10 }, (_, i) => `same-${i}`);
  await Promise.all(
    ids.map((id) =>
      store.update(async (credentials) => {
        await Bun.sleep(1);
        credentials[id] = apiKey(`sk-${id}`);
      }),
    ),
  );
  expect(Object.keys(store.read().credentials).sort()).toEqual([...ids].sort());
});

test("an update whose fn throws writes nothing and releases the lock", async () => {
  const home = freshHome();
  const store = fileStore(home);
  const boom = new Error("boom");
  await expect(store.update(() => Promise.reject(boom))).rejects.toBe(boom);
  expect(existsSync(home) ? readdirSync(home) : []).toEqual([]);

  await store.update((credentials) => void (credentials.openrouter = apiKey("sk-1")));
  const before = readFileSync(store.path);
  const inode = statSync(store.path).ino;
  await expect(
    store.update((credentials) => {
      credentials.openrouter = apiKey("sk-changed");
      throw boom;
    }),
  ).rejects.toBe(boom);
  expect(readFileSync(store.path).equals(before)).toBe(true);
  expect(statSync(store.path).ino).toBe(inode);
  expect(readdirSync(home)).toEqual(["credentials.toml"]);
});

test("an update whose fn changes nothing does not rewrite the file", async () => {
  const home = freshHome();
  const store = fileStore(home);
  expect(await store.update(() => "nothing")).toBe("nothing");
  expect(existsSync(store.path)).toBe(false);

  await store.update((credentials) => void (credentials.openrouter = apiKey("sk-1")));
  const old = new Date(Date.now() - 60_000);
  utimesSync(store.path, old, old);
  const before = statSync(store.path);
  await store.update((credentials) => {
    const same = credentials.openrouter;
    if (same) same.key = "sk-1";
  });
  const after = statSync(store.path);
  expect(after.ino).toBe(before.ino);
  expect(after.mtimeMs).toBe(before.mtimeMs);
});

/** Lock effects for a test: its own clock, host and liveness answers; exit hooks are recorded, not installed. */
function fakeEffects(overrides: Partial<StoreEffects> = {}): StoreEffects & { exitHooks: Array<() => void> } {
  const exitHooks: Array<() => void> = [];
  return {
    now: () => Date.now(),
    hostname: () => "test-host.example",
    pid: process.pid,
    isProcessAlive: () => true,
    onExit: (fn) => void exitHooks.push(fn),
    exitHooks,
    ...overrides,
  };
}

test("the lock asks the injected effects, not the process: liveness, host and clock", async () => {
  const home = freshHome();
  mkdirSync(home, { mode: 0o700 });
  // pid 1 is alive on every real host: only the injected probe can call it dead.
  writeLock(home, { pid: 1, host: "test-host.example" });
  const alive = fakeEffects();
  const held = await rejection(
    fileStore(home, { lockTimeoutMs: 200, effects: alive }).update(() => undefined),
  );
  expect(held.code).toBe("STORE_LOCKED");
  const probed: number[] = [];
  const dead = fakeEffects({ isProcessAlive: (pid) => (probed.push(pid), false) });
  await fileStore(home, { lockTimeoutMs: 30_000, effects: dead }).update(
    (credentials) => void (credentials.x = apiKey("sk-1")),
  );
  expect(probed).toContain(1);
  expect(readLock(join(home, "credentials.toml.lock"))).toBeUndefined();

  // A lock of another host is freed by age alone: a clock ten minutes ahead makes it stale at once.
  writeLock(home, { pid: 1, host: "elsewhere.example" });
  const later = fakeEffects({ now: () => Date.now() + 600_000 });
  await fileStore(home, { lockTimeoutMs: 30_000, staleLockMs: 120_000, effects: later }).update(
    (credentials) => void (credentials.y = apiKey("sk-2")),
  );
  expect(Object.keys(fileStore(home).read().credentials).sort()).toEqual(["x", "y"]);
});
