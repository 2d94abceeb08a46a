/**
 * The OS credential store as Bun exposes it (`Bun.secrets`: macOS Keychain, libsecret on Linux,
 * Windows Credential Manager). Looked up at run time: a Bun without it must still start.
 */
export type SecretsApi = Pick<typeof Bun.secrets, "get" | "set" | "delete">;

export function osSecrets(): SecretsApi | undefined {
  return (globalThis as { Bun?: { secrets?: SecretsApi } }).Bun?.secrets;
}
