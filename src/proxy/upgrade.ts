import { connect as connectTcp, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { connect as connectTls } from "node:tls";

/**
 * WebSocket handshakes (RFC 6455 §4): the same admission as any request — Host, target,
 * placeholder — then the handshake goes upstream with the real credential in place of the
 * placeholder, and from the provider's answer on the two sockets are spliced byte for byte.
 * codex opens its Responses stream this way (`ws://…/v1/responses`) and falls back to HTTPS only
 * after five failed attempts.
 *
 * Only `Upgrade: websocket` is passed on: it is the one upgrade a provider API offers, and an
 * h2c or other protocol switch would leave the proxy relaying bytes it cannot check.
 */
export function relayUpgrade(
  socket: Duplex,
  head: Buffer,
  /** The admitted request: upstream URL, headers with the real credential, the provider's name. */
  request: { url: string; headers: Headers; providerName: string },
  refuse: (socket: Duplex, status: number, message: string) => void,
): void {
  const target = new URL(request.url);
  const tls = target.protocol === "https:";
  const port = Number(target.port) || (tls ? 443 : 80);
  const upstream: Socket = tls
    ? connectTls({ host: target.hostname, port, servername: target.hostname, ALPNProtocols: ["http/1.1"] })
    : connectTcp(port, target.hostname);

  const lines = [
    `GET ${target.pathname}${target.search} HTTP/1.1`,
    `host: ${target.host}`,
    "connection: Upgrade",
    "upgrade: websocket",
  ];
  request.headers.forEach((value, name) => lines.push(`${name}: ${value}`));
  const handshake = `${lines.join("\r\n")}\r\n\r\n`;

  const close = () => {
    upstream.destroy();
    socket.destroy();
  };
  let answered = false;
  upstream.on("error", () => {
    if (answered) return close();
    answered = true;
    refuse(socket, 502, `${request.providerName} could not be reached`);
  });
  socket.on("error", close);
  socket.once("close", () => upstream.destroy());
  upstream.once(tls ? "secureConnect" : "connect", () => {
    answered = true;
    upstream.once("close", () => socket.destroy());
    upstream.write(handshake);
    if (head.length) upstream.write(head);
    // From here on the bytes are the two peers' business: the answer (101 or a refusal) and then
    // WebSocket frames in both directions, with backpressure both ways.
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
}
