/**
 * A minimal D-Bus client for the session bus: connect over the Unix socket named by
 * DBUS_SESSION_BUS_ADDRESS, authenticate with SASL EXTERNAL (the kernel vouches for our uid), say
 * Hello, and make method calls one after another. It exists because going through libsecret costs
 * a shell start-up about 15 ms of library loading for what is three small calls on a local socket.
 * Spec: https://dbus.freedesktop.org/doc/dbus-specification.html (Authentication Protocol,
 * Message Bus Specification).
 */
import {
  decodeMessage,
  encodeMethodCall,
  type Message,
  MESSAGE_TYPE,
  messageLength,
  type MethodCall,
  DBusWireError,
} from "./dbus-wire.ts";

export class DBusCallError extends Error {
  constructor(
    readonly dbusName: string,
    message: string,
  ) {
    super(message);
  }
}

export interface DBusConnection {
  call(call: Omit<MethodCall, "serial">): Promise<Message>;
  close(): void;
}

/**
 * The Unix socket paths of a bus address ("unix:path=/run/user/1000/bus;unix:abstract=…"), in
 * order. Abstract names start with a NUL, as Linux expects. Other transports are skipped.
 */
export function socketPathsOf(address: string): string[] {
  const paths: string[] = [];
  for (const entry of address.split(";")) {
    const colon = entry.indexOf(":");
    if (entry.slice(0, colon) !== "unix") continue;
    // The last of a repeated key counts; values are percent-decoded (a malformed escape throws).
    let path: string | undefined;
    let abstract: string | undefined;
    for (const pair of entry.slice(colon + 1).split(",")) {
      const eq = pair.indexOf("=");
      const key = pair.slice(0, eq);
      const raw = pair.slice(eq + 1);
      const value = raw.includes("%") ? decodeURIComponent(raw) : raw;
      if (key === "path") path = value;
      else if (key === "abstract") abstract = value;
    }
    if (path) paths.push(path);
    else if (abstract) paths.push(`\0${abstract}`);
  }
  return paths;
}

/** A connection whose calls may start before the socket is open (openBus). */
export interface OpeningBus extends DBusConnection {
  /** Settles when the socket is open; rejects with the connect error (ENOENT, ECONNREFUSED…). */
  ready: Promise<void>;
}

/** connectBus, once the socket is open: a bus that is not there rejects here. */
export async function connectBus(address: string, uid: number): Promise<DBusConnection> {
  const bus = openBus(address, uid);
  await bus.ready;
  return bus;
}

/**
 * A connection to the bus at `address`, returned at once: what is sent before the socket opens
 * (the authentication, Hello, the caller's first calls) is kept and goes out in one write when it
 * does. Callers can so put a whole conversation on its way before they wait for anything, and do
 * their own work while the bus answers. A connect that fails rejects every call with its error.
 */
export function openBus(address: string, uid: number): OpeningBus {
  const path = socketPathsOf(address)[0];
  if (!path) throw new DBusWireError(`the bus address has no Unix socket authctl can use`);

  let buffer: Uint8Array = new Uint8Array(0);
  let authenticated = false;
  let closedError: Error | undefined;
  const pending = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  let serial = 0;
  let socket: { write(data: Uint8Array): number; end(): void } | undefined;
  /** What was sent before the socket opened, in order. */
  let queued: Uint8Array[] | undefined = [];
  let closing = false;

  const fail = (error: Error) => {
    closedError ??= error;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };

  const drain = () => {
    if (!authenticated) {
      const end = buffer.indexOf(0x0a);
      if (end < 0) return;
      const line = String.fromCharCode(...buffer.subarray(0, end)).trim();
      buffer = buffer.subarray(end + 1);
      if (line.startsWith("OK ")) {
        authenticated = true;
      } else {
        fail(new DBusWireError(`the bus refused authentication (${line.split(" ")[0]})`));
      }
    }
    for (;;) {
      const length = messageLength(buffer);
      if (length === undefined) return;
      const message = decodeMessage(buffer.subarray(0, length));
      buffer = buffer.subarray(length);
      if (message.type !== MESSAGE_TYPE.methodReturn && message.type !== MESSAGE_TYPE.error) continue; // signals
      const waiter = message.replySerial === undefined ? undefined : pending.get(message.replySerial);
      if (!waiter) continue;
      pending.delete(message.replySerial!);
      if (message.type === MESSAGE_TYPE.error) {
        const text = typeof message.body[0] === "string" ? message.body[0] : message.errorName!;
        waiter.reject(new DBusCallError(message.errorName ?? "org.freedesktop.DBus.Error.Failed", text));
      } else {
        waiter.resolve(message);
      }
    }
  };

  const ready = Bun.connect({
    unix: path,
    socket: {
      open(opened) {
        socket = opened;
        const first = joined(queued!);
        queued = undefined;
        if (closing) opened.end();
        else if (first.length) opened.write(first);
      },
      data(_socket, chunk) {
        buffer = buffer.length === 0 ? chunk : joined([buffer, chunk]);
        try {
          drain();
        } catch (error) {
          fail(error instanceof Error ? error : new Error(String(error)));
          _socket.end();
        }
      },
      close() {
        fail(new DBusWireError("the bus closed the connection"));
      },
      error(_socket, error) {
        fail(error);
      },
    },
  }).then(
    () => {},
    (error: Error) => {
      fail(error);
      throw error;
    },
  );
  ready.catch(() => {}); // the calls hear of it; connectBus awaits it

  const send = (bytes: Uint8Array) => {
    if (closedError) throw closedError;
    if (queued) queued.push(bytes);
    else socket!.write(bytes);
  };

  const connection: OpeningBus = {
    ready,
    call(call) {
      return new Promise((resolve, reject) => {
        const message = { ...call, serial: ++serial };
        pending.set(message.serial, { resolve, reject });
        try {
          send(encodeMethodCall(message));
        } catch (error) {
          pending.delete(message.serial);
          reject(error);
        }
      });
    },
    close() {
      closing = true;
      socket?.end();
    },
  };
  // The whole conversation goes out at once, as sd-bus does: the NUL byte the spec requires, AUTH
  // (EXTERNAL: the uid, as ASCII digits in hex), BEGIN and Hello. A bus that refuses the AUTH
  // answers REJECTED and every call made on this connection fails; one that accepts answers OK and
  // then treats the rest as messages in order. Method calls may follow at once: Hello's reply comes
  // first and the rest queue behind it.
  let hexUid = "";
  for (const digit of String(uid)) hexUid += `3${digit}`;
  send(new TextEncoder().encode(`\0AUTH EXTERNAL ${hexUid}\r\nBEGIN\r\n`));
  connection
    .call({
      destination: "org.freedesktop.DBus",
      path: "/org/freedesktop/DBus",
      interface: "org.freedesktop.DBus",
      member: "Hello",
    })
    .catch(() => {
      // The error reaches every later call too; the caller hears of it there.
    });
  return connection;
}

/** The parts, one after another, in one array (one write to the socket). */
function joined(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
