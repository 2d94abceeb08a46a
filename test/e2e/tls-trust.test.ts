/**
 * Company networks that inspect TLS: the binary trusts an extra CA named by NODE_EXTRA_CA_CERTS
 * (or SSL_CERT_FILE), and without it says what to set instead of a bare certificate error.
 * The servers use a test CA whose private key no longer exists (test/fakes/tls).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { startKeyApi, TEST_TLS, type KeyApi } from "../fakes/key-api.ts";
import { createSandbox, ensureBinary, expectOk, secret, type Sandbox } from "../helpers/binary.ts";

const KEY = secret("sk-or-v1-tls0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
const HINT =
  "if a proxy inspects TLS on this network, point NODE_EXTRA_CA_CERTS (or SSL_CERT_FILE) at its CA certificate";

let api: KeyApi;
let box: Sandbox;
beforeAll(async () => {
  await ensureBinary();
  api = startKeyApi({ tls: true });
});
afterAll(() => api.stop());
beforeEach(() => {
  box = createSandbox();
  box.writeConfig(
    `[providers.openrouter]\napi_url = "${api.url}/api/v1"\n[providers.mycorp]\nissuer = "${api.url}"\nclient_id = "authctl"\n`,
  );
  api.requests.length = 0;
});
afterEach(() => box.cleanup());

describe("a server whose certificate comes from a CA the system does not know", () => {
  test("key verification names NODE_EXTRA_CA_CERTS, stores the key with a warning, and sends it nowhere", async () => {
    const result = await box.run(["login", "openrouter", "--with-key"], { stdin: KEY });
    expectOk(result);
    expect(result.stderr).toContain(
      `could not verify the key (127.0.0.1:${new URL(api.url).port}'s TLS certificate is not trusted here; ${HINT}); storing it anyway`,
    );
    expect(api.requests).toEqual([]);
  });

  test.each([["NODE_EXTRA_CA_CERTS"], ["SSL_CERT_FILE"]])(
    "with %s naming the CA, the key is verified over TLS",
    async (variable) => {
      const result = await box.run(["login", "openrouter", "--with-key"], {
        stdin: KEY,
        env: { [variable]: TEST_TLS.caPath },
      });
      expectOk(result);
      expect(result.stderr).toContain("OpenRouter accepted the key");
      expect(api.requests).toHaveLength(1);
      expect(api.requests[0]).toMatchObject({ path: "/api/v1/key", authorization: `Bearer ${KEY}` });
    },
  );

  test("an OAuth login fails at discovery with the reason and the same hint", async () => {
    const result = await box.run(["login", "mycorp", "--timeout", "5"], { env: { BROWSER: "true" } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `could not reach the discovery endpoint at 127.0.0.1:${new URL(api.url).port} (TLS certificate not trusted: UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
    );
    expect(result.stderr).toContain(`→ ${HINT}`);
  });
});
