import { describe, expect, test } from "bun:test";
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { hkdfSha256, hmacSha256, sameMac, sha256Base64 } from "../../src/store/_integrity.ts";
import { canonicalJson } from "../../src/store/_secret-fields.ts";
import { type Manifest, openManifest, recordTag, sealManifest } from "../../src/store/etcd/manifest.ts";
import { createTeamKey, openRecord, sealRecord } from "../../src/store/etcd/seal.ts";
import type { StoredCredential } from "../../src/store/types.ts";
import { callsDuring, GATEWAY_KEY, teamStoreOnGateway } from "../helpers/etcd-gateway.ts";
import fixture from "./fixtures/etcd-sealed-v1.json";

// The team store's read path (store/etcd/seal.ts, manifest.ts, the store's open()) runs before
// every `env`, `token` and `exec` on it, and used node:crypto, which costs a compiled binary about
// 8 MiB of memory and several milliseconds to load (issue 18). It now uses the runtime's own
// SHA-256 and HMAC (store/_integrity.ts), HKDF built from that HMAC, and AES-GCM through
// crypto.subtle opened ahead (store/_aead.ts). Each must give node:crypto's bytes exactly: stores
// written before must read, and what is written now must read with the earlier code.

// A fixed generator, so a failure names an input that can be made again.
let seed = 0x2545f491;
function bytes(length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    out[i] = seed >>> 24;
  }
  return out;
}
const LENGTHS = [1, 2, 16, 31, 32, 33, 63, 64, 65, 100, 128, 129, 200];

describe("the runtime's primitives give node:crypto's bytes", () => {
  test("hmacSha256: keys shorter and longer than SHA-256's 64-byte block, text and byte inputs", () => {
    const texts = [
      "",
      "a",
      "authctl:etcd:v1:record-mac-key",
      "café — ✓ 😀",
      "\uD800 lone",
      "x".repeat(70_000),
    ];
    let checked = 0;
    for (const keyLength of LENGTHS) {
      for (let round = 0; round < 8; round++) {
        const key = bytes(keyLength);
        for (const text of texts) {
          expect(hmacSha256(key, text).toString("hex")).toBe(
            createHmac("sha256", key).update(text).digest("hex"),
          );
          checked++;
        }
        const input = bytes(round * 37);
        expect(hmacSha256(key, input).toString("hex")).toBe(
          createHmac("sha256", key).update(input).digest("hex"),
        );
        checked++;
      }
    }
    expect(checked).toBe(LENGTHS.length * 8 * (texts.length + 1));
  });

  test("sha256Base64 for records and their tags: node:crypto's SHA-256 in base64", () => {
    for (let round = 0; round < 200; round++) {
      const text = `${bytes(round * 3).toString("latin1")}${round % 2 ? "é✓" : ""}`;
      expect(sha256Base64(text)).toBe(createHash("sha256").update(text).digest("base64"));
      expect(recordTag(text)).toBe(`sha256:${createHash("sha256").update(text).digest("base64")}`);
    }
  });

  test("hkdfSha256 is hkdfSync: empty and non-empty salt and info, every length up to 255 blocks", () => {
    const salts = [Buffer.alloc(0), bytes(1), bytes(13), bytes(32), bytes(64), bytes(80)];
    const infos = ["", "authctl:etcd:v1:manifest-mac-key", "café ✓", bytes(50)];
    for (const ikmLength of [1, 22, 32, 80])
      for (const salt of salts)
        for (const info of infos)
          for (const length of [1, 16, 31, 32, 33, 42, 64, 65, 100]) {
            const ikm = bytes(ikmLength);
            expect(hkdfSha256(ikm, salt, info, length).toString("hex")).toBe(
              Buffer.from(hkdfSync("sha256", ikm, salt, info, length)).toString("hex"),
            );
          }
    const ikm = bytes(32);
    expect(
      hkdfSha256(ikm, Buffer.alloc(0), "x", 255 * 32).equals(
        Buffer.from(hkdfSync("sha256", ikm, "", "x", 255 * 32)),
      ),
    ).toBe(true);
    expect(() => hkdfSha256(ikm, Buffer.alloc(0), "x", 255 * 32 + 1)).toThrow(RangeError);
  });

  // RFC 5869 Appendix A, test cases 1 (salt and info) and 3 (empty salt and info: the salt is
  // HashLen zeros, as the team store's manifest key uses it).
  test("hkdfSha256 gives RFC 5869's test cases 1 and 3", () => {
    const ikm = Buffer.alloc(22, 0x0b);
    expect(
      hkdfSha256(
        ikm,
        Buffer.from("000102030405060708090a0b0c", "hex"),
        Buffer.from("f0f1f2f3f4f5f6f7f8f9", "hex"),
        42,
      ).toString("hex"),
    ).toBe("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    expect(hkdfSha256(ikm, Buffer.alloc(0), Buffer.alloc(0), 42).toString("hex")).toBe(
      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    );
  });

  test("sameMac answers as timingSafeEqual over equal lengths, and false for other lengths", () => {
    const macs = Array.from(
      { length: 40 },
      (_, i) => `hmac-sha256:${bytes(32).toString("base64")}${i % 5 ? "" : "é"}`,
    );
    for (const a of macs)
      for (const b of [
        a,
        ...macs.slice(0, 8),
        a.slice(0, -1),
        `${a}=`,
        `${a.slice(0, -1)}${a.at(-1) === "A" ? "B" : "A"}`,
      ]) {
        const same =
          Buffer.byteLength(a) === Buffer.byteLength(b) && timingSafeEqual(Buffer.from(a), Buffer.from(b));
        expect(sameMac(a, b)).toBe(same);
      }
  });
});

