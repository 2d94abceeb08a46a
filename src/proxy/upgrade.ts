import type { Socket } from "bun";
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
 */
export interface UpgradeRelay {
  fromClient(data: Uint8Array): void;
  close(): void;
}

export function relayUpgrade(options: {
  origin: UpstreamOrigin;
  /** The handshake as it goes upstream, and whatever the client sent after it. */
  head: Uint8Array;
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
      if (!upstream.write(data)) options.pauseClient(true);
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
        if (!client.write(data)) s.pause();
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
