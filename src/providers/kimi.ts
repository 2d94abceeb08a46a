import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "../lazy-fs.ts";
import { join } from "../lazy-path.ts";
import { version } from "../../package.json";
import { NO_REDIRECT, type HookDeps, type OAuthMethod, type ProviderDefinition } from "./types.ts";

/**
 * Kimi Code (providers.md §8): RFC 8628 device flow at auth.kimi.com with kimi-cli's X-Msh-*
 * headers (MoonshotAI/kimi-cli src/kimi_cli/auth/oauth.py _common_headers), and rotating refresh
 * tokens (serialised by the store lock like every refresh).
 */
const DEVICE_ID_FILE = "kimi-device-id";

/**
 * kimi-cli's get_device_id: a random uuid4 hex, created once and kept in a 0600 file
 * (<share>/device_id). authctl keeps it in AUTHCTL_HOME, so each install is one device, as with
 * kimi-cli. Created by a hard link from a private temp file, so two racing logins agree on one id.
 */
function deviceId(deps: HookDeps): string {
  const path = join(deps.home, DEVICE_ID_FILE);
  const read = () => {
    try {
      const text = readFileSync(path, "utf8").trim();
      return /^[0-9a-f]{32}$/.test(text) ? text : undefined;
    } catch {
      return undefined;
    }
  };
  const existing = read();
  if (existing) return existing;
  const id = Buffer.from(deps.randomBytes(16)).toString("hex");
  mkdirSync(deps.home, { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${id}.tmp`;
  writeFileSync(temp, `${id}\n`, { mode: 0o600, flag: "wx" });
  try {
    linkSync(temp, path);
    return id;
  } catch {
    // Another process made one first (or the file was damaged): use what is there when it reads.
    return read() ?? id;
  } finally {
    unlinkSync(temp);
  }
}

/** kimi-cli _ascii_header_value: header values stay ASCII. */
const ascii = (value: string) => value.replace(/[^\x20-\x7e]/g, "").trim() || "unknown";

function headers(deps: HookDeps): Record<string, string> {
  // node:os on first use: the registry, which `env` loads, imports this module (about 2 MB of
  // memory in a compiled binary).
  const {
    machine,
    release,
    type: osType,
    version: osVersion,
  } = require("node:os") as typeof import("node:os");
  return {
    // kimi-cli oauth.py _common_headers. The platform is kimi-cli's, because the auth server knows
    // it; the version is authctl's own: the server accepts other clients' values (third-party
    // proxies send their own names and versions, e.g. CLIProxyAPI's "cliproxy-workers"), and a
    // copied kimi-cli version would only go stale.
    "X-Msh-Platform": "kimi_cli",
    "X-Msh-Version": version,
    "X-Msh-Device-Name": ascii(deps.hostname()),
    // kimi-cli _device_model (MoonshotAI/kimi-cli src/kimi_cli/auth/oauth.py, read at commit
    // 4a550eff, 2026-07-16): "<platform.system()> <platform.release()> <platform.machine()>", the
    // machine as uname names it (x86_64, aarch64), which is os.machine(), not os.arch() (x64).
    // kimi-cli words macOS and Windows its own way ("macOS 15.1 arm64", "Windows 11 AMD64"):
    // authctl sends the uname form there, as it cannot read the macOS product version cheaply.
    // X-Msh-Os-Version: platform.version().
    "X-Msh-Device-Model": ascii(`${osType()} ${release()} ${machine()}`),
    "X-Msh-Os-Version": ascii(osVersion()),
    "X-Msh-Device-Id": deviceId(deps),
  };
}

const KIMI_DEVICE: OAuthMethod = {
  id: "device",
  kind: "oauth",
  label: "Kimi Code account (device code)",
  flows: ["device"],
  source: "MoonshotAI/kimi-cli src/kimi_cli/auth/oauth.py",
  policy: "uncertain (kimi-cli's own flow; third-party plugins copy it)",
  oauth: {
    // kimi-cli oauth.py: DEFAULT_OAUTH_HOST https://auth.kimi.com + /api/oauth/device_authorization and /api/oauth/token.
    deviceAuthorizationUrl: "https://auth.kimi.com/api/oauth/device_authorization",
    tokenUrl: "https://auth.kimi.com/api/oauth/token",
    // kimi-cli oauth.py KIMI_CODE_CLIENT_ID.
    clientId: "17e5f671-d194-4dfb-9706-5516cb48c098",
    scopes: [],
    ...NO_REDIRECT,
    tokenBody: "form",
  },
  // The Kimi Code API takes the OAuth access token as its bearer key.
  env: { KIMI_API_KEY: "access_token" },
  // kimi-cli refreshes in a background loop once less than max(300 s, half the lifetime) is left
  // (oauth.py _refresh_threshold at 4a550eff); authctl refreshes at use, with its one margin for
  // every provider (store/expiry.ts: 5 minutes, or half the lifetime when that is less), and a
  // caller that needs longer asks with --min-ttl. No server depends on the threshold.
  hooks: { headers },
};

export const KIMI: ProviderDefinition = {
  id: "kimi",
  name: "Kimi Code",
  hint: "Kimi Code plan: device login, or a KIMI_API_KEY",
  methods: [KIMI_DEVICE, { id: "key", kind: "api_key", label: "API key" }],
  keyVars: ["KIMI_API_KEY"],
  keySource:
    "anomalyco/models.dev providers/kimi-for-coding/provider.toml; badlogic/pi-mono packages/ai/src/env-api-keys.ts",
  // kimi-cli platforms.py _kimi_code_base_url().
  apiUrl: "https://api.kimi.com/coding/v1",
  validation: {
    path: "/models",
    auth: { kind: "bearer" },
    source: "MoonshotAI/kimi-cli src/kimi_cli/auth/platforms.py (list_models: GET {base_url}/models)",
  },
};
