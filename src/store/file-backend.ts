/** The plain file: secrets in clear in credentials.toml (0600). Used only when asked for. */
import type { IndexBackend } from "./backend.ts";
import { copyCredential, listStrings } from "./_secret-fields.ts";
import { isSealed } from "./sealed.ts";

export const fileBackend: IndexBackend<"file"> = {
  kind: "index",
  name: "file",
  label: "the plain file",
  describeLocation: (storePath) => `in the plain file ${storePath}`,
  unreadSecret: "(no secret)",
  asyncReads: false,
  inClear: true,
  usesStoreKey: false,
  seals: false,
  holds: (raw) => !listStrings(raw).some(([, value]) => isSealed(value)),
  openRecord: (_id, raw) => copyCredential(raw),
  sealRecord: (_id, credential) => credential,
};
