/**
 * One client run, inside a network namespace that has only loopback (clients.test.ts starts it
 * with `unshare -n`): the model-API fake, a fresh AUTHCTL_HOME logged in to every provider with a
 * real-looking key whose api_url is the fake, then `authctl exec [--proxy] -p <provider> -- <client>`.
 * While the client runs, every request the fake receives snapshots the environment of every
 * process under authctl, so the report can say whether any of them held a real key.
 * Prints one JSON report on stdout.
 *
 *   bun test/clients/run-case.ts '{"provider":"openai","proxy":true,"command":["node","x.mjs"],"env":{}}'
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startModelApis } from "../fakes/model-apis.ts";

export interface CaseInput {
  provider: "openai" | "anthropic" | "gemini" | "openrouter";
  proxy: boolean;
  command: string[];
  /** Extra environment for the client; `{FAKE}` in a value becomes the fake's origin, `{HOME}` the client's home. */
  env?: Record<string, string>;
  /** Files to write before the run, relative to the client's home (`{FAKE}` is replaced too). */
  files?: Record<string, string>;
  timeoutMs?: number;
}

export interface CaseReport {
  code: number | null;
  stdout: string;
  stderr: string;
  requests: Array<{
    method: string;
    path: string;
    credentialIsKey: boolean;
    credential?: string;
    stream: boolean;
    websocket?: boolean;
    status: number;
  }>;
  /** Processes seen under authctl while requests were served, and whether any held a real key in its environment. */
  processesSeen: number;
  keyInChildEnvironment: boolean;
  elapsedMs: number;
}

export const KEYS = {
  openai: "sk-proj-clientsuite0123456789abcdefABCDEF0123456789",
  anthropic: "sk-ant-api03-clientsuite0123456789abcdefABCDEF0123456789",
  gemini: "AIzaSyClientSuite0123456789abcdefghijklm",
  openrouter: "sk-or-v1-clientsuite0123456789abcdef0123456789abcdef0123456789abcdef",
} as const;

/** What each provider's api_url is on the fake (the path is the one the real API uses). */
const API_PATHS = { openai: "/v1", anthropic: "", gemini: "/v1beta", openrouter: "/api/v1" } as const;

function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {}
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

async function main(input: CaseInput): Promise<CaseReport> {
  const binary = process.env.AUTHCTL_BINARY!;
  const keys: string[] = Object.values(KEYS);
  const fake = startModelApis(keys);
  const work = mkdtempSync(join(tmpdir(), "authctl-client-"));
  const home = join(work, "home");
  const authctlHome = join(work, "authctl");
  mkdirSync(home, { recursive: true });
  mkdirSync(authctlHome, { recursive: true, mode: 0o700 });
  const fill = (text: string) => text.replaceAll("{FAKE}", fake.url).replaceAll("{HOME}", home);
  try {
    writeFileSync(
      join(authctlHome, "config.toml"),
      Object.entries(API_PATHS)
        .map(([id, path]) => `[providers.${id}]\napi_url = "${fake.url}${path}"\n`)
        .join("\n"),
    );
    const baseEnv: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      AUTHCTL_HOME: authctlHome,
      AUTHCTL_STORE: "file",
      LANG: "C.UTF-8",
      NO_COLOR: "1",
      TERM: "dumb",
    };
    for (const [id, key] of Object.entries(KEYS)) {
      const login = Bun.spawnSync([binary, "login", id, "--with-key", "--no-verify"], {
        env: baseEnv,
        stdin: new Blob([key]),
        stderr: "pipe",
      });
      if (login.exitCode !== 0) throw new Error(`login ${id}: ${login.stderr}`);
    }
    for (const [name, text] of Object.entries(input.files ?? {})) {
      const path = join(home, name);
      mkdirSync(join(path, ".."), { recursive: true });
      writeFileSync(path, fill(text));
    }
    const env = { ...baseEnv };
    for (const [name, value] of Object.entries(input.env ?? {})) env[name] = fill(value);
    const args = [
      binary,
      "exec",
      ...(input.proxy ? ["--proxy"] : []),
      "-p",
      input.provider,
      "--",
      ...input.command.map(fill),
    ];
    const started = performance.now();
    const proc = Bun.spawn(args, {
      env,
      cwd: home,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      timeout: input.timeoutMs ?? 90_000,
    });
    let processesSeen = 0;
    let keyInChildEnvironment = false;
    fake.onRequest = () => {
      for (const pid of descendants(proc.pid)) {
        try {
          const environ = readFileSync(`/proc/${pid}/environ`, "latin1");
          processesSeen++;
          if (keys.some((key) => environ.includes(key))) keyInChildEnvironment = true;
        } catch {}
      }
    };
    const [stdout, stderr] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ]);
    const code = await proc.exited;
    return {
      code,
      stdout,
      stderr,
      requests: fake.requests.map((r) => ({
        method: r.method,
        path: r.path.replace(/([?&]key=)[^&]*/, "$1…"),
        credentialIsKey: r.credential === KEYS[input.provider],
        ...(r.credential && !keys.includes(r.credential) ? { credential: r.credential } : {}),
        stream: r.stream,
        websocket: r.websocket,
        status: r.status,
      })),
      processesSeen,
      keyInChildEnvironment,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    fake.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const report = await main(JSON.parse(process.argv[2]!) as CaseInput);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}
