import type { Socket } from "bun";
import { refusalBody } from "./admission.ts";

/**
 * How many client connections the proxy holds at once. Anyone on the machine can connect to
 * 127.0.0.1:PORT, and every connection is a descriptor and some memory in authctl: without a cap,
 * a few thousand idle connections used up the descriptors (the child's own requests then timed
 * out) and the accept loop spun a core at EMFILE (measured with `ulimit -n 1024`).
 *
 * 256 because a client connection with a request in flight holds an upstream connection too:
 * 256 + 256 (+ the upstream pool's idle ones, a few of authctl's own) stays under 1024, the
 * common hard limit in containers (Bun raises the soft limit to the hard one at start). nginx's
 * default `worker_connections 512` counts upstream connections as well, so a default nginx
 * reverse proxy serves the same 256 clients. One child rarely has more than a few dozen
 * requests in flight; Bun's fetch sends at most 256 at once (BUN_CONFIG_MAX_HTTP_REQUESTS).
 */
export const MAX_CLIENT_CONNECTIONS = 256;

/** What a connection beyond the cap gets, before it is closed. */
const OVERLOADED = (() => {
  const body = refusalBody(`too many connections (${MAX_CLIENT_CONNECTIONS} requests in flight); try again`);
  return Buffer.from(
    `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`,
  );
})();

/** What makeRoom needs of a connection. */
export interface Evictable {
  /** True while nothing of the child's is in flight on it (waiting for a head, or idle). */
  evictable(): boolean;
  /** Closes it at once. */
  evict(): void;
}

/**
 * At the cap, closes the oldest connection that has no request in flight — one waiting for its
 * first head or idle between kept-alive requests — as nginx closes its "reusable" connections
 * when it runs out (ngx_drain_connections). So a flood from another local user only ever
 * replaces itself, and the child's requests in flight are never touched; a kept-alive connection
 * of the child's may be closed while idle, which HTTP clients expect and reconnect from.
 * False when every connection has a request in flight. Runs only at the cap: one pass over at
 * most MAX_CLIENT_CONNECTIONS (a Set iterates in insertion order, so the first found is the oldest).
 */
export function makeRoom<T extends Evictable>(clients: Set<Socket<T>>): boolean {
  for (const socket of clients) {
    const client = socket.data;
    if (!client?.evictable()) continue;
    clients.delete(socket);
    client.evict();
    return true;
  }
  return false;
}

/**
 * A connection beyond the cap: a 503 and closed at once, before anything is read, so it never
 * holds a descriptor. `end()` sends the answer and a FIN (terminate() would reset it and lose
 * the 503). A client that had already sent its request may see a reset instead: the kernel
 * resets a connection closed with unread data.
 */
export function refuseConnection(socket: Socket<unknown>): void {
  socket.write(OVERLOADED);
  socket.end();
}
