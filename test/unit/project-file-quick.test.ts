import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { env } from "../../src/actions/env.ts";
import { openContextQuickly } from "../../src/compose.ts";
import { findNoProjectFileQuickly, findProjectFile } from "../../src/config/project-file.ts";
import { USE_NODE_FS } from "../../src/store/quick-read.ts";
import { createTestDeps } from "../helpers/deps.ts";

// `env` and `exec` without a provider look for .authctl.toml from the working directory up. The
// usual answer, "none", is found through Bun's file API (config/project-file.ts
// findNoProjectFileQuickly): node:fs costs a compiled binary about 5 MiB of memory (issue 18).
// Its contract: "none" exactly where findProjectFile finds none, and USE_NODE_FS otherwise.
const root = fs.realpathSync(fs.mkdtempSync(join(tmpdir(), "authctl-walk-")));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const home = join(root, "home");
const deep = join(home, "code", "app", "src", "lib");
fs.mkdirSync(deep, { recursive: true });
fs.symlinkSync(home, join(root, "home-link"));

const layouts: Array<[string, () => void]> = [
  ["no project file up to $HOME", () => {}],
  ["a project file two levels up", () => fs.writeFileSync(join(home, "code", "app", ".authctl.toml"), "")],
  ["a project file in $HOME", () => fs.writeFileSync(join(home, ".authctl.toml"), "")],
  ["a directory named .authctl.toml", () => fs.mkdirSync(join(home, "code", ".authctl.toml"))],
  [
    "a link to a project file",
    () => {
      fs.writeFileSync(join(root, "elsewhere.toml"), "");
      fs.symlinkSync(join(root, "elsewhere.toml"), join(deep, ".authctl.toml"));
    },
  ],
  ["a dangling link", () => fs.symlinkSync(join(root, "nothing"), join(deep, ".authctl.toml"))],
  ["a project file above $HOME (not searched)", () => fs.writeFileSync(join(root, ".authctl.toml"), "")],
];

for (const [name, make] of layouts) {
  test(`the quick search answers as findProjectFile does: ${name}`, async () => {
    for (const path of [join(root, ".authctl.toml"), join(home, ".authctl.toml")])
      fs.rmSync(path, { force: true, recursive: true });
    for (const dir of [deep, join(home, "code"), join(home, "code", "app")])
      fs.rmSync(join(dir, ".authctl.toml"), { force: true, recursive: true });
    make();
    for (const [cwd, userHome] of [
      [deep, home],
      [deep, `${home}//`],
      [deep, join(root, "home-link")],
      [deep, undefined],
      [deep, join(root, "no-such-home")],
      [root, home],
      ["/dev/shm", home],
    ] as Array<[string, string | undefined]>) {
      const quick = await findNoProjectFileQuickly(cwd, userHome);
      const full = findProjectFile(cwd, userHome);
      if (quick !== USE_NODE_FS) expect([cwd, userHome, full]).toEqual([cwd, userHome, undefined]);
    }
    // Where there is none to find from the usual spelling of $HOME, that is answered here.
    if (findProjectFile(deep, home) === undefined)
      expect(await findNoProjectFileQuickly(deep, home)).toBeUndefined();
  });
}

test("env without a provider, and no project file, calls no function of node:fs", async () => {
  const t = createTestDeps();
  try {
    const now = t.clock.now();
    await t.seed({
      openrouter: {
        method: "key",
        type: "api_key",
        key: "sk-or-v1-walk0123456789abcdef",
        created_at: now,
        updated_at: now,
      },
    });
    const calls: string[] = [];
    const module = require("node:fs") as Record<string, unknown>;
    const originals = Object.entries(module).filter(
      ([key, value]) => typeof value === "function" && !/^[A-Z]/.test(key),
    );
    for (const [key, value] of originals)
      module[key] = function (this: unknown, ...args: unknown[]) {
        calls.push(key);
        return (value as (...a: unknown[]) => unknown).apply(this, args);
      };
    try {
      const context = await openContextQuickly(t.deps, { vaults: { keyring: t.keyring } });
      await env(context, { providerIds: [], format: "sh" });
    } finally {
      for (const [key, value] of originals) module[key] = value;
    }
    expect(t.stdout()).toBe("export OPENROUTER_API_KEY='sk-or-v1-walk0123456789abcdef'\n");
    expect(calls).toEqual([]);
  } finally {
    t.cleanup();
  }
});
