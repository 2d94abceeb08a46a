/**
 * The store's typed errors. Each keeps the code, message and hint the contract gives it (so exit
 * codes and what people read do not change); callers branch on the class and its fields, never on
 * a `detail` bag or the message text.
 */
import { AuthctlError } from "../errors.ts";

/**
 * An item of an external backend (the keyring) that does not give this record its secrets:
 *  - `missing`: the index says the secrets are there, the backend has no such item;
 *  - `foreign`: another store (another AUTHCTL_HOME of the same user) has written its own login
 *    there since (`owner` names it);
 *  - `locked`: the item is there but locked, and nobody unlocked it.
 */
export class KeyringItemError extends AuthctlError {
  readonly reason: "missing" | "foreign" | "locked";
  /** The credential id. */
  readonly id: string;
  /** For `foreign`: the AUTHCTL_HOME of the store that owns the item now. */
  readonly owner?: string;

  constructor(
    reason: "missing" | "foreign" | "locked",
    id: string,
    message: string,
    options: { hint: string; owner?: string },
  ) {
    super(reason === "locked" ? "STORE_IO" : "STORE_CORRUPT", message, { hint: options.hint });
    this.reason = reason;
    this.id = id;
    this.owner = options.owner;
  }
}

/**
 * A sealed value, or a record of a sealed store, that does not authenticate with the store's
 * (right) key: altered or damaged. That credential alone is lost; the rest of the store opens.
 */
export class SealedValueError extends AuthctlError {
  readonly id: string;
  /** The sealed field (`key`, `extra.copilot_token`); undefined when the whole record does not authenticate. */
  readonly field?: string;
  readonly storePath: string;

  constructor(storePath: string, id: string, message: string, field?: string) {
    super("STORE_CORRUPT", message, { hint: `run 'authctl login ${id}' to store it again` });
    this.id = id;
    this.field = field;
    this.storePath = storePath;
  }
}

/**
 * The key that opens a sealed store is not there or is not the right one: AUTHCTL_PASSPHRASE
 * (`source: "passphrase"`) or the key file (`source: "key-file"`). Nothing sealed opens.
 */
export class StoreKeyError extends AuthctlError {
  readonly source: "passphrase" | "key-file";
  readonly reason: "missing" | "wrong";

  constructor(source: "passphrase" | "key-file", reason: "missing" | "wrong", message: string, hint: string) {
    super("STORE_CORRUPT", message, { hint });
    this.source = source;
    this.reason = reason;
  }
}
