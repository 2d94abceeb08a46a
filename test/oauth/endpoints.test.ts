import { describe, expect, test } from "bun:test";
import { assertSecureEndpoint, hostPort, isSecureEndpoint } from "../../src/oauth/endpoints.ts";
import { expectAuthctlError } from "./_fakes.ts";

describe("isSecureEndpoint", () => {
  const cases: [string, boolean][] = [
    ["https://auth.openai.com/oauth/token", true],
    ["http://127.0.0.1:1455/auth/callback", true],
    ["http://127.9.8.7/token", true],
    ["http://localhost:8085/token", true],
    ["http://[::1]:9000/token", true],
    ["http://auth.example.com/token", false],
    ["http://localhost.example.com/token", false],
    ["http://128.0.0.1/token", false],
    ["ftp://127.0.0.1/token", false],
    ["not a url", false],
  ];
  for (const [url, expected] of cases) {
    test(`${url} is ${expected ? "accepted" : "refused"}`, () => {
      expect(isSecureEndpoint(url)).toBe(expected);
    });
  }
});

describe("assertSecureEndpoint", () => {
  test("plain http on a public host is a usage error naming the endpoint", async () => {
    await expectAuthctlError(
      () => assertSecureEndpoint("http://auth.example.com/token?x=1", "token endpoint"),
      "USAGE",
      "the token endpoint must use https (plain http is allowed only for 127.0.0.1, ::1 and localhost): http://auth.example.com",
    );
  });

  test("a relative URL is a usage error", async () => {
    await expectAuthctlError(
      () => assertSecureEndpoint("/oauth/token", "token endpoint"),
      "USAGE",
      "the token endpoint is not a valid absolute URL",
    );
  });

  test("hostPort spells out default ports", () => {
    expect(hostPort(new URL("https://auth.example.com/x"))).toBe("auth.example.com:443");
    expect(hostPort(new URL("http://127.0.0.1:8080/x"))).toBe("127.0.0.1:8080");
  });
});
