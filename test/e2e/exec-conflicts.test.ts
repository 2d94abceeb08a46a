/**
 * The README's table of competing variables, row by row: `exec -p <provider>` sets the provider's
 * variables and removes each inherited competitor, so an ambient key cannot silently win. The
 * expected rows are written here from the README, not read from the provider data: emptying a
 * provider's list in the code must fail this test (issue 12's mutant emptied all but Anthropic).
 */
import { afterEach, beforeAll, expect, test } from "bun:test";
import { createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

const AMBIENT = secret("ambient-competitor-0123456789abcdef");

const ROWS: { provider: string; key: string; set: string[]; removed: string[] }[] = [
  {
    provider: "anthropic",
    key: "sk-ant-api03-conflicts0123456789abcdef0123456789abcdef",
    set: ["ANTHROPIC_API_KEY"],
    removed: ["ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_OAUTH_TOKEN"],
  },
  {
    provider: "gemini",
    key: "AIzaSyConflicts0123456789abcdefghijklmnop",
    set: ["GEMINI_API_KEY", "GOOGLE_GENERATIVE_AI_API_KEY"],
    removed: ["GOOGLE_API_KEY"],
  },
  {
    provider: "together",
    key: "tgp_v1_conflicts0123456789abcdef0123456789",
    set: ["TOGETHER_API_KEY"],
    removed: ["TOGETHERAI_API_KEY"],
  },
  {
    provider: "zai",
    key: "conflicts0123456789abcdef.0123456789abcdef",
    set: ["ZAI_API_KEY", "ZHIPU_API_KEY"],
    removed: ["ZHIPUAI_API_KEY"],
  },
  {
    provider: "perplexity",
    key: "pplx-conflicts0123456789abcdef0123456789abcdef",
    set: ["PERPLEXITY_API_KEY"],
    removed: ["PPLX_API_KEY", "PERPLEXITYAI_API_KEY"],
  },
  {
    provider: "huggingface",
    key: "hf_conflicts0123456789abcdef0123456789",
    set: ["HF_TOKEN"],
    removed: ["HUGGING_FACE_HUB_TOKEN"],
  },
];

let box: Sandbox;
beforeAll(() => ensureBinary());
afterEach(() => box?.cleanup());

for (const row of ROWS) {
  test(`exec -p ${row.provider} sets ${row.set.join(", ")} and removes an inherited ${row.removed.join(", ")}`, async () => {
    box = createSandbox();
    const key = secret(row.key);
    expectOk(await box.run(["login", row.provider, "--with-key", "--no-verify"], { stdin: key }));
    const ambient = Object.fromEntries(row.removed.map((name) => [name, AMBIENT]));
    const result = await box.run(
      ["exec", "-p", row.provider, "--", process.execPath, "-e", "console.log(JSON.stringify(process.env))"],
      {
        env: ambient,
      },
    );
    expectOk(result);
    const env = JSON.parse(result.stdout) as Record<string, string>;
    for (const name of row.set) expect([name, env[name]]).toEqual([name, key]);
    for (const name of row.removed) expect([name, env[name]]).toEqual([name, undefined]);
  }, 30_000);
}
