import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { sha256Base64 } from "../../src/store/_integrity.ts";

// Keyring items carry a digest of their record (store/_external-item.ts metaDigest) written by earlier
// versions through node:crypto; the runtime's hasher that replaced it (issue 18) must give the same
// text for every record, non-ASCII and lone surrogates included.
test("sha256Base64 is node:crypto's SHA-256 in base64, for any text", () => {
  for (const text of ["", "authctl:keyring-record\n{}", "café — ✓ 😀", "\uD800 lone", "x".repeat(100_000)])
    expect(sha256Base64(text)).toBe(createHash("sha256").update(text).digest("base64"));
});
