import { createHash } from "node:crypto";
import { join } from "node:path";

/**
 * A fake of GitHub's release downloads on 127.0.0.1, for install.sh and `authctl upgrade`:
 *   /releases/download/v<version>/<file>   the release's files (404 when absent)
 *   /releases/latest/download/<file>       302 to the newest release, as GitHub answers
 * A release is a map of file name → bytes; `createRelease` adds the matching SHA256SUMS.
 */
export type ReleaseFiles = Record<string, Uint8Array | string>;

export interface ReleaseServer {
  url: string;
  /** `${url}/releases`: what AUTHCTL_RELEASES_URL points at. */
  releasesUrl: string;
  /** The download directory of one version (what AUTHCTL_DOWNLOAD_URL points at). */
  downloadUrl(version: string): string;
  releases: Map<string, ReleaseFiles>;
  latest: string;
  /** Requests in order (redirects included), with the client's user agent (curl, Wget, Bun). */
  requests: { path: string; userAgent: string }[];
  /** Extra redirects, path → absolute Location: the hops of a redirect chain through other servers. */
  redirects: Map<string, string>;
  stop(): void;
}

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * The files plus a SHA256SUMS in `sha256sum` format. Files named in `tamper` are served with one
 * byte changed after their checksum was taken: what a compromised mirror or a broken proxy does.
 */
export function createRelease(files: ReleaseFiles, options: { tamper?: string[] } = {}): ReleaseFiles {
  const sums = Object.keys(files)
    .sort()
    .map((name) => `${sha256(files[name]!)}  ${name}`)
    .join("\n");
  const served: ReleaseFiles = { ...files, SHA256SUMS: `${sums}\n` };
  for (const name of options.tamper ?? []) {
    const bytes = new Uint8Array(Buffer.from(files[name]!));
    const at = bytes.length - 2;
    bytes[at] = bytes[at]! ^ 0x20;
    served[name] = bytes;
  }
  return served;
}

/** A stand-in binary for install.sh cases: a shell script that prints its version. */
export function fakeBinary(version: string): string {
  return `#!/bin/sh\necho ${version}\n`;
}

/** The test CA and the server certificate it signed (127.0.0.1 and localhost); see test/fakes/tls. */
export const RELEASE_TLS = {
  caPath: join(import.meta.dir, "tls", "ca.pem"),
  cert: join(import.meta.dir, "tls", "server.pem"),
  key: join(import.meta.dir, "tls", "server.key"),
};

export interface ReleaseServerOptions {
  /** Serve HTTPS with the test certificate (clients must trust RELEASE_TLS.caPath). */
  tls?: boolean;
  /** Another loopback address (127.0.0.2 stands for a host that is not on the allow-list). */
  hostname?: string;
}

export function startReleaseServer(
  latest: string,
  releases: Record<string, ReleaseFiles> = {},
  options: ReleaseServerOptions = {},
): ReleaseServer {
  const requests: { path: string; userAgent: string }[] = [];
  const redirects = new Map<string, string>();
  const state = { latest, releases: new Map(Object.entries(releases)) };
  const hostname = options.hostname ?? "127.0.0.1";
  const server = Bun.serve({
    hostname,
    port: 0,
    tls: options.tls ? { cert: Bun.file(RELEASE_TLS.cert), key: Bun.file(RELEASE_TLS.key) } : undefined,
    fetch(req) {
      const path = new URL(req.url).pathname;
      requests.push({ path, userAgent: req.headers.get("user-agent") ?? "" });
      const hop = redirects.get(path);
      if (hop) return Response.redirect(hop, 302);
      const latestMatch = /^\/releases\/latest\/download\/([^/]+)$/.exec(path);
      if (latestMatch)
        return Response.redirect(
          new URL(`/releases/download/v${state.latest}/${latestMatch[1]}`, req.url).href,
          302,
        );
      const match = /^\/releases\/download\/v([^/]+)\/([^/]+)$/.exec(path);
      const body = match ? state.releases.get(match[1]!)?.[match[2]!] : undefined;
      if (body === undefined) return new Response("Not Found", { status: 404 });
      return new Response(body, { headers: { "content-type": "application/octet-stream" } });
    },
  });
  const url = `${options.tls ? "https" : "http"}://${hostname}:${server.port}`;
  return {
    url,
    releasesUrl: `${url}/releases`,
    downloadUrl: (version) => `${url}/releases/download/v${version}`,
    get releases() {
      return state.releases;
    },
    get latest() {
      return state.latest;
    },
    set latest(value: string) {
      state.latest = value;
    },
    requests,
    redirects,
    stop: () => server.stop(true),
  };
}
