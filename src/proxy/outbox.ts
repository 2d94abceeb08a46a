import type { Socket } from "bun";
import { withoutFTL } from "./tier.ts";

/**
 * What has not been written to a Bun socket yet. `socket.write` takes what the kernel accepts now
 * and returns the count; the rest is the caller's to keep and to write on `drain`. The owner calls
 * `flush()` from its drain handler; `onDrained` runs when everything has gone, so a peer paused
 * for backpressure can be resumed.
 */
export class Outbox {
  /** Above this many queued bytes, `write` answers false: the producer should pause. */
  static readonly HIGH_WATER = 256 * 1024;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private ending = false;
  private socket: Socket<unknown> | undefined;

  /** Runs when everything queued has been written (a paused producer may go on). */
  constructor(public onDrained: () => void = () => undefined) {}

  /** Until a socket is attached (still connecting), everything is queued. */
  attach(socket: Socket<unknown>): void {
    this.socket = socket;
    this.flush();
  }

  get pending(): number {
    return this.queued;
  }

  /**
   * Writes `data`, and `more` after it in the same write (a head and its first body bytes leave in
   * one segment); false above the high-water mark.
   */
  write(data: Uint8Array, more?: Uint8Array): boolean {
    return this.send(more === undefined ? data : Buffer.concat([data, more]));
  }

  /** `write` for any number of pieces (chunked framing: size line, data, CRLF). */
  writeAll(pieces: Uint8Array[]): boolean {
    return this.send(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
  }

  private send(data: Uint8Array): boolean {
    if (data.length === 0) return this.queued < Outbox.HIGH_WATER;
    let written = 0;
    if (this.socket && this.queued === 0) written = Math.max(0, this.socket.write(data));
    if (written < data.length) {
      // The caller's buffer may be reused once it returns: keep a copy of the rest.
      this.queue.push(Uint8Array.prototype.slice.call(data, written));
      this.queued += data.length - written;
    }
    return this.queued < Outbox.HIGH_WATER;
  }

  /** Ends the socket once everything queued has been written. */
  end(): void {
    this.ending = true;
    this.flush();
  }

  flush(): void {
    const socket = this.socket;
    if (!socket) return;
    while (this.queue.length) {
      const head = this.queue[0]!;
      const n = Math.max(0, socket.write(head));
      this.queued -= n;
      if (n < head.length) {
        this.queue[0] = head.subarray(n);
        return;
      }
      this.queue.shift();
    }
    if (this.ending) socket.end();
    else this.onDrained();
  }
}

// Per-request code: see tier.ts.
withoutFTL(Outbox);
