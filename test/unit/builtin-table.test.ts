import { describe, expect, test } from "bun:test";
import { BUILTIN_TABLE, SECRET_EXTRA_FIELDS } from "../../src/providers/builtin-table.ts";
import { secretExtraFields } from "../../src/providers/extra-fields.ts";
import { registryOver } from "../../src/providers/catalog.ts";
import { builtinProviders, createRegistry } from "../../src/providers/registry.ts";

/** What a provider is as data: its hooks (functions) left out, as the generator writes it. */
const asData = (value: unknown) => JSON.parse(JSON.stringify(value));

describe("the built-in providers as data (src/providers/builtin-table.ts)", () => {
  test("match the provider files (else: bun scripts/gen-provider-table.ts)", () => {
    const files = builtinProviders();
    expect(BUILTIN_TABLE.ids).toEqual(files.map((p) => p.id));
    expect(BUILTIN_TABLE.ids.map((id) => BUILTIN_TABLE.definition(id))).toEqual(asData(files));
  });

  test("name the extra fields the provider files declare secret (the store seals them)", () => {
    expect(new Set(SECRET_EXTRA_FIELDS)).toEqual(secretExtraFields() as Set<string>);
  });

  test("give the same registry as the provider files, config.toml's overrides and providers included", () => {
    const config = {
      path: "/home/u/.config/authctl/config.toml",
      providers: {
        minimax: { region: "cn" },
        openai: { client_id: "other", api_url: "https://proxy.example/v1" },
        mycorp: { issuer: "https://sso.example.com", client_id: "authctl" },
        keyed: { env: { KEYED_API_KEY: "key" } },
      },
    };
    const fromData = registryOver(config, BUILTIN_TABLE);
    const fromFiles = createRegistry(config);
    expect(asData(fromData.list())).toEqual(asData(fromFiles.list()));
    expect(fromData.list().map((p) => p.id)).toContain("mycorp");
  });
});
