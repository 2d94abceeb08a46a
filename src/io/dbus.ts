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
    const params = new Map(
      entry
        .slice(colon + 1)
        .split(",")
        .map((pair) => {
          const eq = pair.indexOf("=");
          return [pair.slice(0, eq), decodeURIComponent(pair.slice(eq + 1))] as [string, string];
        }),
    );
    if (params.get("path")) paths.push(params.get("path")!);
    else if (params.get("abstract")) paths.push(`\0${params.get("abstract")}`);
  }
  return paths;
}

export async function connectBus(address: string, uid: number): Promise<DBusConnection> {
  const path = socketPathsOf(address)[0];
  if (!path) throw new DBusWireError(`the bus address has no Unix socket authctl can use`);

  let buffer: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  let authenticated = false;
  let closedError: Error | undefined;
  const pending = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  let serial = 0;

  const fail = (error: Error) => {
    closedError ??= error;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };

  const drain = () => {
    if (!authenticated) {
      const end = buffer.indexOf(0x0a);
      if (end < 0) return;
      const line = new TextDecoder().decode(buffer.subarray(0, end)).trim();
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

  const socket = await Bun.connect({
    unix: path,
    socket: {
      data(_socket, chunk) {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
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
  });

  const send = (bytes: Uint8Array | string) => {
    if (closedError) throw closedError;
    socket.write(bytes);
  };

  const connection: DBusConnection = {
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
      socket.end();
    },
  };
  // The whole conversation goes out at once, as sd-bus does: the NUL byte the spec requires, AUTH,
  // BEGIN and Hello. A bus that refuses the AUTH answers REJECTED and every call made on this
  // connection fails; one that accepts answers OK and then treats the rest as messages in order.
  // Method calls may follow at once: Hello's reply comes first and the rest queue behind it.
  send(`\0AUTH EXTERNAL ${Buffer.from(String(uid)).toString("hex")}\r\nBEGIN\r\n`);
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
