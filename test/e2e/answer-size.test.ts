/**
 * How much of a server's answer authctl reads (src/io/http.ts MAX_ANSWER_BYTES): an OAuth server
 * named in config.toml that streams without end must not fill memory until the timeout.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createSandbox, ensureBinary } from "../helpers/binary.ts";

const MIB = 1024 * 1024;
const chunk = new Uint8Array(MIB).fill(32); // spaces: JSON whitespace, never a complete document
let sent = 0;
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch() {
    let n = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        // 64 MiB at most, so that a client without a bound still finishes (and fails the test).
        if (n++ >= 64) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  },
});
beforeAll(() => ensureBinary());
afterAll(() => server.stop(true));

test("a discovery answer that does not end is read to 16 MiB, then login stops with one line naming the endpoint", async () => {
  const box = createSandbox();
  try {
    box.writeConfig(`[providers.endless]\nissuer = "http://127.0.0.1:${server.port}"\nclient_id = "x"\n`);
    const result = await box.run(["login", "endless", "--no-browser", "--timeout", "5"]);
    expect(result.code).toBe(1);
    // It stopped reading: the server was not drained of all it had to send.
    expect(sent).toBeLessThan(48 * MIB);
    expect(result.stderr).toBe(
      `authctl: the discovery endpoint at 127.0.0.1:${server.port} answered more than 16 MiB; authctl stopped reading\n`,
    );
  } finally {
    box.cleanup();
  }
}, 30_000);
