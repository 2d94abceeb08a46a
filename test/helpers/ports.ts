/**
 * Some tests need a provider's fixed loopback port (OpenAI's registered 1455/1457): the fake, like
 * the real allow-list, accepts no other. When another program holds the port, those tests would
 * fail in some obscure later step; this says at once which port, who holds it (when `ss` can
 * tell), and what to do.
 */
export function requirePortFree(port: number, why: string): void {
  let server: { stop(closeActiveConnections?: boolean): void } | undefined;
  try {
    server = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
  } catch (error) {
    const ss = Bun.which("ss")
      ? Bun.spawnSync(["ss", "-Hltnp", `sport = :${port}`])
          .stdout.toString()
          .trim()
      : "";
    const holder = /users:\(\("([^"]+)",pid=(\d+)/.exec(ss);
    throw new Error(
      `port ${port} on 127.0.0.1 is taken${holder ? ` by ${holder[1]} (pid ${holder[2]})` : ""} (${(error as Error).message}); ` +
        `${why}. Stop that program (or another test run using it) and run the tests again.`,
    );
  } finally {
    server?.stop(true);
  }
}
