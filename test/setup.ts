/**
 * Tests never reach the real network: a request to anything but a loopback address fails the
 * test that made it. Subprocesses (the compiled binary) are pointed at loopback fakes through
 * config.toml instead.
 */
const realFetch = globalThis.fetch;
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}
const guardedFetch = (async (input: string | URL | Request, init?: RequestInit) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (!isLoopbackHost(url.hostname)) {
    throw new Error(`test tried to reach the real network: ${url.origin} (only 127.0.0.1 fakes are allowed)`);
  }
  return realFetch(input, init);
}) as typeof fetch;
globalThis.fetch = Object.assign(guardedFetch, { preconnect: () => {} }) as typeof fetch;
