import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRegistry } from "../../src/providers/registry.ts";
import { sealAesGcm } from "../../src/store/_aead.ts";
import { hmacSha256, recordMac } from "../../src/store/_integrity.ts";
import { parseCredentialsFile } from "../../src/store/credentials-file.ts";
import { connectBus } from "../../src/io/dbus.ts";
import { createSandbox, ROOT, type Sandbox, writeScript } from "../helpers/binary.ts";
import {
  missingSecretServicePrograms,
  type SecretService,
  startSecretService,
} from "../helpers/secret-service.ts";

/**
 * The usual-case lane (src/main.ts, src/actions/usual-case.ts) answers `env`, `token` and `exec`
 * from the texts of config.toml and credentials.toml alone, and hands everything else over to the
 * full path. Its promise: what it answers is exactly what the full path would, and it answers
 * nothing else. Three binaries of the same source check that (scripts/build.ts --usual-case=):
 * `off` (the full path for everything), `on` (the release), and `only` (exits 99 wherever the lane
 * hands over). Every row runs all three against the same home, rebuilt between runs, and checks:
 *
 * 1. `on` and `off` agree byte for byte: stdout, stderr, exit code, and for exec what the child
 *    saw (its argv, environment in its order, ignored signals, umask, limits and open
 *    descriptors: PROBE_SCRIPT below);
 * 2. the row's `lane`: `only` exits 99 exactly where the lane must hand over, and elsewhere gives
 *    what `on` gave. A lane that starts answering something it should not, or stops answering
 *    the usual case, fails here even when its answer happens to be right;
 * 3. the files (credentials.toml, config.toml, their modes, anything created beside them) end up
 *    the same after `on` and `off`, and untouched wherever the lane answered.
 *
 * Rows whose name starts "every provider" are generated from the provider files the full path
 * uses, one per built-in login method: the lane reads the same providers as generated data.
 * A refresh that is due meets a local server that answers 503 (never the network); the
 * encrypted and keyring rows log in once with the `off` binary and put its files back before each run.
 */

type Mode = "off" | "on" | "only";
const MODES: Mode[] = ["off", "on", "only"];
const HANDED_OVER = { code: 99, signal: null, stdout: "", stderr: "authctl: the usual case handed over\n" };

let buildDir: string;
const binaries = {} as Record<Mode, string>;
/** Stands in for every token endpoint: a refresh that is due meets an outage (503), never the network. */
let down: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  buildDir = mkdtempSync(join(tmpdir(), "authctl-usual-case-"));
  // One after another: the machine has two cores, shared.
  for (const mode of MODES) {
    binaries[mode] = join(buildDir, `authctl-${mode}`);
    const proc = Bun.spawn(
      [
        process.execPath,
        join(ROOT, "scripts", "build.ts"),
        "--no-profile",
        `--usual-case=${mode}`,
        `--outfile=${binaries[mode]}`,
      ],
      { cwd: ROOT, stdout: "ignore", stderr: "pipe" },
    );
    const stderr = await new Response(proc.stderr).text();
    if ((await proc.exited) !== 0) throw new Error(`build --usual-case=${mode} failed: ${stderr}`);
  }
  down = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => new Response("temporarily down", { status: 503 }),
  });
}, 180_000);

/** One Secret Service for the rows that need the keyring, started by the first of them. */
let keyring: Promise<SecretService> | undefined;
let keyringStarted: SecretService | undefined;
function keyringEnv(): Record<string, string> {
  if (!keyringStarted) throw new Error("the Secret Service is not started");
  return { DBUS_SESSION_BUS_ADDRESS: keyringStarted.env.DBUS_SESSION_BUS_ADDRESS };
}

afterAll(() => {
  keyringStarted?.stop();
  down?.stop(true);
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Store and config texts

/** No secret of these may reach stderr in any run. */
const SECRETS = new Set<string>();
function secret(value: string): string {
  SECRETS.add(value);
  return value;
}

const OR_KEY = secret("sk-or-v1-difftest0123456789abcdef0123456789abcdef");
const OR_WORK = secret("sk-or-v1-worktest0123456789abcdef0123456789abcdef");
const ANT_KEY = secret("sk-ant-api03-difftest0123456789abcdef0123456789");
const GROQ_KEY = secret("gsk_difftest0123456789abcdef0123456789abcdef");
const ACCESS = secret("at-difftest-0123456789abcdef0123456789abcdef");
const REFRESH = secret("rt-difftest-0123456789abcdef0123456789abcdef");
const ID_TOKEN = secret("idt-difftest-0123456789abcdef0123456789abcdef");
const CHATGPT_KEY = secret("sk-proj-chatgpt-difftest0123456789abcdef");
/** Values every shell format must quote: a quote, a newline, non-ASCII, a backslash, a dollar. */
const TRICKY = secret('sk-or-it\'s\nline2 ünï €$HOME \\ `x` "q"');
const AMBIENT = secret("ambient-stale-difftest-0123456789abcdef");
const PASSPHRASE = secret("correct horse difftest battery staple");
const STALE = secret("sk-or-v1-stale-in-the-file-difftest0123456789");

const T0 = 1_780_000_000_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

type Value = string | number | boolean | Record<string, string>;
function tomlValue(value: Value): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value !== "object") return String(value);
  const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)} = ${JSON.stringify(v)}`);
  return `{ ${entries.join(", ")} }`;
}

/** One table of credentials.toml (`["openrouter@work"]` quoted where needed). */
function record(id: string, fields: Record<string, Value | undefined>): string {
  const header = /^[a-z0-9-]+$/.test(id) ? id : JSON.stringify(id);
  const lines = Object.entries(fields)
    .filter((entry): entry is [string, Value] => entry[1] !== undefined)
    .map(([name, value]) => `${name} = ${tomlValue(value)}`);
  return `\n[${header}]\n${lines.join("\n")}\n`;
}

function apiKey(id: string, key: string, more: Record<string, Value | undefined> = {}): string {
  return record(id, { method: "key", type: "api_key", key, created_at: T0, updated_at: T0, ...more });
}

interface OAuthRecord {
  method?: string;
  access?: string;
  refresh?: string | null;
  /** Milliseconds from now; null: no expires_at at all. */
  expiresIn?: number | null;
  /** Milliseconds between obtained_at and expires_at (the refresh margin is the smaller of 5 min and half of it). */
  lifetime?: number;
  more?: Record<string, Value | undefined>;
}

function oauth(id: string, now: number, o: OAuthRecord = {}): string {
  const expiresIn = o.expiresIn === undefined ? DAY : o.expiresIn;
  const lifetime = o.lifetime ?? 2 * DAY;
  const expires = expiresIn === null ? undefined : now + expiresIn;
  const obtained = expires === undefined ? now - HOUR : expires - lifetime;
  return record(id, {
    method: o.method ?? "oauth",
    type: "oauth",
    access_token: o.access ?? ACCESS,
    refresh_token: o.refresh === null ? undefined : (o.refresh ?? REFRESH),
    expires_at: expires,
    obtained_at: obtained,
    created_at: T0,
    updated_at: obtained,
    ...o.more,
  });
}

function store(...records: string[]): string {
  return `# authctl credential store. Managed by authctl: use 'authctl login/logout'.\nversion = 1\n${records.join("")}`;
}

/** A custom OAuth provider whose endpoints are the 503 server: a refresh is an outage, offline. */
function mycorp(c: Ctx, env = 'env = { MYCORP_TOKEN = "access_token", MYCORP_ID = "id_token" }'): string {
  const base = `http://127.0.0.1:${c.port}`;
  return `[providers.mycorp]\nissuer = "${base}"\ntoken_url = "${base}/token"\nauthorize_url = "${base}/authorize"\nclient_id = "authctl"\n${env}\n`;
}

/** The built-in OAuth providers' token endpoints moved to the 503 server (a due refresh stays offline). */
function offlineEndpoints(c: Ctx, ...ids: string[]): string {
  return ids.map((id) => `[providers.${id}]\ntoken_url = "http://127.0.0.1:${c.port}/token"\n`).join("");
}

/** A record whose secrets are in the keyring, given a `key` in the file as well (an older authctl's, or a hand edit). */
function staleKeyBesideKeyring(c: Ctx): void {
  const path = join(c.home, "credentials.toml");
  const text = readFileSync(path, "utf8");
  if (!text.includes('secret_store = "keyring"')) throw new Error("the fixture has no keyring record");
  writeFileSync(path, text.replace('type = "api_key"\n', `type = "api_key"\nkey = "${STALE}"\n`));
}

/** Deletes the keyring item of `id` behind authctl's back (libsecret's secret-tool). */
function clearKeyringItem(id: string): void {
  Bun.spawnSync(["secret-tool", "clear", "service", "authctl", "account", id], {
    env: { ...process.env, ...keyringEnv() },
  });
}

/** Another AUTHCTL_HOME logs in to openrouter on the keyring: the item is now that store's. */
function loginFromAnotherStore(c: Ctx): void {
  const proc = Bun.spawnSync([binaries.off, "login", "openrouter", "--with-key", "--no-verify"], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: c.root,
      AUTHCTL_HOME: join(c.root, "another-store"),
      AUTHCTL_STORE: "keyring",
      ...keyringEnv(),
    },
    stdin: new Blob([OR_WORK]),
    stdout: "ignore",
    stderr: "pipe",
  });
  if (proc.exitCode !== 0) throw new Error(`the other store's login failed: ${proc.stderr.toString()}`);
}

/**
 * Edits one record of the sealed store the logins left (format 2), then gives it the MAC the
 * store's key gives it (`remac`: an edit only the key's holder could make) or leaves its old one.
 */
function editSealedRecord(c: Ctx, id: string, edit: (section: string) => string, remac: boolean): void {
  const path = join(c.home, "credentials.toml");
  const text = readFileSync(path, "utf8");
  const start = text.indexOf(`\n[${id}]\n`);
  if (start < 0) throw new Error(`the fixture has no record ${id}`);
  const end = text.indexOf("\n[", start + 1);
  const section = text.slice(start, end < 0 ? text.length : end);
  let edited = edit(section);
  if (edited === section) throw new Error(`the edit left ${id} as it was`);
  if (remac) {
    const document = parseCredentialsFile(text.replace(section, edited), path);
    const macKey = hmacSha256(readFileSync(join(c.home, "key")), "authctl:v2:record-mac-key");
    const mac = recordMac(macKey, id, document.preserved.generation as number, document.credentials[id]!);
    edited = edited.replace(/^mac = ".*"$/m, `mac = "${mac}"`);
  }
  writeFileSync(path, text.replace(section, edited));
}

