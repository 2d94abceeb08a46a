import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { FAKE_CLIENT_ID, fakeIdToken, startOAuthFake, type OAuthFake } from "../fakes/oauth-fake.ts";
import {
  createSandbox,
  ensureBinary,
  ROOT,
  writeScript,
  type Sandbox,
  writeFollowingBrowser,
} from "../helpers/binary.ts";

/**
 * ID tokens (issue 14.3, OIDC Core §3.1.3.7) through the binary, from a token endpoint that
 * mints whatever id_token the test asks for.
 */
const boxes: Sandbox[] = [];
const fakes: OAuthFake[] = [];
afterEach(() => {
  for (const b of boxes.splice(0)) b.cleanup();
  for (const f of fakes.splice(0)) f.stop();
});
beforeAll(() => ensureBinary());

function setup(idToken: NonNullable<Parameters<typeof startOAuthFake>[0]>["idToken"]) {
  const fake = startOAuthFake({ idToken });
  fakes.push(fake);
  const box = createSandbox();
  boxes.push(box);
  box.writeConfig(
    `[providers.mycorp]\nname = "MyCorp"\nissuer = "${fake.url}"\nclient_id = "${FAKE_CLIENT_ID}"\nscopes = ["openid", "email"]\nenv = { MYCORP_TOKEN = "access_token", MYCORP_ID_TOKEN = "id_token" }\n`,
  );
  const browser = writeFollowingBrowser(box.root);
  return { fake, box, env: { BROWSER: browser } };
}

const stored = (box: Sandbox) =>
  existsSync(join(box.home, "credentials.toml"))
    ? (parse(readFileSync(join(box.home, "credentials.toml"), "utf8")) as Record<
        string,
        Record<string, unknown>
      >)
    : {};

const nowS = () => Math.floor(Date.now() / 1000);
type Ctx = { nonce?: string; issuer: string; clientId: string };
const good = (c: Ctx, over: Record<string, unknown> = {}) => ({
  iss: c.issuer,
  sub: "user-1",
  aud: c.clientId,
  exp: nowS() + 3600,
  iat: nowS(),
  nonce: c.nonce,
  email: "user@example.test",
  ...over,
});

describe("ID tokens from a login", () => {
  test("the attack from the issue: alg none, a foreign iss, another aud, exp 1 — refused, nothing stored, the email never shown", async () => {
    const { box, env } = setup((c) =>
      fakeIdToken(
        {
          iss: "https://evil.example",
          sub: "x",
          aud: "someone-else",
          exp: 1,
          iat: 1,
          email: "ceo@victim.example",
        },
        { alg: "none" },
      ),
    );
    const login = await box.run(["login", "mycorp"], { env });
    expect(login.stderr).toContain(`the provider's ID token is not valid: it is unsigned (alg "none")`);
    expect(login.code).toBe(1);
    expect(login.stderr).not.toContain("ceo@victim.example");
    expect(stored(box).mycorp).toBeUndefined();
  });

  const refusals: Array<[string, (c: Ctx) => string, string]> = [
    [
      "another issuer",
      (c) => fakeIdToken(good(c, { iss: "https://evil.example" })),
      'it was issued by "https://evil.example", not by',
    ],
    [
      "another audience",
      (c) => fakeIdToken(good(c, { aud: ["other-client"] })),
      `it was issued to another client, not to ${FAKE_CLIENT_ID}`,
    ],
    [
      "an azp naming another client",
      (c) => fakeIdToken(good(c, { aud: [c.clientId, "other"], azp: "other" })),
      `its "azp" names another client`,
    ],
    ["an expired token", (c) => fakeIdToken(good(c, { exp: nowS() - 3600 })), "it has expired"],
    ["no iat", (c) => fakeIdToken(good(c, { iat: undefined })), 'the "iat" claim is missing'],
    [
      "another request's nonce",
      (c) => fakeIdToken(good(c, { nonce: "replayed-nonce" })),
      "its nonce is not this login's",
    ],
    ["no nonce", (c) => fakeIdToken(good(c, { nonce: undefined })), "it carries no nonce"],
    ["alg NONE in capitals", (c) => fakeIdToken(good(c), { alg: "NONE" }), 'it is unsigned (alg "none")'],
  ];
  for (const [name, mint, message] of refusals) {
    test(`refuses an ID token with ${name}`, async () => {
      const { box, env } = setup((c) => (c.grant === "authorization_code" ? mint(c) : undefined));
      const login = await box.run(["login", "mycorp"], { env });
      expect(login.stderr).toContain(message);
      expect(login.code).toBe(1);
      expect(stored(box).mycorp).toBeUndefined();
    });
  }

  test("a valid token: a nonce went out and came back, and the email is shown without its terminal escapes", async () => {
    const { fake, box, env } = setup((c) =>
      fakeIdToken(good(c, { email: "us\u001b[2J\u001b]0;pwned\u0007er\u202e@example.test" })),
    );
    const login = await box.run(["login", "mycorp"], { env });
    expect(login.code).toBe(0);
    const nonce = fake.requests.find((r) => r.path === "/authorize")?.query.nonce;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(nonce).not.toBe(fake.requests.find((r) => r.path === "/authorize")?.query.state);
    expect(login.stderr).toContain("logged in to MyCorp as user@example.test");
    expect(login.stderr).not.toContain("\u001b");
    expect(stored(box).mycorp!.account).toBe("user@example.test");
  });

  test("a refresh that returns no ID token drops an expired one instead of exporting it", async () => {
    // Within the 30 s clock tolerance at login, expired by the time of the refresh.
    const { fake, box, env } = setup((c) =>
      c.grant === "authorization_code" ? fakeIdToken(good(c, { exp: nowS() - 5 })) : undefined,
    );
    expect((await box.run(["login", "mycorp"], { env })).code).toBe(0);
    expect(typeof stored(box).mycorp!.id_token).toBe("string");
    fake.options.accessTokenTtl = 7200;
    const token = await box.run(["token", "mycorp", "--min-ttl", "90m"]);
    expect(token.code).toBe(0);
    expect(fake.counts.refresh).toBe(1);
    expect(stored(box).mycorp!.id_token).toBeUndefined();
    const envOut = await box.run(["env", "mycorp"]);
    expect(envOut.stdout).not.toContain("MYCORP_ID_TOKEN='ey");
  });

  test("a refresh that returns no ID token keeps a current one", async () => {
    const { fake, box, env } = setup((c) =>
      c.grant === "authorization_code" ? fakeIdToken(good(c)) : undefined,
    );
    expect((await box.run(["login", "mycorp"], { env })).code).toBe(0);
    const before = stored(box).mycorp!.id_token;
    fake.options.accessTokenTtl = 7200;
    expect((await box.run(["token", "mycorp", "--min-ttl", "90m"])).code).toBe(0);
    expect(stored(box).mycorp!.id_token).toBe(before);
  });
});
