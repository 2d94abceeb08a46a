/**
 * A token endpoint that answers refresh_token grants exactly as a test scripts them, for the
 * refresh rules (src/actions/refresh.ts) that an honest server will not exercise on demand: a
 * shorter `expires_in` than before, none at all, a 503, a connection cut after the request
 * arrived, a 200 that rotates the refresh token but carries a token authctl must refuse.
 *
 * Like oidc-provider with rotation on, a refresh token works once; presenting a spent one answers
 * invalid_grant and revokes the whole grant (every token issued from it), which is why a client
 * must never lose a rotated refresh token (RFC 9700 §4.14.2).
 *
 *   const fake = startRefreshFake();
 *   const { accessToken, refreshToken } = fake.grant(3600);   // a grant to start the store with
 *   fake.script.push({ expiresIn: 1 }, "reset");               // the next two refreshes
 *
 * Each refresh request takes the next scripted answer (default: a normal rotation). Served over
 * node:http so that "reset" can destroy the socket after the request has been read.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hex } from "./_kit.ts";

export const REFRESH_FAKE_CLIENT_ID = "refresh-fake-client";

export type RefreshAnswer =
  | {
      /** seconds; null leaves expires_in out of the answer (default: the grant's lifetime) */
      expiresIn?: number | null;
      /** default "Bearer" */
      tokenType?: string;
      /** default true: a new refresh token, the presented one is spent */
      rotate?: boolean;
    }
  | "reset" // read the request (the grant is processed: rotated), then cut the connection
  | "unavailable" // 503 {error: "temporarily_unavailable"}; nothing is spent
  | "invalid_grant"; // 400 invalid_grant; nothing is spent

interface Grant {
  id: number;
  ttl: number;
  revoked: boolean;
}

export interface RefreshFake {
  /** http://127.0.0.1:<port>; the token endpoint is `${url}/token`, the API check `${url}/me` */
  url: string;
  tokenUrl: string;
  /** answers for the coming refresh requests, taken in order */
  script: RefreshAnswer[];
  /** refresh requests seen, whatever they were answered */
  refreshes: number;
  /** the refresh token each refresh request presented, in order */
  presented: string[];
  issued: { accessTokens: string[]; refreshTokens: string[] };
  /** A new grant with tokens that live `ttl` seconds, as a login would have made. */
  grant(ttl?: number): { accessToken: string; refreshToken: string };
  /** True while the access token is one this server issued, unexpired, from a grant not revoked. */
  isLive(accessToken: string): boolean;
  stop(): Promise<void>;
}

export function startRefreshFake(): Promise<RefreshFake> {
  const access = new Map<string, { grant: Grant; expiresAt: number }>();
  const refresh = new Map<string, { grant: Grant; spent: boolean }>();
  let grants = 0;
  const server = createServer(handle);
  const fake: RefreshFake = {
    url: "",
    tokenUrl: "",
    script: [],
    refreshes: 0,
    presented: [],
    issued: { accessTokens: [], refreshTokens: [] },
    grant(ttl = 3600) {
      const grant: Grant = { id: ++grants, ttl, revoked: false };
      return { accessToken: newAccess(grant, ttl), refreshToken: newRefresh(grant) };
    },
    isLive(token) {
      const record = access.get(token);
      return record !== undefined && !record.grant.revoked && Date.now() < record.expiresAt;
    },
    stop: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };

  function newAccess(grant: Grant, ttl: number): string {
    const token = `rf-at-${hex(16)}`;
    access.set(token, { grant, expiresAt: Date.now() + ttl * 1000 });
    fake.issued.accessTokens.push(token);
    return token;
  }
  function newRefresh(grant: Grant): string {
    const token = `rf-rt-${hex(16)}`;
    refresh.set(token, { grant, spent: false });
    fake.issued.refreshTokens.push(token);
    return token;
  }

  function json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  }

  function token(body: URLSearchParams, res: ServerResponse): void {
    if (body.get("client_id") !== REFRESH_FAKE_CLIENT_ID) return json(res, 401, { error: "invalid_client" });
    if (body.get("grant_type") !== "refresh_token")
      return json(res, 400, { error: "unsupported_grant_type" });
    fake.refreshes += 1;
    const presented = body.get("refresh_token") ?? "";
    fake.presented.push(presented);
    const answer = fake.script.shift() ?? {};
    if (answer === "unavailable")
      return json(res, 503, { error: "temporarily_unavailable", error_description: "try again later" });
    if (answer === "invalid_grant")
      return json(res, 400, { error: "invalid_grant", error_description: "grant request is invalid" });
    const record = refresh.get(presented);
    if (!record || record.grant.revoked)
      return json(res, 400, { error: "invalid_grant", error_description: "grant request is invalid" });
    if (record.spent) {
      // Replay of a rotated refresh token: the grant is compromised, revoke all of it.
      record.grant.revoked = true;
      return json(res, 400, { error: "invalid_grant", error_description: "refresh token already used" });
    }
    const rotate = answer === "reset" || answer.rotate !== false;
    if (rotate) record.spent = true;
    const nextRefresh = rotate ? newRefresh(record.grant) : presented;
    const expiresIn =
      answer === "reset" || answer.expiresIn === undefined ? record.grant.ttl : answer.expiresIn;
    const accessToken = newAccess(record.grant, expiresIn ?? record.grant.ttl);
    if (answer === "reset") {
      res.socket?.destroy();
      return;
    }
    const out: Record<string, unknown> = {
      access_token: accessToken,
      token_type: answer.tokenType ?? "Bearer",
      refresh_token: nextRefresh,
    };
    if (expiresIn !== null) out.expires_in = expiresIn;
    json(res, 200, out);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (req.method === "POST" && path === "/token")
        return token(new URLSearchParams(Buffer.concat(chunks).toString()), res);
      if (path === "/me") {
        const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
        return bearer && fake.isLive(bearer)
          ? json(res, 200, { sub: "fake-user" })
          : json(res, 401, { error: "invalid_token" });
      }
      json(res, 404, { error: "not_found" });
    });
  }

  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      fake.tokenUrl = `${fake.url}/token`;
      resolve(fake);
    });
  });
}
