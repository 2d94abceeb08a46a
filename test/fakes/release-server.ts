import { createHash } from "node:crypto";

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

export function startReleaseServer(latest: string, releases: Record<string, ReleaseFiles> = {}): ReleaseServer {
  const requests: { path: string; userAgent: string }[] = [];
  const state = { latest, releases: new Map(Object.entries(releases)) };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      requests.push({ path, userAgent: req.headers.get("user-agent") ?? "" });
      const latestMatch = /^\/releases\/latest\/download\/([^/]+)$/.exec(path);
      if (latestMatch) return Response.redirect(new URL(`/releases/download/v${state.latest}/${latestMatch[1]}`, req.url).href, 302);
      const match = /^\/releases\/download\/v([^/]+)\/([^/]+)$/.exec(path);
      const body = match ? state.releases.get(match[1]!)?.[match[2]!] : undefined;
      if (body === undefined) return new Response("Not Found", { status: 404 });
      return new Response(body, { headers: { "content-type": "application/octet-stream" } });
    },
  });
  const url = `http://127.0.0.1:${server.port}`;
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
    stop: () => server.stop(true),
  };
}
