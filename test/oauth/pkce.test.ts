import { describe, expect, test } from "bun:test";
import { base64url, computeS256Challenge, createPkce, createState } from "../../src/oauth/pkce.ts";
import { createCountingRandom, expectAuthctlError } from "./_fakes.ts";

// RFC 7636 Appendix B: the octets, the verifier they encode to, and its S256 challenge.
const RFC_7636_OCTETS = [
  116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214, 191,
  240, 91, 88, 5, 88, 83, 132, 141, 121,
];
const RFC_7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

describe("PKCE", () => {
  test("the verifier and challenge match the RFC 7636 Appendix B test vector", () => {
    const pkce = createPkce(() => Uint8Array.from(RFC_7636_OCTETS));
    expect(pkce).toEqual({ verifier: RFC_7636_VERIFIER, challenge: RFC_7636_CHALLENGE, method: "S256" });
    expect(computeS256Challenge(RFC_7636_VERIFIER)).toBe(RFC_7636_CHALLENGE);
  });

  test("the verifier is 43 base64url characters without padding", () => {
    const { verifier } = createPkce(createCountingRandom());
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test("state is drawn separately and differs from the verifier", () => {
    const random = createCountingRandom();
    const pkce = createPkce(random);
    const state = createState(random);
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(state).not.toBe(pkce.verifier);
    expect(state).not.toBe(pkce.challenge);
  });

  test("state is the random source's 32 bytes, fresh on every call", () => {
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
    expect(createState(() => bytes)).toBe(base64url(bytes));
    const seen = new Set(
      Array.from({ length: 8 }, () => createState((n) => crypto.getRandomValues(new Uint8Array(n)))),
    );
    expect(seen.size).toBe(8);
  });

  test("a random source that returns too few bytes is refused", async () => {
    await expectAuthctlError(
      () => createPkce(() => new Uint8Array(16)),
      "INTERNAL",
      "the random source returned 16 bytes instead of 32",
    );
  });

  test("base64url uses - and _ and drops padding", () => {
    expect(base64url(Uint8Array.from([0xfb, 0xff]))).toBe("-_8");
    expect(base64url(new Uint8Array())).toBe("");
  });
});
