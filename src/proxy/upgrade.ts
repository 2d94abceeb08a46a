import type { Socket } from "bun";
import { headEnd, MAX_HEAD_BYTES } from "./http1.ts";
import { Outbox } from "./outbox.ts";
import type { UpstreamOrigin } from "./upstream.ts";

/**
 * WebSocket handshakes (RFC 6455 §4): the same admission as any request — Host, target,
 * placeholder — then the handshake goes upstream with the real credential in place of the
 * placeholder, and from the provider's answer on the two sockets are spliced byte for byte, with
 * backpressure both ways. codex opens its Responses stream this way (`ws://…/v1/responses`) and
 * falls back to HTTPS only after five failed attempts.
 *
 * Only `Upgrade: websocket` is passed on (server.ts refuses the rest): it is the one upgrade a
 * provider API offers, and an h2c or other protocol switch would leave the proxy relaying bytes it
 * cannot check.
 *
 * Nothing the client sends after its handshake goes upstream before the provider has answered 101
 * Switching Protocols: a provider that declines (401, 400, a 200 from a plain HTTP endpoint) still
 * speaks HTTP on that connection, and the client's next bytes would be a request that passed none
 * of the checks (any Host, any path, no placeholder). Then the answer is passed on, the client's
 * bytes are dropped and the connection ends.
 */
export interface UpgradeRelay {
  fromClient(data: Uint8Array): void;
  close(): void;
}

export function relayUpgrade(options: {
  origin: UpstreamOrigin;
  /** The handshake as it goes upstream. */
  head: Uint8Array;
  /** What the client sent after its handshake, held like anything it sends next until a 101. */
  early: Uint8Array;
  /** The client's side. */
  client: Outbox;
  pauseClient(pause: boolean): void;
  /** Nothing came back from the provider: answer the client 502. */
  refuse(): void;
  relays: Set<UpgradeRelay>;
}): UpgradeRelay {
  const { origin, client } = options;
  const upstream = new Outbox(() => options.pauseClient(false));
  let socket: Socket<undefined> | undefined;
  let answered = false;
  let closed = false;
  /** Until the provider's answer head has come: undefined. Then whether it switched protocols. */
  let switched: boolean | undefined;
  let answer: Buffer | undefined;
  let held: Uint8Array[] = options.early.length ? [Uint8Array.prototype.slice.call(options.early)] : [];
  let heldBytes = options.early.length;

  const close = () => {
    if (closed) return;
    closed = true;
    options.relays.delete(relay);
    socket?.terminate();
    client.end();
  };
  const fail = () => {
    if (answered || closed) return close();
    answered = true;
    closed = true;
    options.relays.delete(relay);
    socket?.terminate();
    options.refuse();
  };
  const relay: UpgradeRelay = {
    fromClient(data) {
      if (switched === true) {
        if (!upstream.write(data)) options.pauseClient(true);
      } else if (switched === undefined) {
        // A view of a buffer Bun may reuse: keep a copy until the answer says where it goes.
        held.push(Uint8Array.prototype.slice.call(data));
        heldBytes += data.length;
        if (heldBytes > Outbox.HIGH_WATER) options.pauseClient(true);
      }
    },
    close() {
      if (closed) return;
      closed = true;
      options.relays.delete(relay);
      socket?.end();
    },
  };
  options.relays.add(relay);
  client.onDrained = () => socket?.resume();
  upstream.write(options.head);

  Bun.connect({
    hostname: origin.hostname,
    port: origin.port,
    tls: origin.tls ? { serverName: origin.hostname } : undefined,
    socket: {
      open(s) {
        socket = s;
        if (closed) return void s.terminate();
        if (!origin.tls) upstream.attach(s as Socket<unknown>);
      },
      handshake(s, success, authorizationError) {
        if (!success || authorizationError) return fail();
        upstream.attach(s as Socket<unknown>);
      },
      data(s, data) {
        answered = true;
        let out: Uint8Array = data;
        if (switched === undefined) {
          answer = answer ? Buffer.concat([answer, data]) : Buffer.from(data);
          const end = headEnd(answer);
          if (end < 0) {
            if (answer.length > MAX_HEAD_BYTES) close();
            return;
          }
          switched = /^HTTP\/1\.1 101[ \r]/.test(answer.toString("latin1", 0, 13));
          out = answer;
          answer = undefined;
          const early = held;
          held = [];
          heldBytes = 0;
          if (switched) for (const piece of early) upstream.write(piece);
          else {
            // Still HTTP: this answer is the last thing relayed (written before the end, whose
            // close ends the client's side too); the provider closes after it.
            client.write(out);
            s.end();
            return;
          }
          options.pauseClient(false);
        }
        if (!client.write(out)) s.pause();
      },
      drain: () => upstream.flush(),
      end: (s) => void s.end(),
      close: () => close(),
      error: () => fail(),
      connectError: () => fail(),
    },
  }).catch(() => fail());
  return relay;
}