describe("the team store's formats are those written before", () => {
  const key = createTeamKey(Buffer.from(fixture.raw, "base64"), "fixture");
  const PREFIX = "/authctl/fixture/";

  test("the record and manifest MAC keys are the earlier createHmac and hkdfSync derivations", () => {
    expect(key.macKey.toString("base64")).toBe(fixture.macKey);
    expect(key.manifestKey.toString("base64")).toBe(fixture.manifestKey);
    for (let round = 0; round < 50; round++) {
      const raw = randomBytes(32);
      const k = createTeamKey(raw, "random");
      expect(
        k.macKey.equals(createHmac("sha256", raw).update("authctl:etcd:v1:record-mac-key").digest()),
      ).toBe(true);
      expect(
        k.manifestKey.equals(
          Buffer.from(hkdfSync("sha256", raw, Buffer.alloc(0), "authctl:etcd:v1:manifest-mac-key", 32)),
        ),
      ).toBe(true);
    }
  });

  test("records and a manifest written by the earlier code open, and the same manifest is written byte for byte", () => {
    // test/unit/fixtures/etcd-sealed-v1.json was written by seal.ts and manifest.ts on node:crypto.
    const records = fixture.records as Record<string, string>;
    expect(openRecord(key, PREFIX, "openrouter@work", records["openrouter@work"]!)).toMatchObject({
      key: "sk-or-v1-fixture0123456789abcdef",
    });
    expect(openRecord(key, PREFIX, "github-copilot", records["github-copilot"]!)).toMatchObject({
      access_token: "gho_fixtureABCDEF",
      refresh_token: "ghr_fixtureABCDEF",
      account: "octo café ✓",
      extra: { host: "github.com", copilot_token: "tid=fixture;exp=1" },
    });
    const manifest = openManifest(key, PREFIX, fixture.manifest) as Manifest;
    expect(manifest.records).toEqual({
      "openrouter@work": recordTag(records["openrouter@work"]!),
      "github-copilot": recordTag(records["github-copilot"]!),
    });
    // Key order as the earlier code wrote it (the tags in insertion order).
    const again: Manifest = { ...manifest, records: JSON.parse(fixture.manifest).records };
    expect(sealManifest(key, PREFIX, again)).toBe(fixture.manifest);
    // A record sealed now carries the MAC the earlier code computed for it, with node:crypto.
    const text = sealRecord(key, PREFIX, "openrouter@work", {
      method: "key",
      type: "api_key",
      key: "sk-x",
      created_at: 1,
      updated_at: 1,
    } as StoredCredential);
    const { mac, ...rest } = JSON.parse(text) as Record<string, unknown>;
    const input = `authctl:etcd:v1:record\n${PREFIX}\nopenrouter@work\n${canonicalJson(rest as unknown as StoredCredential)}`;
    const macKey = createHmac("sha256", Buffer.from(fixture.raw, "base64"))
      .update("authctl:etcd:v1:record-mac-key")
      .digest();
    expect(mac).toBe(`hmac-sha256:${createHmac("sha256", macKey).update(input).digest("base64")}`);
  });

  test("one character changed anywhere in a record's MAC, or in the manifest's, does not verify", () => {
    const text = (fixture.records as Record<string, string>)["openrouter@work"]!;
    const mac = (JSON.parse(text) as { mac: string }).mac;
    for (let i = "hmac-sha256:".length; i < mac.length - 1; i += 3) {
      const altered = `${mac.slice(0, i)}${mac[i] === "A" ? "B" : "A"}${mac.slice(i + 1)}`;
      expect(openRecord(key, PREFIX, "openrouter@work", text.replace(mac, altered))).toBeUndefined();
      const manifestMac = (JSON.parse(fixture.manifest) as { mac: string }).mac;
      const alteredManifest = `${manifestMac.slice(0, i)}${manifestMac[i] === "A" ? "B" : "A"}${manifestMac.slice(i + 1)}`;
      expect(
        openManifest(key, PREFIX, fixture.manifest.replace(manifestMac, alteredManifest)),
      ).toBeUndefined();
    }
    // A MAC as long in characters but not in bytes made timingSafeEqual throw; it is refused.
    expect(
      openRecord(key, PREFIX, "openrouter@work", text.replace(mac, `${mac.slice(0, -1)}é`)),
    ).toBeUndefined();
  });
});

// What `env` on the team store does when nothing is due: one range request (answered here by a
// stand-in for etcd's JSON gateway, test/helpers/etcd-gateway.ts), then every record opened and
// checked against the manifest, counting the node:crypto functions it calls.
describe("env on the team store", () => {
  test("opens, verifies and prints the credential without calling node:crypto", async () => {
    const { t, requests, runEnv } = teamStoreOnGateway();
    try {
      // The first read on a machine records the store's generation (etcd-seen.json); the hot
      // path's usual read, measured next, finds it recorded and writes nothing.
      await runEnv();
      const calls = await callsDuring(["node:crypto"], runEnv);
      expect(t.stdout()).toBe(`export OPENROUTER_API_KEY='${GATEWAY_KEY}'\n`.repeat(2));
      expect(requests.map((request) => request.url)).toEqual(
        Array(2).fill("http://127.0.0.1:2379/v3/kv/range"),
      );
      expect(calls).toEqual([]);
    } finally {
      t.cleanup();
    }
  });
});