/** One character of the record's sealed `key` changed: the value no longer authenticates. */
const damageSealedKey = (section: string) =>
  section.replace(
    /(key = "enc:v1:.{20})(.)/,
    (_, head: string, char: string) => head + (char === "A" ? "B" : "A"),
  );

/** The key file of the format-1 stores below (a store from before record MACs). */
const FORMAT1_KEY = Buffer.alloc(32, 9);
const seal1 = (plain: string, additional: string) => sealAesGcm(FORMAT1_KEY, plain, Buffer.from(additional));
/** A format-1 sealed store, as authctl wrote it before record MACs: sealed values, no MAC, no generation. */
function format1Store(...records: string[]): string {
  const check = seal1("authctl key check v1", "authctl:v1:key-check");
  return `# authctl credential store. Managed by authctl: use 'authctl login/logout'.\nversion = 1\nkey_source = "file"\nkey_check = "${check}"\n${records.join("")}`;
}
const sealedKey1 = (id: string, key: string, more: Record<string, Value | undefined> = {}) =>
  apiKey(id, seal1(key, `authctl:v1:${id}:key`), more);
const writeFormat1Key = (c: Ctx) => writeFileSync(join(c.home, "key"), FORMAT1_KEY, { mode: 0o600 });

const OR = apiKey("openrouter", OR_KEY);
const ANT = apiKey("anthropic", ANT_KEY);
const GROQ = apiKey("groq", GROQ_KEY);
const PLAIN = store(OR, ANT, GROQ);

// ---------------------------------------------------------------------------------------------
// The table

interface Ctx {
  root: string;
  /** The directory authctl uses as its home in this row. */
  home: string;
  port: number;
  now: number;
}

type Text = string | Uint8Array | ((c: Ctx) => string | Uint8Array);

interface Row {
  name: string;
  argv: string[] | ((c: Ctx) => string[]);
  /** Whether the usual-case lane answers this row (false: `only` must exit 99). */
  lane: boolean;
  /** credentials.toml; undefined: no file. */
  store?: Text;
  /** config.toml; undefined: no file. */
  config?: Text;
  /** Where the home is found: AUTHCTL_HOME (default), $XDG_CONFIG_HOME/authctl, $HOME/.config/authctl, or a relative AUTHCTL_HOME. */
  home?: "authctl" | "xdg" | "user" | "relative" | "xdg-relative";
  modes?: { store?: number; dir?: number; config?: number };
  /** Another owner (uid) for the store or its directory (we run as root in CI; skipped otherwise). */
  owner?: { store?: number; dir?: number };
  /** Anything else about the home, done after the files are written. */
  setup?(c: Ctx): void;
  /** Over the sandbox's clean environment; undefined removes a variable. */
  env?: Record<string, string | undefined> | ((c: Ctx) => Record<string, string | undefined>);
  /** What the full path gives (checked on `off`): keeps each row about what its name says. */
  code?: number;
  stdout?: RegExp | string;
  stderr?: RegExp | string;
  /** Text the output must not contain (a variable exec removed). */
  absent?: string[];
  /**
   * Logins made once (by the `off` binary, with the row's environment and these variables) before
   * the runs: an encrypted store or the keyring as authctl writes them. The files they leave are
   * put back byte for byte before each run; `store` is then appended to credentials.toml.
   */
  logins?: { providers: Array<[id: string, key: string]>; env?: Record<string, string> };
  /** Needs a Secret Service (test/helpers/secret-service.ts): skipped where its programs are missing. */
  keyring?: boolean;
  /** A shell command line that runs authctl where it says AUTHCTL (`exec >/dev/full; exec AUTHCTL`). */
  wrap?: string;
}

const PROBE = "probe";
/** exec's child: everything of its state the two paths could set differently. */
const PROBE_SCRIPT = `#!/bin/sh
printf 'argv:'; for a in "$0" "$@"; do printf ' [%s]' "$a"; done; echo
printf 'cwd: %s\\numask: %s\\n' "$(pwd)" "$(umask)"
while read -r name value; do case "$name" in SigBlk:|SigIgn:|NoNewPrivs:|CapEff:|Seccomp:) echo "$name $value";; esac; done < /proc/$$/status
for f in /proc/$$/fd/*; do printf 'fd %s -> %s\\n' "\${f##*/}" "$(readlink "$f" | sed -e 's/:\\[[0-9]*\\]$//' -e 's|^/dev/pts/[0-9]*$|/dev/pts/N|')"; done
echo '--- limits'
ulimit -a
echo '--- environment, in its order'
env -0 | tr '\\0' '\\n'
`;

const ENV_FORMATS: Array<[string, string[], RegExp]> = [
  ["sh (default)", [], /^export OPENROUTER_API_KEY='sk-or-v1-difftest/],
  ["-f sh", ["-f", "sh"], /^export OPENROUTER_API_KEY=/],
  ["--format=sh", ["--format=sh"], /^export OPENROUTER_API_KEY=/],
  ["-f fish", ["-f", "fish"], /^set -gx OPENROUTER_API_KEY /],
  ["--format fish", ["--format", "fish"], /^set -gx OPENROUTER_API_KEY /],
  ["--format=powershell", ["--format=powershell"], /^\$env:OPENROUTER_API_KEY = /],
  ["-f powershell", ["-f", "powershell"], /^\$env:OPENROUTER_API_KEY = /],
  ["--format dotenv", ["--format", "dotenv"], /^OPENROUTER_API_KEY='/],
  ["-f dotenv", ["-f", "dotenv"], /^OPENROUTER_API_KEY='/],
  ["--format=json", ["--format=json"], /^\{\n {2}"OPENROUTER_API_KEY"/],
  ["-f json", ["-f", "json"], /^\{\n {2}"OPENROUTER_API_KEY"/],
];

/** Most keyring rows: openrouter logged in on the keyring (AUTHCTL_STORE=keyring) before the runs. */
const OPENROUTER_ON_KEYRING: Pick<Row, "keyring" | "logins"> = {
  keyring: true,
  logins: { providers: [["openrouter", OR_KEY]], env: { AUTHCTL_STORE: "keyring" } },
};

const ROWS: Row[] = [
  // --- an API key in the plain store: the usual case, every command and format
  ...ENV_FORMATS.flatMap(([label, args, stdout]): Row[] => [
    {
      name: `env openrouter ${label}`,
      argv: ["env", "openrouter", ...args],
      lane: true,
      store: PLAIN,
      code: 0,
      stdout,
    },
    {
      name: `env ${label} openrouter (options first)`,
      argv: ["env", ...args, "openrouter"],
      lane: true,
      store: PLAIN,
      code: 0,
      stdout,
    },
  ]),
  ...["sh", "fish", "powershell", "json"].map(
    (format): Row => ({
      name: `env -f ${format} with a value holding quotes, a newline, non-ASCII, a backslash and a dollar`,
      argv: ["env", "openrouter", "-f", format],
      lane: true,
      store: store(apiKey("openrouter", TRICKY)),
      code: 0,
    }),
  ),
  {
    name: "env -f dotenv with a value holding both quotes, a backtick and a backslash: a usage error, handed over",
    argv: ["env", "openrouter", "-f", "dotenv"],
    lane: false,
    store: store(apiKey("openrouter", TRICKY)),
    code: 2,
  },
  {
    name: "env -f dotenv with a value holding a single quote, a newline and non-ASCII",
    argv: ["env", "openrouter", "-f", "dotenv"],
    lane: true,
    store: store(apiKey("openrouter", "sk-or-it's\nünï €")),
    code: 0,
    stdout: /^OPENROUTER_API_KEY="sk-or-it's\n/,
  },
  {
    name: "env -f powershell with a typographic quote in the value",
    argv: ["env", "openrouter", "-f", "powershell"],
    lane: true,
    store: store(apiKey("openrouter", "sk-or-\u2019q")),
    code: 0,
  },
  {
    name: "env -f dotenv with a value dotenv cannot carry (CR and a backslash): a usage error, handed over",
    argv: ["env", "openrouter", "-f", "dotenv"],
    lane: false,
    store: store(apiKey("openrouter", "sk-or-cr\r\\x")),
    code: 2,
    stderr: /cannot be written as dotenv/,
  },
  {
    name: "env with a NUL in the value: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: store(apiKey("openrouter", "sk-or-nul\u0000tail")),
  },
  {
    name: "exec with a NUL in the value: handed over, nothing run",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: false,
    store: store(apiKey("openrouter", "sk-or-nul\u0000tail")),
    absent: ["argv:"],
  },
  {
    name: "env --format github-env without GITHUB_ENV: handed over (usage error)",
    argv: ["env", "openrouter", "--format", "github-env"],
    lane: false,
    store: PLAIN,
    code: 2,
  },
  {
    name: "env -f github-env with GITHUB_ENV: handed over",
    argv: ["env", "openrouter", "-f", "github-env"],
    lane: false,
    store: PLAIN,
    env: (c) => ({ GITHUB_ENV: join(c.root, "github-env") }),
    code: 0,
    stdout: /^::add-mask::/,
  },
  {
    name: "env -f bogus: handed over",
    argv: ["env", "openrouter", "-f", "bogus"],
    lane: false,
    store: PLAIN,
    code: 2,
  },
  {
    name: "env with both --format and -f: handed over",
    argv: ["env", "openrouter", "--format", "json", "-f", "sh"],
    lane: false,
    store: PLAIN,
  },
  {
    name: "env --format without a value: handed over",
    argv: ["env", "openrouter", "--format"],
    lane: false,
    store: PLAIN,
  },
  {
    name: "env --format= (empty): handed over",
    argv: ["env", "openrouter", "--format="],
    lane: false,
    store: PLAIN,
  },
  {
    name: "env -fjson (glued short option): handed over",
    argv: ["env", "openrouter", "-fjson"],
    lane: false,
    store: PLAIN,
  },
  {
    name: "env with an unknown option: handed over",
    argv: ["env", "openrouter", "--bogus"],
    lane: false,
    store: PLAIN,
  },
  { name: "env -- openrouter: handed over", argv: ["env", "--", "openrouter"], lane: false, store: PLAIN },
  { name: "env --help: handed over", argv: ["env", "--help"], lane: false, store: PLAIN, code: 0 },
  { name: "env openrouter -h: handed over", argv: ["env", "openrouter", "-h"], lane: false, store: PLAIN },
  // No provider named: every stored one (env.ts resolveMany), in the store's order, when no project
  // file is found from the working directory up and every one of them is usable.
  {
    name: "env with no provider: every stored one, answered",
    argv: ["env"],
    lane: true,
    store: PLAIN,
    code: 0,
    stdout: /OPENROUTER_API_KEY=.*\n.*ANTHROPIC_API_KEY=.*\n.*GROQ_API_KEY=/s,
  },
  {
    name: "env -f json with no provider: answered",
    argv: ["env", "-f", "json"],
    lane: true,
    store: store(GROQ, OR),
    code: 0,
  },
  {
    name: "env with no provider, two accounts of one provider: its default one, answered",
    argv: ["env"],
    lane: true,
    store: store(apiKey("openrouter@work", OR_WORK), ANT, apiKey("openrouter", OR_KEY)),
    code: 0,
  },
  {
    name: "env with no provider, the default mark on a named account: answered with it",
    argv: ["env"],
    lane: true,
    store: store(OR, apiKey("openrouter@work", OR_WORK, { default: true }), GROQ),
    code: 0,
    stdout: new RegExp(OR_WORK),
  },
  {
    name: "env with no provider, only a named account stored: answered",
    argv: ["env"],
    lane: true,
    store: store(apiKey("openrouter@work", OR_WORK)),
    code: 0,
  },
  {
    name: "env with no provider, a provider this authctl does not know: a warning, handed over",
    argv: ["env"],
    lane: false,
    store: store(OR, apiKey("someday-provider", ANT_KEY)),
    code: 0,
    stderr: /someday-provider/,
  },
  {
    name: "env with no provider, one refresh due and its server down: a warning, handed over",
    argv: ["env"],
    lane: false,
    store: (c) => store(OR, oauth("mycorp", c.now, { expiresIn: 1000 })),
    config: (c) => mycorp(c),
    code: 0,
    stderr: /could not refresh the mycorp login/,
  },
  {
    name: "env with no provider, one needing a login: a warning, handed over",
    argv: ["env"],
    lane: false,
    store: (c) => store(OR, oauth("anthropic", c.now, { method: "claude", more: { needs_login: true } })),
    code: 0,
  },
  {
    name: "env with no provider and an empty store: handed over",
    argv: ["env"],
    lane: false,
    store: store(),
    code: 4,
  },
  {
    name: "env with no provider and a project file in the working directory: handed over",
    argv: ["env"],
    lane: false,
    store: PLAIN,
    setup: (c) => writeFileSync(join(c.root, ".authctl.toml"), 'providers = ["groq"]\n'),
    code: 1,
  },
  {
    name: "a global option before the command: handed over",
    argv: ["--verbose", "env", "openrouter"],
    lane: false,
    store: PLAIN,
  },
  {
    name: "token openrouter",
    argv: ["token", "openrouter"],
    lane: true,
    store: PLAIN,
    code: 0,
    stdout: `${OR_KEY}\n`,
  },
  {
    name: "token openrouter --min-ttl 1h (an API key lives forever)",
    argv: ["token", "openrouter", "--min-ttl", "1h"],
    lane: true,
    store: PLAIN,
    code: 0,
    stdout: `${OR_KEY}\n`,
  },
  {
    name: "token --min-ttl=5m openrouter",
    argv: ["token", "--min-ttl=5m", "openrouter"],
    lane: true,
    store: PLAIN,
    code: 0,
  },
  { name: "token OpenRouter (upper case)", argv: ["token", "OpenRouter"], lane: true, store: PLAIN, code: 0 },
  {
    name: "token with two providers: a usage error, handed over",
    argv: ["token", "openrouter", "anthropic"],
    lane: false,
    store: PLAIN,
    code: 2,
  },
  { name: "token without a provider: handed over", argv: ["token"], lane: false, store: PLAIN, code: 2 },
  {
    name: "token --min-ttl bogus: handed over",
    argv: ["token", "openrouter", "--min-ttl", "bogus"],
    lane: false,
    store: PLAIN,
    code: 2,
  },
  {
    name: "token --min-ttl -5m: handed over",
    argv: ["token", "openrouter", "--min-ttl", "-5m"],
    lane: false,
    store: PLAIN,
  },
  {
    name: "token github-copilot --copilot (not logged in): handed over",
    argv: ["token", "github-copilot", "--copilot"],
    lane: false,
    store: PLAIN,
    code: 4,
  },
  {
    name: "token openrouter --copilot: handed over",
    argv: ["token", "openrouter", "--copilot"],
    lane: false,
    store: PLAIN,
  },
  { name: "token --help: handed over", argv: ["token", "--help"], lane: false, store: PLAIN, code: 0 },
  {
    name: "exec -p openrouter -- probe",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    store: PLAIN,
    code: 0,
    stdout: new RegExp(`\nOPENROUTER_API_KEY=${OR_KEY}\n`),
  },
  {
    name: "exec --provider=openrouter probe (no --)",
    argv: ["exec", "--provider=openrouter", PROBE, "a b", "--", "-h"],
    lane: true,
    store: PLAIN,
    code: 0,
    stdout: /argv: \[[^\]]*probe\] \[a b\] \[--\] \[-h\]/,
  },
  {
    name: "exec -popenrouter -- probe",
    argv: ["exec", "-popenrouter", "--", PROBE],
    lane: true,
    store: PLAIN,
    code: 0,
  },
  {
    name: "exec -p openrouter,anthropic -- probe",
    argv: ["exec", "-p", "openrouter,anthropic", "--", PROBE],
    lane: true,
    store: PLAIN,
    code: 0,
    stdout: new RegExp(`\nANTHROPIC_API_KEY=${ANT_KEY}\n`),
  },
  {
    name: "exec -p openrouter -p anthropic --provider groq probe",
    argv: ["exec", "-p", "openrouter", "-p", "anthropic", "--provider", "groq", PROBE],
    lane: true,
    store: PLAIN,
    code: 0,
    stdout: new RegExp(`\nGROQ_API_KEY=${GROQ_KEY}\n`),
  },
  {
    name: "exec passes the child's exit code through",
    argv: ["exec", "-p", "openrouter", "--", "sh", "-c", "exit 7"],
    lane: true,
    store: PLAIN,
    code: 7,
  },
  {
    name: "exec -p anthropic removes competing tokens and authctl's own secrets from the child",
    argv: ["exec", "-p", "anthropic", "--", PROBE],
    lane: true,
    store: PLAIN,
    env: {
      ANTHROPIC_AUTH_TOKEN: AMBIENT,
      CLAUDE_CODE_OAUTH_TOKEN: AMBIENT,
      ANTHROPIC_API_KEY: AMBIENT,
      AUTHCTL_PASSPHRASE: PASSPHRASE,
      AUTHCTL_ETCD_PASSWORD: PASSPHRASE,
      AUTHCTL_DEBUG: "1",
      UNRELATED: "kept",
    },
    code: 0,
    stdout: /\nUNRELATED=kept\n/,
    absent: [AMBIENT, PASSPHRASE, "ANTHROPIC_AUTH_TOKEN", "AUTHCTL_PASSPHRASE"],
  },
  {
    name: "exec with a variable inherited for another provider keeps it",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    store: PLAIN,
    env: { GROQ_API_KEY: AMBIENT, OPENROUTER_API_KEY: AMBIENT },
    code: 0,
  },
  {
    name: "exec with a command that is not found: 127, handed over",
    argv: ["exec", "-p", "openrouter", "--", "no-such-command-difftest"],
    lane: false,
    store: PLAIN,
    code: 127,
  },
  {
    name: "exec with a file that is not executable: 126, handed over",
    argv: (c) => ["exec", "-p", "openrouter", "--", join(c.root, "not-executable")],
    lane: false,
    store: PLAIN,
    code: 126,
  },
  {
    name: "exec with a directory as the command: handed over",
    argv: (c) => ["exec", "-p", "openrouter", "--", c.root],
    lane: false,
    store: PLAIN,
  },
  {
    name: "exec with a relative path to the probe (cwd)",
    argv: ["exec", "-p", "openrouter", "--", "./bin/probe"],
    lane: true,
    store: PLAIN,
    code: 0,
  },
  {
    name: "exec under AUTHCTL_EXEC_MODE=spawn: handed over",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: false,
    store: PLAIN,
    env: { AUTHCTL_EXEC_MODE: "spawn" },
    code: 0,
  },
  {
    name: "exec with AUTHCTL_EXEC_MODE=execve (not spawn): answered",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    store: PLAIN,
    env: { AUTHCTL_EXEC_MODE: "execve" },
    code: 0,
  },
  {
    name: "exec --proxy: handed over",
    argv: ["exec", "--proxy", "-p", "openrouter", "--", "true"],
    lane: false,
    store: PLAIN,
    code: 0,
  },
  { name: "exec -h: handed over", argv: ["exec", "-h"], lane: false, store: PLAIN, code: 0 },
  { name: "exec --help: handed over", argv: ["exec", "--help"], lane: false, store: PLAIN, code: 0 },
  {
    name: "exec -p openrouter --help -- probe: handed over",
    argv: ["exec", "-p", "openrouter", "--help", "--", PROBE],
    lane: false,
    store: PLAIN,
  },
  {
    name: "exec -p openrouter grep -h -- x (a -h before the first --): handed over",
    argv: ["exec", "-p", "openrouter", "grep", "-h", "--", "x"],
    lane: false,
    store: PLAIN,
  },
  {
    name: "exec without a command: handed over",
    argv: ["exec", "-p", "openrouter"],
    lane: false,
    store: PLAIN,
    code: 2,
  },
  {
    name: "exec without a provider: every stored one, answered",
    argv: ["exec", "--", PROBE],
    lane: true,
    store: PLAIN,
    code: 0,
  },
  {
    name: "exec without a provider and a project file in the working directory: handed over",
    argv: ["exec", "--", PROBE],
    lane: false,
    store: PLAIN,
    setup: (c) => writeFileSync(join(c.root, ".authctl.toml"), 'providers = ["groq"]\n'),
    code: 1,
  },
  {
    name: "exec -p with an unknown option: handed over",
    argv: ["exec", "-p", "openrouter", "--bogus", "--", PROBE],
    lane: false,
    store: PLAIN,
    code: 2,
  },
  {
    name: "exec -p without a value: handed over",
    argv: ["exec", "-p"],
    lane: false,
    store: PLAIN,
    code: 2,
  },

  // --- several providers, accounts, names
  {
    name: "env openrouter anthropic",
    argv: ["env", "openrouter", "anthropic"],
    lane: true,
    store: PLAIN,
    code: 0,
    stdout: /OPENROUTER_API_KEY[\s\S]*ANTHROPIC_API_KEY/,
  },
  {
    name: "env anthropic openrouter -f json (order kept)",
    argv: ["env", "anthropic", "openrouter", "-f", "json"],
    lane: true,
    store: PLAIN,
    code: 0,
  },
  {
    name: "env openrouter openrouter",
    argv: ["env", "openrouter", "openrouter"],
    lane: true,
    store: PLAIN,
    code: 0,
  },
  { name: "env OpenRouter", argv: ["env", "OpenRouter"], lane: true, store: PLAIN, code: 0 },
  {
    name: "env openrouter OPENROUTER",
    argv: ["env", "openrouter", "OPENROUTER"],
    lane: true,
    store: PLAIN,
    code: 0,
  },
  {
    name: "env openrouter@work openrouter (two accounts): a usage error, handed over",
    argv: ["env", "openrouter@work", "openrouter"],
    lane: false,
    store: store(OR, apiKey("openrouter@work", OR_WORK)),
    code: 2,
  },
  {
    name: "exec -p openrouter,openrouter@work (two accounts): handed over",
    argv: ["exec", "-p", "openrouter,openrouter@work", "--", PROBE],
    lane: false,
    store: store(OR, apiKey("openrouter@work", OR_WORK)),
    code: 2,
    absent: ["argv:"],
  },
  {
    name: "env openrouter@work",
    argv: ["env", "openrouter@work"],
    lane: true,
    store: store(OR, apiKey("openrouter@work", OR_WORK)),
    code: 0,
    stdout: `export OPENROUTER_API_KEY='${OR_WORK}'\n`,
  },
  {
    name: "env openrouter with `default = true` on the work account",
    argv: ["env", "openrouter"],
    lane: true,
    store: store(OR, apiKey("openrouter@work", OR_WORK, { default: true })),
    code: 0,
    stdout: `export OPENROUTER_API_KEY='${OR_WORK}'\n`,
  },
  {
    name: "env openrouter openrouter@work, the work account being the default: the same account, answered",
    argv: ["env", "openrouter", "openrouter@work"],
    lane: true,
    store: store(OR, apiKey("openrouter@work", OR_WORK, { default: true })),
    code: 0,
  },
  {
    name: "env openrouter@default",
    argv: ["env", "openrouter@default"],
    lane: true,
    store: store(OR, apiKey("openrouter@work", OR_WORK, { default: true })),
    code: 0,
    stdout: `export OPENROUTER_API_KEY='${OR_KEY}'\n`,
  },
  {
    name: "env openrouter with only named accounts (the first by name is the default)",
    argv: ["env", "openrouter"],
    lane: true,
    store: store(apiKey("openrouter@zz", OR_KEY), apiKey("openrouter@aa", OR_WORK)),
    code: 0,
    stdout: `export OPENROUTER_API_KEY='${OR_WORK}'\n`,
  },
  {
    name: "env openrouter@home (not stored): handed over",
    argv: ["env", "openrouter@home"],
    lane: false,
    store: store(OR, apiKey("openrouter@work", OR_WORK)),
    code: 4,
  },
  {
    name: "env openrouter@home with OPENROUTER_API_KEY set: a named account ignores the environment, handed over",
    argv: ["env", "openrouter@home"],
    lane: false,
    store: PLAIN,
    env: { OPENROUTER_API_KEY: AMBIENT },
    code: 4,
  },
  {
    name: "env openrouter@Work (not an account name): handed over",
    argv: ["env", "openrouter@Work"],
    lane: false,
    store: PLAIN,
    code: 2,
  },
  { name: "env openrouter@ : handed over", argv: ["env", "openrouter@"], lane: false, store: PLAIN, code: 2 },
  { name: "env @work: handed over", argv: ["env", "@work"], lane: false, store: PLAIN, code: 2 },
  {
    name: "env openroutr (unknown provider, did you mean): handed over",
    argv: ["env", "openroutr"],
    lane: false,
    store: PLAIN,
    code: 2,
    stderr: /openrouter/,
  },
  {
    name: "env openrouter nosuchprovider: handed over",
    argv: ["env", "openrouter", "nosuchprovider"],
    lane: false,
    store: PLAIN,
  },
  {
    name: "env mistral (not logged in, MISTRAL_API_KEY in the environment): the full path uses it, handed over",
    argv: ["env", "mistral"],
    lane: false,
    store: PLAIN,
    env: { MISTRAL_API_KEY: AMBIENT },
    code: 0,
  },
  {
    name: "exec -p mistral (not logged in, variable set): handed over",
    argv: ["exec", "-p", "mistral", "--", PROBE],
    lane: false,
    store: PLAIN,
    env: { MISTRAL_API_KEY: AMBIENT },
    code: 0,
  },
  {
    name: "env openrouter with an empty stored key and OPENROUTER_API_KEY set: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: store(apiKey("openrouter", "")),
    env: { OPENROUTER_API_KEY: AMBIENT },
    code: 0,
  },
  {
    name: "env openrouter with an empty stored key: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: store(apiKey("openrouter", "")),
    code: 4,
  },
  {
    name: "env openrouter with no key field at all: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: store(record("openrouter", { method: "key", type: "api_key", created_at: T0, updated_at: T0 })),
  },
  {
    name: "env mistral (not logged in): handed over",
    argv: ["env", "mistral"],
    lane: false,
    store: PLAIN,
    code: 4,
  },
  {
    name: "env gemini with GOOGLE_API_KEY stored as a key (aliases and conflicts)",
    argv: ["exec", "-p", "gemini", "--", PROBE],
    lane: true,
    store: store(apiKey("gemini", "AIzaDifftest0123456789")),
    env: { GOOGLE_API_KEY: AMBIENT, GEMINI_API_KEY: AMBIENT },
    code: 0,
    absent: [AMBIENT],
  },

  // --- OAuth records
  {
    name: "env anthropic with a fresh Claude OAuth token",
    argv: ["env", "anthropic"],
    lane: true,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude" })),
    code: 0,
    stdout: /CLAUDE_CODE_OAUTH_TOKEN='at-difftest/,
  },
  {
    name: "exec -p anthropic with a fresh Claude OAuth token removes ANTHROPIC_API_KEY",
    argv: ["exec", "-p", "anthropic", "--", PROBE],
    lane: true,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude" })),
    env: { ANTHROPIC_API_KEY: AMBIENT, ANTHROPIC_AUTH_TOKEN: AMBIENT },
    code: 0,
    absent: [AMBIENT],
  },
  {
    name: "token anthropic with a fresh Claude OAuth token",
    argv: ["token", "anthropic"],
    lane: true,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude" })),
    code: 0,
    stdout: `${ACCESS}\n`,
  },
  {
    name: "token anthropic --min-ttl 1h, fresh for a day",
    argv: ["token", "anthropic", "--min-ttl", "1h"],
    lane: true,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude" })),
    code: 0,
  },
  {
    name: "token anthropic --min-ttl=5m, fresh for a day",
    argv: ["token", "anthropic", "--min-ttl=5m"],
    lane: true,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude" })),
    code: 0,
  },
  {
    name: "token anthropic --min-ttl 2h with 90 min left: a refresh is due, handed over (outage: the token still does not satisfy)",
    argv: ["token", "anthropic", "--min-ttl", "2h"],
    lane: false,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude", expiresIn: 90 * MINUTE })),
    config: (c) => offlineEndpoints(c, "anthropic"),
    code: 1,
  },
  {
    name: "token anthropic --min-ttl 1h with 90 min left: answered",
    argv: ["token", "anthropic", "--min-ttl", "1h"],
    lane: true,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude", expiresIn: 90 * MINUTE })),
    config: (c) => offlineEndpoints(c, "anthropic"),
    code: 0,
  },
  {
    name: "env anthropic due for refresh (3.5 min left of an hour): handed over, the outage warns and hands out the current token",
    argv: ["env", "anthropic"],
    lane: false,
    store: (c) =>
      store(oauth("anthropic", c.now, { method: "claude", expiresIn: 3.5 * MINUTE, lifetime: HOUR })),
    config: (c) => offlineEndpoints(c, "anthropic"),
    code: 0,
    // Whole minutes left: the message says "3 min", the same in both runs (seconds would not be).
    stderr: /; using the current token, valid for another \d+ min\n/,
  },
  {
    name: "env anthropic 6 min left of an hour (outside the refresh margin): answered",
    argv: ["env", "anthropic"],
    lane: true,
    store: (c) =>
      store(oauth("anthropic", c.now, { method: "claude", expiresIn: 6 * MINUTE, lifetime: HOUR })),
    config: (c) => offlineEndpoints(c, "anthropic"),
    code: 0,
  },
  {
    name: "env anthropic with a short-lived token past half its life (145 s of 5 min): handed over",
    argv: ["env", "anthropic"],
    lane: false,
    store: (c) =>
      store(oauth("anthropic", c.now, { method: "claude", expiresIn: 145_000, lifetime: 300_000 })),
    config: (c) => offlineEndpoints(c, "anthropic"),
    code: 0,
    // Whole minutes left: the message says "3 min", the same in both runs (seconds would not be).
    stderr: /; using the current token, valid for another \d+ min\n/,
  },
  {
    name: "env anthropic with an expired token: handed over (refresh fails: error)",
    argv: ["env", "anthropic"],
    lane: false,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude", expiresIn: -HOUR, lifetime: HOUR })),
    config: (c) => offlineEndpoints(c, "anthropic"),
    code: 1,
  },
  {
    name: "exec -p anthropic with an expired token: handed over, nothing run",
    argv: ["exec", "-p", "anthropic", "--", PROBE],
    lane: false,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude", expiresIn: -HOUR, lifetime: HOUR })),
    config: (c) => offlineEndpoints(c, "anthropic"),
    code: 1,
    absent: ["argv:"],
  },
  {
    name: "env anthropic with needs_login: handed over",
    argv: ["env", "anthropic"],
    lane: false,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude", more: { needs_login: true } })),
    code: 4,
  },
  {
    name: "env anthropic with needs_login = false: answered",
    argv: ["env", "anthropic"],
    lane: true,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude", more: { needs_login: false } })),
    code: 0,
  },
  {
    name: "env anthropic without expires_at: answered",
    argv: ["env", "anthropic"],
    lane: true,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude", expiresIn: null })),
    code: 0,
  },
  {
    name: "token anthropic --min-ttl 1h without expires_at, with a refresh token: handed over",
    argv: ["token", "anthropic", "--min-ttl", "1h"],
    lane: false,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude", expiresIn: null })),
    config: (c) => offlineEndpoints(c, "anthropic"),
    code: 1,
  },
  {
    name: "token anthropic --min-ttl 1h without expires_at nor a refresh token: answered",
    argv: ["token", "anthropic", "--min-ttl", "1h"],
    lane: true,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude", expiresIn: null, refresh: null })),
    code: 0,
  },
  {
    name: "env anthropic with an empty access token: handed over",
    argv: ["env", "anthropic"],
    lane: false,
    store: (c) => store(oauth("anthropic", c.now, { method: "claude", access: "" })),
    config: (c) => offlineEndpoints(c, "anthropic"),
  },
  {
    name: "env openai with a ChatGPT login (api_key and the account id in extra)",
    argv: ["env", "openai", "-f", "json"],
    lane: true,
    store: (c) =>
      store(
        oauth("openai", c.now, {
          method: "chatgpt",
          more: { extra: { api_key: CHATGPT_KEY, chatgpt_account_id: "acct-difftest" } },
        }),
      ),
    code: 0,
    stdout: /CHATGPT_ACCOUNT_ID/,
  },
  {
    name: "exec -p openai with a ChatGPT login removes CODEX_API_KEY",
    argv: ["exec", "-p", "openai", "--", PROBE],
    lane: true,
    store: (c) =>
      store(
        oauth("openai", c.now, {
          method: "chatgpt",
          more: { extra: { api_key: CHATGPT_KEY, chatgpt_account_id: "acct-difftest" } },
        }),
      ),
    env: { CODEX_API_KEY: AMBIENT },
    code: 0,
    absent: [AMBIENT],
  },
  {
    name: "env gemini with a Code Assist login (a literal and a field of extra)",
    argv: ["env", "gemini"],
    lane: true,
    store: (c) =>
      store(oauth("gemini", c.now, { method: "code-assist", more: { extra: { project: "proj-1" } } })),
    code: 0,
    stdout: /GOOGLE_GENAI_USE_GCA='true'/,
  },
  {
    name: "env qwen with a resource_url host",
    argv: ["env", "qwen"],
    lane: true,
    store: (c) =>
      store(oauth("qwen", c.now, { method: "device", more: { extra: { resource_url: "portal.qwen.ai" } } })),
    code: 0,
  },
  {
    name: "env qwen with a resource_url that is neither a host nor https: handed over",
    argv: ["env", "qwen"],
    lane: false,
    store: (c) =>
      store(
        oauth("qwen", c.now, { method: "device", more: { extra: { resource_url: "http://evil.example" } } }),
      ),
  },
  {
    name: "env mycorp: a custom OAuth provider with its own env mapping",
    argv: ["env", "mycorp", "-f", "json"],
    lane: true,
    config: (c) => mycorp(c),
    store: (c) => store(oauth("mycorp", c.now, { more: { id_token: ID_TOKEN } })),
    code: 0,
    stdout: /MYCORP_ID/,
  },
  {
    name: "exec -p mycorp with a literal and a missing field in the mapping",
    argv: ["exec", "-p", "mycorp", "--", PROBE],
    lane: true,
    config: (c) =>
      mycorp(c, 'env = { X = "access_token", MODE = "literal:on", NONE = "id_token", ACCT = "tenant" }'),
    store: (c) => store(oauth("mycorp", c.now, { more: { extra: { tenant: "t-1" } } })),
    env: { NONE: "inherited" },
    code: 0,
    stdout: /\nMODE=on\n/,
  },
  {
    name: "env mycorp with the default mapping (MYCORP_TOKEN)",
    argv: ["env", "mycorp"],
    lane: true,
    config: (c) => mycorp(c, ""),
    store: (c) => store(oauth("mycorp", c.now)),
    code: 0,
    stdout: /^export MYCORP_TOKEN=/,
  },
  {
    name: "env mycorp due for refresh: handed over (the discovery and refresh meet an outage)",
    argv: ["env", "mycorp"],
    lane: false,
    config: (c) => mycorp(c),
    store: (c) => store(oauth("mycorp", c.now, { expiresIn: 3.5 * MINUTE, lifetime: HOUR })),
    code: 0,
    // Whole minutes left: the message says "3 min", the same in both runs (seconds would not be).
    stderr: /; using the current token, valid for another \d+ min\n/,
  },
  {
    name: "exec -p mycorp with a mapping that sets PATH",
    argv: ["exec", "-p", "mycorp", "--", "/bin/sh", "-c", 'echo "PATH=$PATH"'],
    lane: true,
    config: (c) => mycorp(c, 'env = { PATH = "access_token" }'),
    store: (c) => store(oauth("mycorp", c.now, { access: "/nonexistent-difftest" })),
    code: 0,
  },
  {
    name: "exec -p mycorp, mapping PATH, command looked up in that PATH: handed over (not found)",
    argv: ["exec", "-p", "mycorp", "--", PROBE],
    lane: false,
    config: (c) => mycorp(c, 'env = { PATH = "access_token" }'),
    store: (c) => store(oauth("mycorp", c.now, { access: "/nonexistent-difftest" })),
    code: 127,
  },
  {
    name: "env mycorp with a mapping that exports the refresh token: a config error, handed over",
    argv: ["env", "mycorp"],
    lane: false,
    config: (c) => mycorp(c, 'env = { R = "refresh_token" }'),
    store: (c) => store(oauth("mycorp", c.now)),
    code: 1,
  },
  {
    name: "env mykey: a custom API-key provider",
    argv: ["env", "mykey", "-f", "fish"],
    lane: true,
    config: '[providers.mykey]\nenv = { MYKEY_API_KEY = "key", OTHER_NAME = "key" }\n',
    store: store(apiKey("mykey", "mykey-difftest-secret")),
    code: 0,
  },

  // --- config.toml
  {
    name: "config.toml with an unknown key: a warning, handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    config: 'colour = "blue"\n',
    code: 0,
    stderr: /unknown key 'colour'/,
  },
  {
    name: "config.toml with an unknown key in a provider table: handed over",
    argv: ["token", "openrouter"],
    lane: false,
    store: PLAIN,
    config: '[providers.openrouter]\napi_urll = "https://x.example"\n',
    code: 0,
  },
  {
    name: "config.toml that does not parse: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    config: "store = \n",
    code: 1,
  },
  {
    name: "config.toml with an invalid value: handed over",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: false,
    store: PLAIN,
    config: '[providers.openrouter]\napi_url = "ftp://x"\n',
    code: 1,
    absent: ["argv:"],
  },
  {
    name: "config.toml overriding openrouter's api_url: answered",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    config: '[providers.openrouter]\napi_url = "https://proxy.example/v1"\n',
    code: 0,
  },
  {
    name: "config.toml with a custom provider that cannot log in: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    config: '[providers.broken]\nname = "Broken"\n',
    code: 1,
  },
  {
    name: "config.toml with a bad region: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    config: '[providers.minimax]\nregion = "mars"\n',
    code: 1,
  },
  {
    name: 'config.toml with store = "file"',
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    config: 'store = "file"\n',
    code: 0,
  },
  {
    name: 'config.toml with store = "etcd": handed over',
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    config: 'store = "etcd"\n',
  },
  {
    name: 'config.toml with store = "bogus": handed over',
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    config: 'store = "bogus"\n',
    code: 1,
  },
  {
    name: "config.toml with store = 5: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    config: "store = 5\n",
    code: 1,
  },
  {
    name: "config.toml with a byte-order mark: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    config: '\uFEFFstore = "file"\n',
  },
  {
    name: "config.toml with bytes that are not UTF-8: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    config: Buffer.concat([Buffer.from("# caf"), Buffer.from([0xe9]), Buffer.from('\nstore = "file"\n')]),
  },
  {
    name: "config.toml open to other users' writes (0666): handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    config: 'store = "file"\n',
    modes: { config: 0o666 },
    code: 1,
  },
  {
    name: "config.toml readable by others (0644): answered",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    config: 'store = "file"\n',
    modes: { config: 0o644 },
    code: 0,
  },
  {
    name: "config.toml is a directory: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    setup: (c) => mkdirSync(join(c.home, "config.toml")),
  },
  {
    name: "an empty config.toml: answered",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    config: "",
    code: 0,
  },

  // --- which store
  {
    name: "AUTHCTL_STORE=file",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    env: { AUTHCTL_STORE: "file" },
    code: 0,
  },
  {
    name: "AUTHCTL_STORE=keyring with every record in clear (no keyring here)",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    env: { AUTHCTL_STORE: "keyring" },
  },
  {
    name: "AUTHCTL_STORE=encrypted with every record in clear (no key file)",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    env: { AUTHCTL_STORE: "encrypted" },
  },
  {
    name: "AUTHCTL_STORE=encrypted and AUTHCTL_PASSPHRASE with a plain store",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    store: PLAIN,
    env: { AUTHCTL_STORE: "encrypted", AUTHCTL_PASSPHRASE: PASSPHRASE },
    absent: [PASSPHRASE],
  },
  {
    name: "AUTHCTL_STORE=etcd: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    env: { AUTHCTL_STORE: "etcd" },
  },
  {
    name: "AUTHCTL_STORE=bogus: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    env: { AUTHCTL_STORE: "bogus" },
    code: 1,
  },
  {
    name: "AUTHCTL_STORE=File (case): handed over",
    argv: ["token", "openrouter"],
    lane: false,
    store: PLAIN,
    env: { AUTHCTL_STORE: "File" },
    code: 1,
  },
  {
    name: 'AUTHCTL_STORE="" with store = "file" in config.toml',
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    config: 'store = "file"\n',
    env: { AUTHCTL_STORE: "" },
    code: 0,
  },
  {
    name: 'AUTHCTL_STORE="" with store = "etcd" in config.toml: handed over',
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    config: 'store = "etcd"\n',
    env: { AUTHCTL_STORE: "" },
  },
  {
    name: 'AUTHCTL_STORE=file over store = "etcd" in config.toml',
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    config: 'store = "etcd"\n',
    env: { AUTHCTL_STORE: "file" },
    code: 0,
  },

  // --- credentials.toml: what makes the lane hand over, and what it may ignore
  {
    name: "a store with version = 2: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN.replace("version = 1", "version = 2"),
  },
  {
    name: "a store with version = 3: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN.replace("version = 1", "version = 3"),
    code: 1,
  },
  {
    name: "a store without version: answered",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN.replace("version = 1\n", ""),
    code: 0,
  },
  {
    name: "a store with version = 0: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN.replace("version = 1", "version = 0"),
    code: 1,
  },
  {
    name: "a sealed value in the requested record: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: store(apiKey("openrouter", "enc:v1:AAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBBBBBBBB"), ANT),
  },
  {
    name: "a sealed value in another record: handed over",
    argv: ["env", "anthropic"],
    lane: false,
    store: store(apiKey("openrouter", "enc:v1:AAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBBBBBBBB"), ANT),
  },
  {
    name: "key parameters at the top level (a keyed store): handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN.replace("version = 1\n", 'version = 1\nkey_source = "file"\n'),
  },
  {
    name: "an unknown top-level value (a newer authctl's): handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN.replace("version = 1\n", "version = 1\nfuture = 1\n"),
  },
  {
    name: "the requested record in the keyring (secret_store): handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: store(
      record("openrouter", {
        method: "key",
        type: "api_key",
        created_at: T0,
        updated_at: T0,
        secret_store: "keyring",
      }),
      ANT,
    ),
    env: { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent-difftest-bus" },
  },
  {
    name: "another provider's record in the keyring: answered without the keyring",
    argv: ["env", "anthropic"],
    lane: true,
    store: store(
      record("openrouter", {
        method: "key",
        type: "api_key",
        created_at: T0,
        updated_at: T0,
        secret_store: "keyring",
      }),
      ANT,
    ),
    env: { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent-difftest-bus" },
    code: 0,
  },
  {
    name: "exec -p anthropic with another provider's record in the keyring",
    argv: ["exec", "-p", "anthropic", "--", PROBE],
    lane: true,
    store: store(
      record("openrouter", {
        method: "key",
        type: "api_key",
        created_at: T0,
        updated_at: T0,
        secret_store: "keyring",
      }),
      ANT,
    ),
    env: { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent-difftest-bus" },
    code: 0,
  },
  {
    name: "a record with an unknown secret_store marker: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: store(apiKey("openrouter", OR_KEY, { secret_store: "vault" })),
  },
  {
    name: "a record with a mac in a version 1 store: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: store(apiKey("openrouter", OR_KEY, { mac: "AAAA" })),
  },
  {
    name: "a record with an http api_url off loopback: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: store(apiKey("openrouter", OR_KEY, { extra: { api_url: "http://api.example.com" } })),
  },
  {
    name: "a record with an http api_url on loopback: answered",
    argv: ["env", "openrouter"],
    lane: true,
    store: store(apiKey("openrouter", OR_KEY, { extra: { api_url: "http://127.0.0.1:9/v1" } })),
    code: 0,
  },
  {
    name: "a record with a host that is no host name: handed over",
    argv: ["token", "openrouter"],
    lane: false,
    store: store(apiKey("openrouter", OR_KEY, { extra: { host: "x@127.0.0.1:18446" } })),
  },
  {
    name: "a record with a token_url carrying user info: handed over",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: false,
    store: store(
      apiKey("openrouter", OR_KEY, { extra: { token_url: "https://u:p@auth.example.com/token" } }),
    ),
    absent: ["argv:"],
  },
  {
    name: "another record with a bad api_url: answered",
    argv: ["env", "openrouter"],
    lane: true,
    store: store(OR, apiKey("anthropic", ANT_KEY, { extra: { api_url: "http://api.example.com" } })),
    code: 0,
  },
  {
    name: "another record missing created_at (the whole store is corrupt): handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: store(OR, record("anthropic", { method: "key", type: "api_key", key: ANT_KEY, updated_at: T0 })),
    code: 1,
  },
  {
    name: "a record with a wrong type of field: handed over",
    argv: ["token", "openrouter"],
    lane: false,
    store: store(apiKey("openrouter", OR_KEY, { expires_at: "tomorrow" })),
    code: 1,
  },
  {
    name: 'a record with type = "bearer": handed over',
    argv: ["token", "openrouter"],
    lane: false,
    store: store(
      record("openrouter", { method: "key", type: "bearer", key: OR_KEY, created_at: T0, updated_at: T0 }),
    ),
    code: 1,
  },
  {
    name: "a record with an unknown field: answered",
    argv: ["env", "openrouter"],
    lane: true,
    store: store(apiKey("openrouter", OR_KEY, { note: "from a newer authctl" })),
    code: 0,
  },
  {
    name: "a record under an id that is not a provider id: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: store(OR, apiKey("Not_A_Provider", ANT_KEY)),
    code: 1,
  },
  {
    name: "a record of a provider this authctl does not know: answered for the others",
    argv: ["env", "openrouter"],
    lane: true,
    store: store(OR, apiKey("someday-provider", ANT_KEY)),
    code: 0,
  },
  {
    name: "a TOML syntax error: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: `${PLAIN}\n[anthropic\n`,
    code: 1,
  },
  {
    name: "a duplicate table: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: `${PLAIN}${OR}`,
    code: 1,
  },
  {
    name: "a byte-order mark at the start of credentials.toml",
    argv: ["env", "openrouter"],
    lane: true,
    store: `\uFEFF${PLAIN}`,
  },
  {
    name: "two byte-order marks at the start of credentials.toml (the decoder drops one, the parser the other)",
    argv: ["env", "openrouter"],
    lane: true,
    store: `\uFEFF\uFEFF${PLAIN}`,
    code: 0,
  },
  {
    name: "two byte-order marks in a store read through node:fs (mode 0644): handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: `\uFEFF\uFEFF${PLAIN}`,
    modes: { store: 0o644 },
    code: 0,
  },
  {
    name: "three byte-order marks before a comment (the TOML parser skips the third)",
    argv: ["env", "openrouter"],
    lane: true,
    store: `\uFEFF\uFEFF\uFEFF${PLAIN}`,
    code: 0,
  },
  {
    name: "two byte-order marks before a key (the parser skips one at the start too)",
    argv: ["env", "openrouter"],
    lane: true,
    code: 0,
    store: `\uFEFF\uFEFF${PLAIN.replace(/^#.*\n/, "")}`,
  },
  {
    name: "credentials.toml with bytes that are not UTF-8 (in a comment): handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: Buffer.concat([Buffer.from("# caf"), Buffer.from([0xe9]), Buffer.from(`\n${PLAIN}`)]),
    code: 1,
  },
  {
    name: "credentials.toml with a CRLF line ends",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN.replaceAll("\n", "\r\n"),
    code: 0,
  },
  {
    name: "an empty credentials.toml: handed over (not logged in)",
    argv: ["env", "openrouter"],
    lane: false,
    store: "",
    code: 4,
  },
  {
    name: "no credentials.toml: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    code: 4,
  },
  {
    name: "no credentials.toml, OPENROUTER_API_KEY set: handed over, the full path uses it",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: false,
    env: { OPENROUTER_API_KEY: AMBIENT },
    code: 0,
  },
  {
    name: "no home directory at all: handed over",
    argv: ["token", "openrouter"],
    lane: false,
    setup: (c) => rmSync(c.home, { recursive: true, force: true }),
    code: 4,
  },

  // --- modes and owners of the files
  {
    name: "credentials.toml 0644: handed over, tightened to 0600 by the full path",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    modes: { store: 0o644 },
    code: 0,
  },
  {
    name: "the home directory 0755: handed over, tightened to 0700",
    argv: ["token", "openrouter"],
    lane: false,
    store: PLAIN,
    modes: { dir: 0o755 },
    code: 0,
  },
  {
    name: "credentials.toml 0640 in a 0750 directory: handed over",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: false,
    store: PLAIN,
    modes: { store: 0o640, dir: 0o750 },
    code: 0,
  },
  {
    name: "credentials.toml 0666 (others may write): handed over, refused",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    modes: { store: 0o666 },
    code: 1,
  },
  {
    name: "credentials.toml 0400 (read-only): answered",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    modes: { store: 0o400 },
    code: 0,
  },
  {
    name: "credentials.toml owned by another user: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    owner: { store: 65534 },
    code: 1,
  },
  {
    name: "the home directory owned by another user: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    owner: { dir: 65534 },
    code: 1,
  },
  {
    name: "credentials.toml is a FIFO: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    setup: (c) => {
      Bun.spawnSync(["mkfifo", "-m", "600", join(c.home, "credentials.toml")]);
    },
    code: 1,
  },
  {
    name: "credentials.toml is a directory: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    setup: (c) => mkdirSync(join(c.home, "credentials.toml"), { mode: 0o700 }),
  },
  {
    name: "credentials.toml is a symbolic link to a store elsewhere",
    argv: ["env", "openrouter"],
    lane: true,
    setup: (c) => {
      const target = join(c.root, "elsewhere.toml");
      writeFileSync(target, PLAIN, { mode: 0o600 });
      chmodSync(target, 0o600);
      symlinkSync(target, join(c.home, "credentials.toml"));
    },
  },
  {
    name: "AUTHCTL_HOME names the store file itself: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN,
    env: (c) => ({ AUTHCTL_HOME: join(c.home, "credentials.toml") }),
  },

  // --- stores with a key or an external backend, as authctl writes them
  {
    name: "the encrypted store (key file): answered",
    argv: ["env", "openrouter", "anthropic"],
    lane: true,
    logins: {
      providers: [
        ["openrouter", OR_KEY],
        ["anthropic", ANT_KEY],
      ],
      env: { AUTHCTL_STORE: "encrypted" },
    },
    env: { AUTHCTL_STORE: "encrypted" },
    code: 0,
    stdout: new RegExp(`OPENROUTER_API_KEY='${OR_KEY}'`),
  },
  {
    name: "the encrypted store, AUTHCTL_STORE unset: answered (the lane starts the key file's read)",
    argv: ["token", "openrouter"],
    lane: true,
    logins: { providers: [["openrouter", OR_KEY]], env: { AUTHCTL_STORE: "encrypted" } },
    code: 0,
    stdout: `${OR_KEY}\n`,
  },
  {
    name: "exec from the encrypted store: answered",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    logins: { providers: [["openrouter", OR_KEY]], env: { AUTHCTL_STORE: "encrypted" } },
    env: { AUTHCTL_STORE: "encrypted" },
    code: 0,
  },
  {
    name: "the encrypted store with an empty AUTHCTL_PASSPHRASE (no passphrase): answered",
    argv: ["env", "openrouter"],
    lane: true,
    logins: { providers: [["openrouter", OR_KEY]], env: { AUTHCTL_STORE: "encrypted" } },
    env: { AUTHCTL_STORE: "encrypted", AUTHCTL_PASSPHRASE: "" },
    code: 0,
    stdout: `export OPENROUTER_API_KEY='${OR_KEY}'\n`,
  },
  {
    name: "the encrypted store without its key file: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    logins: { providers: [["openrouter", OR_KEY]], env: { AUTHCTL_STORE: "encrypted" } },
    setup: (c) => rmSync(join(c.home, "key"), { force: true }),
  },
  {
    name: "the encrypted store with a plain record appended (no MAC): handed over",
    argv: ["env", "groq"],
    lane: false,
    logins: { providers: [["openrouter", OR_KEY]], env: { AUTHCTL_STORE: "encrypted" } },
    store: GROQ,
  },
  {
    name: "the encrypted store with a plain record appended (no MAC), another asked: answered",
    argv: ["env", "openrouter"],
    lane: true,
    logins: { providers: [["openrouter", OR_KEY]], env: { AUTHCTL_STORE: "encrypted" } },
    store: GROQ,
    code: 0,
  },
  {
    name: "the encrypted store, a damaged sealed value in another record: answered",
    argv: ["env", "openrouter"],
    lane: true,
    logins: {
      providers: [
        ["openrouter", OR_KEY],
        ["anthropic", ANT_KEY],
      ],
      env: { AUTHCTL_STORE: "encrypted" },
    },
    env: { AUTHCTL_STORE: "encrypted" },
    setup: (c) => editSealedRecord(c, "anthropic", damageSealedKey, true),
    code: 0,
    stdout: `export OPENROUTER_API_KEY='${OR_KEY}'\n`,
  },
  {
    name: "the encrypted store, the asked record's sealed value damaged: handed over",
    argv: ["env", "openrouter", "anthropic"],
    lane: false,
    logins: {
      providers: [
        ["openrouter", OR_KEY],
        ["anthropic", ANT_KEY],
      ],
      env: { AUTHCTL_STORE: "encrypted" },
    },
    env: { AUTHCTL_STORE: "encrypted" },
    setup: (c) => editSealedRecord(c, "anthropic", damageSealedKey, true),
    stderr: /sealed value of anthropic\.key does not authenticate/,
  },
  {
    name: "the encrypted store, the asked record altered (its MAC does not match): handed over",
    argv: ["token", "openrouter"],
    lane: false,
    logins: { providers: [["openrouter", OR_KEY]], env: { AUTHCTL_STORE: "encrypted" } },
    env: { AUTHCTL_STORE: "encrypted" },
    setup: (c) =>
      editSealedRecord(
        c,
        "openrouter",
        (section) => section.replace(/^updated_at = \d+$/m, "updated_at = 1"),
        false,
      ),
    stderr: /the record of openrouter does not authenticate/,
  },
  {
    name: "the encrypted store, its key file open to others (0644): handed over (the full path tightens it)",
    argv: ["env", "openrouter"],
    lane: false,
    logins: { providers: [["openrouter", OR_KEY]], env: { AUTHCTL_STORE: "encrypted" } },
    env: { AUTHCTL_STORE: "encrypted" },
    setup: (c) => chmodSync(join(c.home, "key"), 0o644),
    code: 0,
    stderr: /was open to other users/,
  },
  {
    name: "the encrypted store, a key file of 33 bytes: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    logins: { providers: [["openrouter", OR_KEY]], env: { AUTHCTL_STORE: "encrypted" } },
    env: { AUTHCTL_STORE: "encrypted" },
    setup: (c) =>
      writeFileSync(join(c.home, "key"), Buffer.concat([readFileSync(join(c.home, "key")), Buffer.of(0)])),
    stderr: /is not a 32-byte key \(33 bytes\)/,
  },
  {
    name: "the encrypted store, another key file of 32 bytes: handed over (wrong key)",
    argv: ["env", "openrouter"],
    lane: false,
    logins: { providers: [["openrouter", OR_KEY]], env: { AUTHCTL_STORE: "encrypted" } },
    env: { AUTHCTL_STORE: "encrypted" },
    setup: (c) => writeFileSync(join(c.home, "key"), Buffer.alloc(32, 1)),
    stderr: /does not open credentials store .* \(wrong key\)/,
  },
  {
    name: "the encrypted store (key file) with AUTHCTL_PASSPHRASE set: handed over (a mismatch)",
    argv: ["env", "openrouter"],
    lane: false,
    // Sealed with the key file: the logins see no passphrase (an empty one is none).
    logins: {
      providers: [["openrouter", OR_KEY]],
      env: { AUTHCTL_STORE: "encrypted", AUTHCTL_PASSPHRASE: "" },
    },
    env: { AUTHCTL_STORE: "encrypted", AUTHCTL_PASSPHRASE: PASSPHRASE },
    stderr: /is sealed with the key file .* but AUTHCTL_PASSPHRASE is set/,
  },
  {
    name: "the encrypted store put back under another generation: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    logins: { providers: [["openrouter", OR_KEY]], env: { AUTHCTL_STORE: "encrypted" } },
    env: { AUTHCTL_STORE: "encrypted" },
    setup: (c) => {
      const path = join(c.home, "credentials.toml");
      const text = readFileSync(path, "utf8");
      const edited = text.replace(/^generation = (\d+)$/m, (_, n: string) => `generation = ${Number(n) + 1}`);
      if (edited === text) throw new Error("the fixture has no generation");
      writeFileSync(path, edited);
    },
    stderr: /the record of openrouter does not authenticate/,
  },
  {
    name: "a format-1 sealed store (key file, no MACs): answered",
    argv: ["env", "openrouter", "anthropic"],
    lane: true,
    store: format1Store(sealedKey1("openrouter", OR_KEY), sealedKey1("anthropic", ANT_KEY)),
    setup: writeFormat1Key,
    code: 0,
    stdout: new RegExp(`OPENROUTER_API_KEY='${OR_KEY}'`),
  },
  {
    name: "a format-1 sealed store, a key in clear where it seals one: handed over",
    argv: ["env", "groq"],
    lane: false,
    store: format1Store(sealedKey1("openrouter", OR_KEY), GROQ),
    setup: writeFormat1Key,
    stderr: /holds key in clear where this store seals it/,
  },
  {
    name: "a format-1 sealed store, an api_url it cannot vouch for: handed over (dropped with a warning)",
    argv: ["env", "openrouter"],
    lane: false,
    store: format1Store(
      sealedKey1("openrouter", OR_KEY, { extra: { api_url: "https://elsewhere.example/v1" } }),
    ),
    setup: writeFormat1Key,
    code: 0,
    // The full path drops it and keeps the warning for the commands that list the store.
    absent: ["elsewhere.example"],
  },
  {
    name: "the store sealed with AUTHCTL_PASSPHRASE, exec: handed over, the child never sees the passphrase",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: false,
    logins: {
      providers: [["openrouter", OR_KEY]],
      env: { AUTHCTL_STORE: "encrypted", AUTHCTL_PASSPHRASE: PASSPHRASE },
    },
    env: { AUTHCTL_PASSPHRASE: PASSPHRASE },
    code: 0,
    absent: [PASSPHRASE],
  },
  {
    name: "the store sealed with a passphrase, a wrong one given: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    logins: {
      providers: [["openrouter", OR_KEY]],
      env: { AUTHCTL_STORE: "encrypted", AUTHCTL_PASSPHRASE: PASSPHRASE },
    },
    env: { AUTHCTL_PASSPHRASE: "not the passphrase at all, difftest" },
  },
  // The keyring (AUTHCTL_STORE=keyring): the lane answers from the lookups started with the
  // process (keyring-backend.ts readAhead), with the store's own merge; anything else hands over.
  {
    name: "the keyring: answered from the lookup started ahead",
    argv: ["env", "openrouter"],
    lane: true,
    ...OPENROUTER_ON_KEYRING,
    env: { AUTHCTL_STORE: "keyring" },
    code: 0,
    stdout: `export OPENROUTER_API_KEY='${OR_KEY}'\n`,
  },
  {
    name: "token openrouter on the keyring: answered",
    argv: ["token", "openrouter"],
    lane: true,
    ...OPENROUTER_ON_KEYRING,
    env: { AUTHCTL_STORE: "keyring" },
    code: 0,
    stdout: `${OR_KEY}\n`,
  },
  {
    name: "exec -p openrouter on the keyring: answered, the child as the full path leaves it",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    ...OPENROUTER_ON_KEYRING,
    env: { AUTHCTL_STORE: "keyring" },
    code: 0,
    stdout: new RegExp(`OPENROUTER_API_KEY=${OR_KEY}`),
  },
  {
    name: "env with no provider on the keyring: every stored one, answered",
    argv: ["env"],
    lane: true,
    keyring: true,
    logins: {
      providers: [
        ["openrouter", OR_KEY],
        ["anthropic", ANT_KEY],
      ],
      env: { AUTHCTL_STORE: "keyring" },
    },
    env: { AUTHCTL_STORE: "keyring" },
    code: 0,
  },
  {
    name: "two keyring records asked together: answered",
    argv: ["env", "anthropic", "openrouter", "-f", "json"],
    lane: true,
    keyring: true,
    logins: {
      providers: [
        ["openrouter", OR_KEY],
        ["anthropic", ANT_KEY],
      ],
      env: { AUTHCTL_STORE: "keyring" },
    },
    env: { AUTHCTL_STORE: "keyring" },
    code: 0,
    stdout: new RegExp(`"ANTHROPIC_API_KEY": "${ANT_KEY}",\n {2}"OPENROUTER_API_KEY": "${OR_KEY}"`),
  },
  {
    name: "the keyring holds openrouter, anthropic in clear beside it: answered",
    argv: ["exec", "-p", "anthropic", "--", PROBE],
    lane: true,
    ...OPENROUTER_ON_KEYRING,
    env: { AUTHCTL_STORE: "keyring" },
    store: ANT,
    code: 0,
  },
  {
    name: "the keyring holds openrouter, both asked: answered",
    argv: ["env", "anthropic", "openrouter", "-f", "json"],
    lane: true,
    ...OPENROUTER_ON_KEYRING,
    env: { AUTHCTL_STORE: "keyring" },
    store: ANT,
    code: 0,
  },
  {
    name: "a keyring record that also holds a stale key in the file: answered, the keyring's is used",
    argv: ["env", "openrouter"],
    lane: true,
    ...OPENROUTER_ON_KEYRING,
    env: { AUTHCTL_STORE: "keyring" },
    setup: staleKeyBesideKeyring,
    code: 0,
    stdout: `export OPENROUTER_API_KEY='${OR_KEY}'\n`,
  },
  {
    name: "a keyring record with a stale key in the file, the bus gone: handed over (an error, not the stale key)",
    argv: ["token", "openrouter"],
    lane: false,
    ...OPENROUTER_ON_KEYRING,
    setup: staleKeyBesideKeyring,
    env: { AUTHCTL_STORE: "keyring", DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent-difftest-bus" },
    code: 1,
    stdout: "",
  },
  // Chosen otherwise, the store still reads a keyring record from the keyring: the lane starts
  // the lookup itself once it has read the record.
  {
    name: "a keyring record, the store chosen automatically: answered (the lookup started by the lane)",
    argv: ["env", "openrouter"],
    lane: true,
    ...OPENROUTER_ON_KEYRING,
    code: 0,
    stdout: `export OPENROUTER_API_KEY='${OR_KEY}'\n`,
  },
  {
    name: "a keyring record, AUTHCTL_STORE=file: answered, the keyring's is used",
    argv: ["token", "openrouter"],
    lane: true,
    ...OPENROUTER_ON_KEYRING,
    env: { AUTHCTL_STORE: "file" },
    code: 0,
    stdout: `${OR_KEY}\n`,
  },
  {
    name: "a keyring record, AUTHCTL_STORE=encrypted with a stale key in the file: answered, the keyring's is used",
    argv: ["env", "openrouter"],
    lane: true,
    ...OPENROUTER_ON_KEYRING,
    env: { AUTHCTL_STORE: "encrypted" },
    setup: staleKeyBesideKeyring,
    code: 0,
    stdout: `export OPENROUTER_API_KEY='${OR_KEY}'\n`,
  },
  {
    name: "a keyring record, the store chosen automatically, the bus gone: handed over (the full path's error)",
    argv: ["env", "openrouter"],
    lane: false,
    ...OPENROUTER_ON_KEYRING,
    env: { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent-difftest-bus" },
    code: 1,
    stdout: "",
  },
  {
    name: "a keyring record and no session bus at all: handed over (the full path's error)",
    argv: ["token", "openrouter"],
    lane: false,
    ...OPENROUTER_ON_KEYRING,
    env: { AUTHCTL_STORE: "keyring", DBUS_SESSION_BUS_ADDRESS: undefined, XDG_RUNTIME_DIR: undefined },
    code: 1,
    stdout: "",
  },
  {
    name: "a keyring record under a default account, the store chosen automatically: answered",
    argv: ["env", "openrouter"],
    lane: true,
    keyring: true,
    logins: { providers: [["openrouter@work", OR_WORK]], env: { AUTHCTL_STORE: "keyring" } },
    code: 0,
    stdout: `export OPENROUTER_API_KEY='${OR_WORK}'\n`,
  },
  {
    name: "a keyring record under a default account the command line does not spell: answered, its lookup added to those started ahead",
    argv: ["env", "openrouter"],
    lane: true,
    keyring: true,
    logins: { providers: [["openrouter@work", OR_WORK]], env: { AUTHCTL_STORE: "keyring" } },
    env: { AUTHCTL_STORE: "keyring" },
    code: 0,
    stdout: `export OPENROUTER_API_KEY='${OR_WORK}'\n`,
  },
  {
    name: "a keyring record whose item was deleted behind authctl's back: handed over (the full path's error)",
    argv: ["env", "openrouter"],
    lane: false,
    ...OPENROUTER_ON_KEYRING,
    env: { AUTHCTL_STORE: "keyring" },
    setup: () => clearKeyringItem("openrouter"),
    stdout: "",
  },
  {
    name: "two keyring records, one item deleted: handed over",
    argv: ["env", "openrouter", "anthropic"],
    lane: false,
    keyring: true,
    logins: {
      providers: [
        ["openrouter", OR_KEY],
        ["anthropic", ANT_KEY],
      ],
      env: { AUTHCTL_STORE: "keyring" },
    },
    env: { AUTHCTL_STORE: "keyring" },
    setup: () => clearKeyringItem("anthropic"),
    stdout: "",
  },
  {
    name: "a keyring record edited behind authctl's back (its digest no longer matches): handed over",
    argv: ["token", "openrouter"],
    lane: false,
    ...OPENROUTER_ON_KEYRING,
    env: { AUTHCTL_STORE: "keyring" },
    store: '\n[openrouter.extra]\napi_url = "https://127.0.0.1:9/v1"\n',
    code: 1,
    stdout: "",
    stderr: /does not match its keyring item authctl\/openrouter/,
  },
  {
    name: "a keyring item another store wrote since: handed over (the full path's error)",
    argv: ["env", "openrouter"],
    lane: false,
    ...OPENROUTER_ON_KEYRING,
    env: { AUTHCTL_STORE: "keyring" },
    setup: loginFromAnotherStore,
    code: 1,
    stdout: "",
    stderr: /now holds the openrouter login of the authctl store at /,
  },

  // --- odd corners
  {
    name: "env openrouter on a terminal (stdin, stdout and stderr a pty)",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    wrap: "exec script -qec \"'$0' env openrouter\" /dev/null",
    code: 0,
  },
  {
    name: "exec on a terminal: the child gets the terminal",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    store: PLAIN,
    wrap: "exec script -qec \"'$0' exec -p openrouter -- probe\" /dev/null",
    code: 0,
    stdout: /fd 0 -> \/dev\/pts\/N/,
  },
  {
    name: "HOME unset, AUTHCTL_HOME set",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    store: PLAIN,
    env: { HOME: undefined },
    code: 0,
    absent: ["\nHOME="],
  },
  {
    name: "a relative entry in PATH finds the command from the working directory",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    store: PLAIN,
    env: { PATH: "bin:/usr/bin:/bin" },
    code: 0,
  },
  {
    name: "AUTHCTL_HOME is a symbolic link to the home directory",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    env: (c) => ({ AUTHCTL_HOME: join(c.root, "home-link") }),
    setup: (c) => {
      rmSync(join(c.root, "home-link"), { force: true });
      symlinkSync(c.home, join(c.root, "home-link"));
    },
    code: 0,
  },
  {
    name: "exec an executable without a #! line (execve: ENOEXEC): handed over",
    argv: ["exec", "-p", "openrouter", "--", "no-shebang"],
    lane: false,
    store: PLAIN,
  },
  {
    name: "exec a script whose interpreter is missing (execve: ENOENT): handed over",
    argv: ["exec", "-p", "openrouter", "--", "bad-interpreter"],
    lane: false,
    store: PLAIN,
  },
  {
    name: "exec without PATH, the command by its full path: the child gets no PATH either",
    argv: ["exec", "-p", "openrouter", "--", "/usr/bin/env"],
    lane: true,
    store: PLAIN,
    env: { PATH: undefined },
    code: 0,
    stdout: new RegExp(`^OPENROUTER_API_KEY=${OR_KEY}$`, "m"),
    absent: ["PATH="],
  },
  {
    name: "exec without PATH, the command by name: handed over (not found)",
    argv: ["exec", "-p", "openrouter", "--", "sh", "-c", "true"],
    lane: false,
    store: PLAIN,
    env: { PATH: undefined },
    code: 127,
  },
  {
    name: "exec with an argument that is not UTF-8",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    store: PLAIN,
    wrap: "exec AUTHCTL \"$(printf 'x\\377y')\"",
    code: 0,
  },
  {
    name: "env with a provider name that is not UTF-8: handed over",
    argv: ["env"],
    lane: false,
    store: PLAIN,
    wrap: "exec AUTHCTL \"$(printf 'openrouter\\377')\"",
    code: 2,
  },
  {
    name: "an error under LANG=C (ASCII arrows)",
    argv: ["env", "mistral"],
    lane: false,
    store: PLAIN,
    env: { LANG: "C", LC_ALL: "C" },
    code: 4,
  },
  {
    name: "token openrouter into a full disk (/dev/full): an error, exit 1",
    argv: ["token", "openrouter"],
    lane: true,
    store: PLAIN,
    wrap: "exec >/dev/full; exec AUTHCTL",
    code: 1,
    stderr: /could not write the output to stdout/,
  },
  {
    name: "env openrouter anthropic into a full disk (/dev/full)",
    argv: ["env", "openrouter", "anthropic", "-f", "json"],
    lane: true,
    store: PLAIN,
    wrap: "exec >/dev/full; exec AUTHCTL",
    code: 1,
  },
  {
    name: "exec with a variable whose value is not UTF-8 and one whose name is no shell name",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    store: PLAIN,
    wrap: "RAW=$(printf 'a\\377b'); export RAW; exec env 'ODD-NAME=1' AUTHCTL",
    code: 0,
  },
  {
    name: "exec with HTTP_PROXY set: the child gets the environment as given (no NO_PROXY added)",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    store: PLAIN,
    env: { HTTP_PROXY: "http://proxy.example:3128", https_proxy: "http://proxy.example:3128" },
    code: 0,
    absent: ["NO_PROXY"],
  },
  {
    name: "exec -p '' -- probe (an empty provider list: every stored one): answered",
    argv: ["exec", "-p", "", "--", PROBE],
    lane: true,
    store: PLAIN,
    code: 0,
  },
  {
    name: "exec -p openrouter, -- probe (an empty name after the comma is dropped)",
    argv: ["exec", "-p", "openrouter,", "--", PROBE],
    lane: true,
    store: PLAIN,
    code: 0,
  },
  { name: "env '' (an empty name): handed over", argv: ["env", ""], lane: false, store: PLAIN },
  {
    name: "env openrouter@work@x: handed over",
    argv: ["env", "openrouter@work@x"],
    lane: false,
    store: PLAIN,
    code: 2,
  },
  {
    name: "env openrouter mistral (the second not logged in): handed over",
    argv: ["env", "openrouter", "mistral"],
    lane: false,
    store: PLAIN,
    code: 4,
  },
  {
    name: "env openrouter@work OpenRouter@work (one account, two spellings)",
    argv: ["env", "openrouter@work", "OpenRouter@work"],
    lane: true,
    store: store(OR, apiKey("openrouter@work", OR_WORK)),
    code: 0,
  },
  {
    name: "two accounts both marked default",
    argv: ["env", "openrouter"],
    lane: true,
    store: store(
      apiKey("openrouter", OR_KEY, { default: true }),
      apiKey("openrouter@work", OR_WORK, { default: true }),
    ),
    code: 0,
  },
  {
    name: "a record stored under openrouter@default (the default account is stored as openrouter): handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: store(apiKey("openrouter@default", OR_KEY)),
    code: 4,
  },
  {
    name: "a record of type oauth for a key-only provider (groq)",
    argv: ["exec", "-p", "groq", "--", PROBE],
    lane: true,
    store: (c) => store(oauth("groq", c.now, { method: "key" })),
    code: 0,
  },
  {
    name: "env mycorp whose mapping names only a field the record lacks: nothing printed",
    argv: ["env", "mycorp"],
    lane: true,
    config: (c) => mycorp(c, 'env = { ONLY_ID = "id_token" }'),
    store: (c) => store(oauth("mycorp", c.now)),
    code: 0,
    stdout: "",
  },
  {
    name: "env mycorp whose mapping names an inherited property (constructor)",
    argv: ["env", "mycorp", "-f", "json"],
    lane: true,
    config: (c) => mycorp(c, 'env = { X = "constructor", T = "access_token" }'),
    store: (c) => store(oauth("mycorp", c.now)),
    code: 0,
  },
  {
    name: "a top-level generation in a version 1 store: handed over",
    argv: ["env", "openrouter"],
    lane: false,
    store: PLAIN.replace("version = 1\n", "version = 1\ngeneration = 3\n"),
  },
  {
    name: "a stale lock file beside the store: answered, left alone",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    setup: (c) =>
      writeFileSync(join(c.home, "credentials.toml.lock"), "12345 otherhost 0\n", { mode: 0o600 }),
    code: 0,
  },
  {
    name: "AUTHCTL_DEBUG=1 changes nothing for the usual case",
    argv: ["token", "openrouter"],
    lane: true,
    store: PLAIN,
    env: { AUTHCTL_DEBUG: "1" },
    code: 0,
  },
  {
    name: "AUTHCTL_DEBUG=1 with a corrupt store: the same trace",
    argv: ["token", "openrouter"],
    lane: false,
    store: `${PLAIN}\n[anthropic\n`,
    env: { AUTHCTL_DEBUG: "1" },
    code: 1,
  },
  {
    name: "AUTHCTL_HOME with a trailing slash",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    env: (c) => ({ AUTHCTL_HOME: `${c.home}/` }),
    code: 0,
  },
  {
    name: "AUTHCTL_STORE=encrypted with a key file present and a plain store",
    argv: ["env", "openrouter"],
    lane: true,
    store: PLAIN,
    env: { AUTHCTL_STORE: "encrypted" },
    setup: (c) => writeFileSync(join(c.home, "key"), Buffer.alloc(32, 7), { mode: 0o600 }),
  },

  // --- where the home is
  {
    name: "the home in $XDG_CONFIG_HOME/authctl (AUTHCTL_HOME unset)",
    argv: ["env", "openrouter"],
    lane: true,
    home: "xdg",
    store: PLAIN,
    code: 0,
  },
  {
    name: "the home in $HOME/.config/authctl (AUTHCTL_HOME and XDG_CONFIG_HOME unset)",
    argv: ["exec", "-p", "openrouter", "--", PROBE],
    lane: true,
    home: "user",
    store: PLAIN,
    code: 0,
  },
  {
    name: "a relative XDG_CONFIG_HOME is ignored: the home in $HOME/.config/authctl",
    argv: ["token", "openrouter"],
    lane: true,
    home: "xdg-relative",
    store: PLAIN,
    code: 0,
  },
  {
    name: "a relative AUTHCTL_HOME (from the working directory)",
    argv: ["env", "openrouter"],
    lane: true,
    home: "relative",
    store: PLAIN,
    code: 0,
  },
  {
    name: "AUTHCTL_HOME empty: the XDG home is used",
    argv: ["env", "openrouter"],
    lane: true,
    home: "xdg",
    store: PLAIN,
    env: { AUTHCTL_HOME: "" },
    code: 0,
  },
];

/**
 * Every built-in provider and login method, from the provider files the full path uses (the lane
 * reads the same providers as generated data: providers/builtin-table.ts): a record of that method
 * with every field its variables name, and every variable the provider sets, aliases or removes
 * already in the environment, so each name given, kept or taken away is compared.
 */
const STANDARD_FIELDS = new Set(["access_token", "id_token", "key", "account"]);
for (const provider of createRegistry({ path: "/nowhere/config.toml", providers: {} }).list()) {
  for (const method of provider.methods) {
    const key = secret(`${provider.id}-${method.id}-difftest-0123456789abcdef`);
    const ambient: Record<string, string> = {};
    const names = [
      ...provider.keyVars,
      ...(provider.aliasVars ?? []),
      ...(provider.conflictVars ?? []),
      ...(method.kind === "oauth" ? [...Object.keys(method.env), ...(method.conflictVars ?? [])] : []),
    ];
    for (const name of names) ambient[name] = AMBIENT;
    let record: Text;
    if (method.kind === "oauth") {
      const extra: Record<string, string> = {};
      for (const field of Object.values(method.env))
        if (!STANDARD_FIELDS.has(field) && !field.startsWith("literal:"))
          extra[field] = field === "resource_url" ? "portal.example.com" : `${field}-difftest`;
      record = (c) =>
        store(
          oauth(provider.id, c.now, {
            method: method.id,
            access: key,
            more: { key, id_token: ID_TOKEN, ...(Object.keys(extra).length ? { extra } : {}) },
          }),
        );
    } else record = store(apiKey(provider.id, key, { method: method.id }));
    ROWS.push(
      {
        name: `every provider: exec -p ${provider.id} with a ${method.id} login, every variable it names inherited`,
        argv: ["exec", "-p", provider.id, "--", PROBE],
        lane: true,
        store: record,
        env: ambient,
        code: 0,
      },
      {
        name: `every provider: env ${provider.id} -f json with a ${method.id} login`,
        argv: ["env", provider.id, "-f", "json"],
        lane: true,
        store: record,
        code: 0,
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Running a row

interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Text as it is, or its bytes when they are not UTF-8 (so the comparison stays byte for byte). */
function shown(bytes: Buffer): string {
  const text = bytes.toString("utf8");
  return Buffer.from(text, "utf8").equals(bytes) ? text : `base64:${bytes.toString("base64")}`;
}

async function runBinary(
  mode: Mode,
  argv: string[],
  env: Record<string, string>,
  cwd: string,
  wrap?: string,
): Promise<Outcome> {
  const command = wrap
    ? ["/bin/sh", "-c", wrap.replace("AUTHCTL", '"$0" "$@"'), binaries[mode], ...argv]
    : [binaries[mode], ...argv];
  const proc = Bun.spawn(command, {
    env,
    cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  const [stdout, stderr] = await Promise.all([
    new Response(proc.stdout).arrayBuffer(),
    new Response(proc.stderr).arrayBuffer(),
  ]);
  await proc.exited;
  const outcome = {
    code: proc.exitCode,
    signal: proc.signalCode === null ? null : String(proc.signalCode),
    // The probe reads its own status with shell builtins: a `grep` of /proc/$$/status ran while
    // the shell forked it, and dash blocks every signal around a fork, so the mask read then was
    // the shell's of that moment (1 run in 8, with no authctl at all), not the one exec gave it.
    stdout: shown(Buffer.from(stdout)),
    stderr: shown(Buffer.from(stderr)),
  };
  for (const value of SECRETS)
    if (outcome.stderr.includes(value))
      throw new Error(
        `a secret reached stderr of 'authctl ${argv.join(" ")}' (${mode}): …${value.slice(-4)}`,
      );
  return outcome;
}

/** Every entry under `dir`: kind, mode, owner and content (a missing dir is "absent"). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string, rel: string) => {
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(path);
    } catch {
      out[rel] = "absent";
      return;
    }
    const mode = `0${(stat.mode & 0o7777).toString(8)} uid ${stat.uid}`;
    if (stat.isSymbolicLink()) out[rel] = `link ${mode} -> ${readlinkSync(path)}`;
    else if (stat.isDirectory()) {
      out[rel] = `dir ${mode}`;
      for (const name of readdirSync(path).sort()) walk(join(path, name), `${rel}/${name}`);
    } else if (stat.isFile()) out[rel] = `file ${mode} ${shown(readFileSync(path))}`;
    else out[rel] = `other ${mode}`;
  };
  walk(dir, ".");
  return out;
}

const isRoot = process.getuid?.() === 0;

interface Prepared {
  ctx: Ctx;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** Rebuilds the home exactly as the row describes it. */
  reset(): void;
}

async function prepare(box: Sandbox, row: Row, port: number, now: number): Promise<Prepared> {
  const root = box.root;
  const kind = row.home ?? "authctl";
  const userHome = join(root, "user-home");
  const home =
    kind === "xdg"
      ? join(root, "xdg", "authctl")
      : kind === "user" || kind === "xdg-relative"
        ? join(userHome, ".config", "authctl")
        : kind === "relative"
          ? join(root, "rel-home")
          : box.home;
  const ctx: Ctx = { root, home, port, now };

  const env: Record<string, string | undefined> = {
    ...box.env,
    PATH: `${join(root, "bin")}:${box.env.PATH}`,
    // The real default: nothing chooses the store (test/helpers sets "file" for tests that read it).
    AUTHCTL_STORE: undefined,
  };
  if (kind !== "authctl") env.AUTHCTL_HOME = undefined;
  if (kind === "xdg") env.XDG_CONFIG_HOME = join(root, "xdg");
  if (kind === "xdg-relative") env.XDG_CONFIG_HOME = "xdg";
  if (kind === "relative") env.AUTHCTL_HOME = "rel-home";
  if (row.keyring) Object.assign(env, keyringEnv());
  Object.assign(env, typeof row.env === "function" ? row.env(ctx) : (row.env ?? {}));
  const clean: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) clean[name] = value;

  mkdirSync(join(root, "bin"), { recursive: true });
  writeScript(join(root, "bin"), PROBE, PROBE_SCRIPT);
  writeFileSync(join(root, "not-executable"), "#!/bin/sh\necho ran\n", { mode: 0o644 });
  chmodSync(join(root, "not-executable"), 0o644);
  // Executable, but execve refuses them (ENOEXEC; ENOENT for the interpreter): found by `which`.
  writeScript(join(root, "bin"), "no-shebang", "echo ran without a shebang\n");
  writeScript(join(root, "bin"), "bad-interpreter", "#!/nonexistent/difftest-sh\necho ran\n");

  const text = (t: Text) => (typeof t === "function" ? t(ctx) : t);
  const storeText = row.store === undefined ? undefined : text(row.store);
  const configText = row.config === undefined ? undefined : text(row.config);

  // The files the logins leave (sealed with random nonces: made once, then put back as they were).
  let loggedIn: Array<[name: string, bytes: Buffer, mode: number]> = [];
  if (row.logins) {
    rmSync(home, { recursive: true, force: true });
    mkdirSync(home, { recursive: true, mode: 0o700 });
    if (configText !== undefined) writeFileSync(join(home, "config.toml"), configText, { mode: 0o600 });
    for (const [id, key] of row.logins.providers) {
      const proc = Bun.spawn([binaries.off, "login", id, "--with-key", "--no-verify"], {
        // The row's environment may take the bus away (to show what then happens): the login has it.
        env: { ...clean, ...(row.keyring ? keyringEnv() : {}), ...row.logins.env },
        cwd: root,
        stdin: new Blob([key]),
        stdout: "ignore",
        stderr: "pipe",
      });
      const stderr = await new Response(proc.stderr).text();
      if ((await proc.exited) !== 0) throw new Error(`login ${id} for the fixture failed: ${stderr}`);
    }
    loggedIn = readdirSync(home)
      .filter((name) => name !== "config.toml")
      .map((name) => [name, readFileSync(join(home, name)), lstatSync(join(home, name)).mode & 0o7777]);
  }

  const reset = () => {
    rmSync(home, { recursive: true, force: true });
    rmSync(join(root, "elsewhere.toml"), { force: true });
    rmSync(join(root, "github-env"), { force: true });
    rmSync(join(root, ".authctl.toml"), { force: true });
    mkdirSync(home, { recursive: true, mode: 0o700 });
    chmodSync(home, row.modes?.dir ?? 0o700);
    for (const [name, bytes, mode] of loggedIn) {
      writeFileSync(join(home, name), bytes);
      chmodSync(join(home, name), mode);
    }
    if (storeText !== undefined) {
      const path = join(home, "credentials.toml");
      if (row.logins) writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from(storeText)]));
      else writeFileSync(path, storeText);
      chmodSync(path, row.modes?.store ?? 0o600);
      if (row.owner?.store !== undefined) chownSync(path, row.owner.store, row.owner.store);
    }
    if (configText !== undefined) {
      const path = join(home, "config.toml");
      writeFileSync(path, configText);
      chmodSync(path, row.modes?.config ?? 0o600);
    }
    if (row.owner?.dir !== undefined) chownSync(home, row.owner.dir, row.owner.dir);
    row.setup?.(ctx);
  };
  return {
    ctx,
    argv: typeof row.argv === "function" ? row.argv(ctx) : row.argv,
    env: clean,
    cwd: root,
    reset,
  };
}

function stateOf(p: Prepared): Record<string, string> {
  // $GITHUB_ENV's heredoc delimiters are random by design (env-format.ts formatGithubEnv).
  const githubEnv = snapshot(join(p.ctx.root, "github-env"))["."]!.replace(
    /ghadelimiter_[0-9a-f]+/g,
    "ghadelimiter_…",
  );
  return { ...snapshot(p.ctx.home), "github-env": githubEnv };
}

describe("the usual-case lane answers exactly what the full path would, and nothing else", () => {
  test("the table has no two rows of the same name", () => {
    const names = ROWS.map((row) => row.name);
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
  });

  for (const row of ROWS) {
    const needsRoot = row.owner !== undefined;
    test.skipIf((needsRoot && !isRoot) || (row.keyring === true && missingSecretServicePrograms.length > 0))(
      `${row.lane ? "[lane]" : "[full]"} ${row.name}`,
      async () => {
        if (row.keyring) keyringStarted ??= await (keyring ??= startSecretService());
        const box = createSandbox({ inMemory: true });
        try {
          const p = await prepare(box, row, down.port as number, Date.now());
          const run = async (mode: Mode) => {
            p.reset();
            const before = stateOf(p);
            const outcome = await runBinary(mode, p.argv, p.env, p.cwd, row.wrap);
            return { outcome, before, after: stateOf(p) };
          };
          const off = await run("off");
          const on = await run("on");
          const only = await run("only");

          // What the full path does: the row is about what its name says.
          if (row.code !== undefined)
            expect({ code: off.outcome.code, stderr: off.outcome.stderr }).toEqual({
              code: row.code,
              stderr: expect.any(String),
            });
          if (typeof row.stdout === "string") expect(off.outcome.stdout).toBe(row.stdout);
          else if (row.stdout) expect(off.outcome.stdout).toMatch(row.stdout);
          if (typeof row.stderr === "string") expect(off.outcome.stderr).toBe(row.stderr);
          else if (row.stderr) expect(off.outcome.stderr).toMatch(row.stderr);
          for (const text of row.absent ?? []) {
            expect(off.outcome.stdout).not.toContain(text);
            expect(on.outcome.stdout).not.toContain(text);
          }

          // 1. on and off: the same bytes, the same exit, the same child, the same files.
          expect(on.outcome).toEqual(off.outcome);
          expect(on.after).toEqual(off.after);

          // 2. whether the lane answered.
          if (row.lane) {
            expect(only.outcome).toEqual(on.outcome);
            // 3. where it answered, nothing changed on disk.
            expect(on.after).toEqual(on.before);
            expect(only.after).toEqual(only.before);
          } else {
            expect(only.outcome).toEqual(HANDED_OVER);
          }
        } finally {
          box.cleanup();
        }
      },
      30_000,
    );
  }
});

/** The process that owns org.freedesktop.secrets on the bus: the keyring daemon. */
async function keyringDaemonPid(service: SecretService): Promise<number> {
  const bus = await connectBus(service.env.DBUS_SESSION_BUS_ADDRESS, process.getuid!());
  try {
    const reply = await bus.call({
      destination: "org.freedesktop.DBus",
      path: "/org/freedesktop/DBus",
      interface: "org.freedesktop.DBus",
      member: "GetConnectionUnixProcessID",
      signature: "s",
      body: ["org.freedesktop.secrets"],
    });
    return reply.body[0] as number;
  } finally {
    bus.close();
  }
}

/** Locks the login collection (where authctl's items are), as keyring-direct.test.ts does. */
async function lockLoginCollection(service: SecretService): Promise<void> {
  const bus = await connectBus(service.env.DBUS_SESSION_BUS_ADDRESS, process.getuid!());
  try {
    await bus.call({
      destination: "org.freedesktop.secrets",
      path: "/org/freedesktop/secrets",
      interface: "org.freedesktop.Secret.Service",
      member: "Lock",
      signature: "ao",
      body: [["/org/freedesktop/secrets/collection/login"]],
    });
  } finally {
    bus.close();
  }
}

// A keyring daemon of their own: these stop it or lock it, which the table's rows must not see.
describe.skipIf(missingSecretServicePrograms.length > 0)("the lane on a keyring that cannot answer", () => {
  let service: SecretService | undefined;
  let box: Sandbox | undefined;
  afterAll(() => {
    service?.stop();
    box?.cleanup();
  });

  /** A home whose openrouter lives in `service`'s keyring, and the environment to run each binary with. */
  async function loggedIn(): Promise<Record<string, string>> {
    service ??= await startSecretService();
    box ??= createSandbox({ inMemory: true });
    const env = { ...box.env, ...service.env, AUTHCTL_STORE: "keyring" };
    const login = Bun.spawn([binaries.off, "login", "openrouter", "--with-key", "--no-verify"], {
      env,
      stdin: new Blob([OR_KEY]),
      stdout: "ignore",
      stderr: "pipe",
    });
    const stderr = await new Response(login.stderr).text();
    if ((await login.exited) !== 0) throw new Error(`login failed: ${stderr}`);
    return env;
  }

  // The keyring daemon stopped (SIGSTOP): the bus takes the calls and nothing answers them. The
  // full path gives up after the keyring's bound (2 s). The lane waits no longer than that on the
  // lookup it started, then hands over, and the full path reports the same timeout at once
  // instead of waiting a second bound on the same lookup (keyring.ts awaitLookupsAhead): a lane
  // that waited twice would take 4 s or more.
  for (const [label, store] of [
    ["AUTHCTL_STORE=keyring", "keyring"],
    ["the store chosen automatically", undefined],
  ] as const)
    test(`a keyring daemon that does not answer (${label}): the same timeout error, after one bound, not two`, async () => {
      const { AUTHCTL_STORE: _chosen, ...unchosen } = await loggedIn();
      const env: Record<string, string> = store ? { ...unchosen, AUTHCTL_STORE: store } : unchosen;
      const pid = await keyringDaemonPid(service!);
      process.kill(pid, "SIGSTOP");
      try {
        const timed = async (mode: Mode) => {
          const started = performance.now();
          const outcome = await runBinary(mode, ["env", "openrouter"], env, box!.root);
          return { outcome, ms: performance.now() - started };
        };
        const off = await timed("off");
        const on = await timed("on");
        const only = await timed("only");
        expect(off.outcome).toEqual({
          code: 1,
          signal: null,
          stdout: "",
          stderr: expect.stringContaining("the keyring did not answer within 2s"),
        });
        expect(on.outcome).toEqual(off.outcome);
        expect(only.outcome).toEqual(HANDED_OVER);
        expect(off.ms).toBeGreaterThan(1_900);
        expect(only.ms).toBeGreaterThan(1_900);
        expect(on.ms).toBeLessThan(3_800);
      } finally {
        process.kill(pid, "SIGCONT");
      }
    }, 60_000);

  test("a locked keyring: handed over, the full path's error (libsecret cannot unlock it here)", async () => {
    const env = await loggedIn();
    await lockLoginCollection(service!);
    const off = await runBinary("off", ["env", "openrouter"], env, box!.root);
    const on = await runBinary("on", ["env", "openrouter"], env, box!.root);
    const only = await runBinary("only", ["env", "openrouter"], env, box!.root);
    expect(off.code).toBe(1);
    expect(off.stderr).toContain("the keyring holding authctl/openrouter is locked");
    expect(on).toEqual(off);
    expect(only).toEqual(HANDED_OVER);
  }, 60_000);
});
