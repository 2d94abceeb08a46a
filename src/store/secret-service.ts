/**
 * Reading one item from the freedesktop Secret Service straight over D-Bus, the way libsecret's
 * `secret_password_lookup` does, for the hot path on Linux: open a session, search the items by
 * attribute, fetch the secret. Items are the ones `Bun.secrets` writes (schema
 * `com.oven-sh.bun.Secret`, attributes `service` and `account`), so both readers see the same data.
 *
 * Anything this reader cannot settle on its own (an item that is locked and needs an unlock prompt,
 * a service it cannot reach) is reported as `undefined` so the caller can ask libsecret instead.
 * Spec: https://specifications.freedesktop.org/secret-service/latest/
 */
import { DBusCallError, type DBusConnection } from "../io/dbus.ts";
import { utf8Text } from "../io/dbus-wire.ts";

export const BUN_SECRET_SCHEMA = "com.oven-sh.bun.Secret";
const SERVICE = {
  destination: "org.freedesktop.secrets",
  path: "/org/freedesktop/secrets",
  interface: "org.freedesktop.Secret.Service",
};

export type SecretLookup = { status: "found"; value: string } | { status: "absent" } | { status: "locked" };

/** The attributes `Bun.secrets` files an item under; libsecret adds the schema name itself. */
export function bunSecretAttributes(service: string, name: string): Record<string, string> {
  return { service, account: name, "xdg:schema": BUN_SECRET_SCHEMA };
}

/** Lookups over one bus connection and one Secret Service session. */
export interface SecretReader {
  lookup(attributes: Record<string, string>): Promise<SecretLookup>;
  close(): void;
}

export function openSecretReader(bus: DBusConnection): SecretReader {
  // "plain": the value travels in clear over the local socket to the bus daemon and back. Anyone
  // able to watch this user's session bus can as well ask the Secret Service for it directly, so
  // transport encryption adds nothing here (go-keyring, used by gh, makes the same choice).
  // OpenSession is sent now and awaited only when a secret is fetched, so it travels with the
  // first search: every round trip through the bus daemon to the keyring daemon costs a shell
  // start-up most of a millisecond.
  const session = bus
    .call({
      ...SERVICE,
      member: "OpenSession",
      signature: "sv",
      body: ["plain", { signature: "s", value: "" }],
    })
    .then((opened) => {
      const path = opened.body[1];
      if (opened.signature !== "vo" || typeof path !== "string")
        throw new Error(`OpenSession answered "${opened.signature}"`);
      return path;
    });
  session.catch(() => {}); // a lookup that needs it hears of the failure
  return {
    async lookup(attributes) {
      const found = await bus.call({
        ...SERVICE,
        member: "SearchItems",
        signature: "a{ss}",
        body: [Object.entries(attributes)],
      });
      if (found.signature !== "aoao") throw new Error(`SearchItems answered "${found.signature}"`);
      const [unlocked, locked] = found.body as [string[], string[]];
      if (unlocked.length === 0) return locked.length > 0 ? { status: "locked" } : { status: "absent" };
      const item = [...unlocked].sort()[0]!;
      const reply = await bus.call({
        destination: SERVICE.destination,
        path: item,
        interface: "org.freedesktop.Secret.Item",
        member: "GetSecret",
        signature: "o",
        body: [await session],
      });
      if (reply.signature !== "(oayays)") throw new Error(`GetSecret answered "${reply.signature}"`);
      const [, , value] = reply.body[0] as [string, Uint8Array, Uint8Array, string];
      return { status: "found", value: utf8Text(value, "the secret") };
    },
    close: () => bus.close(),
  };
}

/**
 * Whether the collection new items go to (the "default" alias) is locked. "none" when there is
 * none: a keyring daemon started by D-Bus activation on a headless machine has only its session
 * collection, and storing would need a new collection, that is a password prompt.
 */
export async function defaultCollectionState(bus: DBusConnection): Promise<"none" | "locked" | "unlocked"> {
  const alias = await bus.call({ ...SERVICE, member: "ReadAlias", signature: "s", body: ["default"] });
  const path = alias.body[0];
  if (alias.signature !== "o" || typeof path !== "string")
    throw new Error(`ReadAlias answered "${alias.signature}"`);
  if (path === "/") return "none";
  let locked;
  try {
    locked = await bus.call({
      destination: SERVICE.destination,
      path,
      interface: "org.freedesktop.DBus.Properties",
      member: "Get",
      signature: "ss",
      body: ["org.freedesktop.Secret.Collection", "Locked"],
    });
  } catch (error) {
    // An alias left pointing at a collection that is gone.
    if (error instanceof DBusCallError && /NoSuchObject|UnknownObject|UnknownMethod/.test(error.dbusName))
      return "none";
    throw error;
  }
  const value = (locked.body[0] as { value?: unknown } | undefined)?.value;
  if (typeof value !== "boolean") throw new Error(`the Locked property is not a boolean`);
  return value ? "locked" : "unlocked";
}
