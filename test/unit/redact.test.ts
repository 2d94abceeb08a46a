import { describe, expect, test } from "bun:test";
import { maskSecret, redact, registerSecret } from "../../src/redact.ts";

// Opaque values: no sk-/eyJ/ghp_ shape a pattern could catch. Only masking by known value hides
// them, which is what a custom provider's key or an OAuth server's random token needs.
const OPAQUE_KEY = "Zq7tLm2Pw9Xc4Vb8Nn3Rr6Ty1Ua5Sd0F";
const OPAQUE_REFRESH = "r.3f9a77c1d2e84b6a9c0d5e1f2a3b4c5d";

describe("redact", () => {
  test("a registered opaque secret is masked wherever it appears, as …last4", () => {
    registerSecret(OPAQUE_KEY);
    expect(redact(`upstream said: bad key ${OPAQUE_KEY} (twice: ${OPAQUE_KEY})`)).toBe(
      "upstream said: bad key …Sd0F (twice: …Sd0F)",
    );
    expect(redact(OPAQUE_KEY)).not.toContain(OPAQUE_KEY.slice(0, 12));
  });

  test("an unregistered opaque value is left alone (it would mask ordinary words)", () => {
    expect(redact(`value ${OPAQUE_REFRESH}`)).toBe(`value ${OPAQUE_REFRESH}`);
    registerSecret(OPAQUE_REFRESH);
    expect(redact(`value ${OPAQUE_REFRESH}`)).toBe(`value ${maskSecret(OPAQUE_REFRESH)}`);
  });

  test("values shorter than 8 characters are not registered", () => {
    registerSecret("short7!");
    expect(redact("a short7! word")).toBe("a short7! word");
  });

  test("a secret containing another registered secret is masked whole", () => {
    const inner = "Inner0123456789abcdef";
    const outer = `${inner}-and-more-opaque-text`;
    registerSecret(inner);
    registerSecret(outer);
    expect(redact(`x ${outer} y`)).toBe(`x ${maskSecret(outer)} y`);
  });

  const shapes: [string, string, string][] = [
    [
      "a bearer token in a header dump",
      "Authorization: Bearer abc.DEF_ghi-123456789",
      "Authorization: Bearer ****",
    ],
    [
      "a refresh_token form field",
      "grant_type=refresh_token&refresh_token=opaqueRT123456789",
      "grant_type=refresh_token&refresh_token=****",
    ],
    ["a JSON access_token field", '{"access_token":"opaqueAT123456789"}', '{"access_token":"****"}'],
    ["an sk- key", "key sk-abcdefghijklmnopqrstuvwx", "key …uvwx"],
    ["a JWT", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "…dXJl"],
  ];
  for (const [name, input, expected] of shapes)
    test(`by shape: ${name}`, () => expect(redact(input)).toBe(expected));
});
