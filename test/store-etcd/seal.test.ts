/**
 * What the team store's sealing binds (issue 21), each binding on its own: the record MAC binds
 * prefix and id (provider and account), and each sealed value's additional data binds prefix,
 * provider, account and field, so either alone stops a record or value moved between accounts.
 * Through the binary the two guard each other; here each is checked without the other.
 */
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { canonicalJson } from "../../src/store/_secret-fields.ts";
import { createTeamKey, openRecord, sealRecord } from "../../src/store/etcd/seal.ts";
import type { StoredCredential } from "../../src/store/types.ts";

const key = createTeamKey(Buffer.alloc(32, 3), "test");
const PREFIX = "/authctl/team/";

describe("the record MAC binds prefix, provider and account", () => {
  test("a record with no sealed value opens only under the id and prefix it was written for", () => {
    // No secret in it: only the MAC stands between it and another account.
    const record = {
      type: "oauth",
      method: "oauth",
      needs_login: true,
      extra: { token_url: "https://auth.example/token" },
    } as unknown as StoredCredential;
    const text = sealRecord(key, PREFIX, "openrouter@work", record);
    expect(openRecord(key, PREFIX, "openrouter@work", text)).toBeDefined();
    for (const [prefix, id] of [
      [PREFIX, "openrouter@home"],
      [PREFIX, "openrouter"],
      [PREFIX, "anthropic@work"],
      ["/authctl/other/", "openrouter@work"],
    ])
      expect(openRecord(key, prefix!, id!, text)).toBeUndefined();
  });
});

describe("each sealed value's additional data binds provider and account", () => {
  test("a value sealed for openrouter@work, in a record whose MAC is right for openrouter@home, does not open", () => {
    const work = JSON.parse(
      sealRecord(key, PREFIX, "openrouter@work", {
        type: "api_key",
        method: "key",
        key: "sk-or-work",
      } as unknown as StoredCredential),
    ) as Record<string, unknown>;
    // Someone holding the MAC key alone (not the case in practice) re-MACs it for another account:
    // the MAC as seal.ts computes it.
    const { mac: _old, ...rest } = work;
    const input = `authctl:etcd:v1:record\n${PREFIX}\nopenrouter@home\n${canonicalJson(rest as unknown as StoredCredential)}`;
    const moved: Record<string, unknown> = {
      ...rest,
      mac: `hmac-sha256:${createHmac("sha256", key.macKey).update(input).digest("base64")}`,
    };
    // The re-MAC is right (a record without the sealed value opens with it)…
    const { key: _sealed, mac: _m, ...noSecret } = moved;
    const input2 = `authctl:etcd:v1:record\n${PREFIX}\nopenrouter@home\n${canonicalJson(noSecret as unknown as StoredCredential)}`;
    const control = {
      ...noSecret,
      mac: `hmac-sha256:${createHmac("sha256", key.macKey).update(input2).digest("base64")}`,
    };
    expect(openRecord(key, PREFIX, "openrouter@home", JSON.stringify(control))).toBeDefined();
    // …but the sealed value is bound to openrouter@work.
    expect(openRecord(key, PREFIX, "openrouter@home", JSON.stringify(moved))).toBeUndefined();
    expect(openRecord(key, PREFIX, "openrouter@work", JSON.stringify(work))?.key).toBe("sk-or-work");
  });
});
