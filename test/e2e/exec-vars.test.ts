import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import {
  createSandbox,
  ensureBinary,
  expectOk,
  secret,
  writeScript,
  type Sandbox,
} from "../helpers/binary.ts";

/**
 * Which variables a child of `authctl exec` (and `exec --proxy`) gets for a provider: the names
 * real clients read, each holding the injected value (the placeholder under --proxy), and no
 * inherited competitor left behind. One row per provider and mode; the child prints its env.
 */
const OPENAI = secret("sk-proj-execvars0123456789abcdef0123456789abcdef");
const GEMINI = secret("AIzaSyExecVars0123456789abcdefghijklmnopq");
const AMBIENT = secret("ambient-stale-key-0123456789abcdef");

let box: Sandbox;
beforeAll(() => ensureBinary());
afterEach(() => box?.cleanup());

const PRINT_ENV = `console.log(JSON.stringify(process.env));`;

interface Row {
  name: string;
  provider: string;
  key: string;
  proxy: boolean;
  ambient: Record<string, string>;
  /** Variables that must hold the injected value ("key") or the placeholder ("placeholder"). */
  set: Record<string, "key" | "placeholder">;
  /** Variables that must be absent. */
  unset: string[];
}

const ROWS: Row[] = [
  {
    name: "exec -p openai sets CODEX_API_KEY beside OPENAI_API_KEY (codex exec reads only CODEX_API_KEY), over an ambient one",
    provider: "openai",
    key: OPENAI,
    proxy: false,
    ambient: { CODEX_API_KEY: AMBIENT },
    set: { OPENAI_API_KEY: "key", CODEX_API_KEY: "key" },
    unset: [],
  },
  {
    name: "exec --proxy -p openai gives CODEX_API_KEY the placeholder too",
    provider: "openai",
    key: OPENAI,
    proxy: true,
    ambient: { CODEX_API_KEY: AMBIENT },
    set: { OPENAI_API_KEY: "placeholder", CODEX_API_KEY: "placeholder" },
    unset: [],
  },
  {
    name: "exec -p gemini sets GEMINI_API_KEY and GOOGLE_GENERATIVE_AI_API_KEY (@ai-sdk/google), and removes an inherited GOOGLE_API_KEY (@google/genai would prefer it)",
    provider: "gemini",
    key: GEMINI,
    proxy: false,
    ambient: { GOOGLE_API_KEY: AMBIENT, GOOGLE_GENERATIVE_AI_API_KEY: AMBIENT },
    set: { GEMINI_API_KEY: "key", GOOGLE_GENERATIVE_AI_API_KEY: "key" },
    unset: ["GOOGLE_API_KEY"],
  },
  {
    name: "exec --proxy -p gemini: the same names hold the placeholder",
    provider: "gemini",
    key: GEMINI,
    proxy: true,
    ambient: { GOOGLE_API_KEY: AMBIENT },
    set: { GEMINI_API_KEY: "placeholder", GOOGLE_GENERATIVE_AI_API_KEY: "placeholder" },
    unset: ["GOOGLE_API_KEY"],
  },
];

describe("exec: the variables each provider's clients read", () => {
  for (const row of ROWS) {
    test(row.name, async () => {
      box = createSandbox();
      // --proxy needs a usable api_url; the child never calls it here.
      box.writeConfig(`[providers.${row.provider}]\napi_url = "http://127.0.0.1:9/v1"\n`);
      expectOk(await box.run(["login", row.provider, "--with-key", "--no-verify"], { stdin: row.key }));
      const script = writeScript(box.root, "env.mjs", PRINT_ENV);
      const args = [
        "exec",
        ...(row.proxy ? ["--proxy"] : []),
        "-p",
        row.provider,
        "--",
        process.execPath,
        script,
      ];
      const result = await box.run(args, { env: row.ambient });
      expectOk(result);
      const env = JSON.parse(result.stdout) as Record<string, string>;
      const placeholder = /authctl-proxy-[A-Za-z0-9_-]{43}$/;
      for (const [name, kind] of Object.entries(row.set)) {
        if (kind === "key") expect([name, env[name]]).toEqual([name, row.key]);
        else expect([name, placeholder.test(env[name] ?? "")]).toEqual([name, true]);
      }
      for (const name of row.unset) expect([name, env[name]]).toEqual([name, undefined]);
      expect(JSON.stringify(env)).not.toContain(AMBIENT);
      if (row.proxy) expect(JSON.stringify(env)).not.toContain(row.key);
    });
  }
});
